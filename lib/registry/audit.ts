/**
 * The audit trail: one small append-only object per management action, stored beside the data
 * (`audit/<yyyy-mm-dd>/<time>-<random>.json`): who (a token fingerprint, never the token), what,
 * when, on which package, with which bundle digest, and how it ended.
 */
import { randomBytes } from 'node:crypto';
import type { RegistryContext } from './context.ts';

export const AUDIT_PREFIX = 'audit/';

export interface AuditEntry {
  readonly actor: string;
  /** The scope the actor's credential holds (read, write, admin), when it showed one. */
  readonly scope?: string;
  readonly action: string;
  readonly outcome: 'ok' | 'refused' | 'failed';
  readonly package?: { readonly name: string; readonly version: string };
  readonly uploadId?: string;
  readonly contentDigest?: string;
  readonly reason?: string;
}

export async function recordAudit(context: RegistryContext, entry: AuditEntry): Promise<void> {
  const time = context.now();
  const iso = time.toISOString();
  const key = `${AUDIT_PREFIX}${iso.slice(0, 10)}/${iso.replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.json`;
  try {
    await context.store.put(key, Buffer.from(JSON.stringify({ time: iso, ...entry })), { contentType: 'application/json', ifNoneMatch: '*' });
  } catch (error) {
    // The action itself succeeded or failed on its own; a lost audit line is logged, not fatal.
    context.log.error('audit entry not written', { action: entry.action, error });
  }
}
