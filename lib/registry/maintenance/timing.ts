/** How long work may go without a sign of life before it is taken for dead. */
import type { RegistrySettings } from '../context.ts';

/** A transient record or lease not refreshed for this long belongs to work that died. */
export const staleAfterMs = (settings: Pick<RegistrySettings, 'staleAfterSeconds'>): number => settings.staleAfterSeconds * 1000;

/** How often live work refreshes its record or lease: well inside the stale age. */
export const heartbeatMs = (settings: Pick<RegistrySettings, 'staleAfterSeconds'>): number => Math.max(250, Math.floor(staleAfterMs(settings) / 4));
