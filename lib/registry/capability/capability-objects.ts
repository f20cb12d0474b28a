/**
 * A capability view too large for a Lambda's inline answer, stored so it can be handed out by a
 * presigned URL: one object per token, stored view and index version
 * (`index/capability/<fingerprint>/<view>/<version>.json.gz`), made by the first request that
 * needs it. Writing one removes the older versions beside it, so each token keeps at most one
 * object per view; a concurrent request writes the same bytes (the key names the version).
 */
import { createHash } from 'node:crypto';
import type { RegistryContext } from '../context.ts';
import type { RepositoryView } from '../index-store/index-reader.ts';
import { listAllKeys } from '../json-objects.ts';
import { CAPABILITY_VIEWS_PREFIX } from '../layout.ts';
import { capabilityBody } from './capability-view.ts';

const short = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 24);

export async function storedCapabilityView(
  context: RegistryContext,
  view: RepositoryView,
  prefixes: { from: Buffer; to: Buffer },
  fingerprint: string,
  etag: string,
  contentType: string,
): Promise<string | undefined> {
  const slot = `${CAPABILITY_VIEWS_PREFIX}${fingerprint.replace(/^token:/, '')}/${short(view.objectKey)}/`;
  const key = `${slot}${short(etag)}.json.gz`;
  if (await context.store.head(key)) {
    view.discard();
  } else {
    await context.store.put(key, capabilityBody(view.body, prefixes, { gzip: true }), { contentType, contentEncoding: 'gzip' });
    for (const older of await listAllKeys(context.store, slot)) {
      if (older !== key) await context.store.delete(older).catch((error: unknown) => context.log.warn('an older capability view was not removed', { key: older, error }));
    }
  }
  return context.store.presign('GET', key, { expiresIn: 300, responseContentType: contentType });
}
