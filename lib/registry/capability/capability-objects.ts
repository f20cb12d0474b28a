/**
 * A capability view too large for a Lambda's inline answer, stored so it can be handed out by a
 * presigned URL: one object per token, stored view and index version
 * (`index/capability/<fingerprint>/<view>/<version>.json.gz`), made by the first request that
 * needs it; a concurrent request for the same version writes the same bytes (the key names the
 * version). Nothing is removed here (a request for an older version must not delete the object
 * another was just sent to): they are caches, and garbage collection removes every one older
 * than its grace window (the next request makes it again).
 */
import { createHash } from 'node:crypto';
import type { RegistryContext } from '../context.ts';
import type { RepositoryView } from '../index-store/index-reader.ts';
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
  if (await context.store.head(key)) view.discard();
  else await context.store.put(key, capabilityBody(view.body, prefixes, { gzip: true }), { contentType, contentEncoding: 'gzip' });
  return context.store.presign('GET', key, { expiresIn: 300, responseContentType: contentType });
}
