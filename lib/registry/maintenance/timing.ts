/** How long work may go without a sign of life before it is taken for dead. */
import type { ObjectInfo } from '../../ports/object-store.ts';
import type { RegistrySettings } from '../context.ts';
import { TRANSIENT_UPLOAD_STATES, type UploadRecord } from '../records.ts';

/** A transient record or lease not refreshed for this long belongs to work that died. */
export const staleAfterMs = (settings: Pick<RegistrySettings, 'staleAfterSeconds'>): number => settings.staleAfterSeconds * 1000;

/** How often live work refreshes its record or lease: well inside the stale age. */
export const heartbeatMs = (settings: Pick<RegistrySettings, 'staleAfterSeconds'>): number => Math.max(250, Math.floor(staleAfterMs(settings) / 4));

/**
 * An upload in a transient state that no work will move on any more: Validating with no heartbeat
 * for the stale age, or Uploading past its upload URL's lifetime (no PUT can arrive after it).
 */
export function isStuckUpload(upload: UploadRecord, now: number, settings: Pick<RegistrySettings, 'staleAfterSeconds' | 'uploadUrlLifetimeSeconds'>): boolean {
  if (!TRANSIENT_UPLOAD_STATES.has(upload.status)) return false;
  const limit = upload.status === 'Uploading' ? settings.uploadUrlLifetimeSeconds * 1000 + staleAfterMs(settings) : staleAfterMs(settings);
  return now - Date.parse(upload.updatedAt) >= limit;
}

/**
 * The bundle of an upload that ended more than the stale age ago is a leftover (a crash between
 * the outcome and the delete). One written after the upload ended is a new drop, not this one's.
 */
export function isLeftOverBundle(upload: UploadRecord, bundle: ObjectInfo | undefined, now: number, settings: Pick<RegistrySettings, 'staleAfterSeconds'>): boolean {
  if (!bundle || TRANSIENT_UPLOAD_STATES.has(upload.status)) return false;
  const endedAt = Date.parse(upload.updatedAt);
  return now - endedAt >= staleAfterMs(settings) && bundle.lastModified.getTime() <= endedAt;
}
