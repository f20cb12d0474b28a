/**
 * Garbage collection of content-addressed files (resources, image blobs), online: no freeze of
 * uploads, no walk over the blobs. Removal marks what lost its last user as a candidate; collection
 * deletes a candidate only if, after the grace window, still no package references it. An ingest
 * writes its reference markers before it checks that a file exists, so one that starts using a
 * candidate within the window keeps it.
 */
import type { RegistryContext } from './context.ts';
import { listAllKeys } from './json-objects.ts';
import { contentKey, GC_PREFIX, gcCandidateKey, resourceReferencePrefix, type StoredContentKind } from './layout.ts';

export interface CollectionReport {
  readonly deleted: number;
  readonly kept: number;
  readonly waiting: number;
}

/** Marks content that no package references any more as a candidate for collection. */
export async function markIfUnreferenced(context: RegistryContext, kind: StoredContentKind, sha256: string): Promise<void> {
  const users = await context.store.list(resourceReferencePrefix(sha256), { limit: 1 });
  if (users.objects.length === 0) await context.store.put(gcCandidateKey(kind, sha256), new Uint8Array(0));
}

export async function collectGarbage(context: RegistryContext): Promise<CollectionReport> {
  const now = context.now().getTime();
  let deleted = 0;
  let kept = 0;
  let waiting = 0;
  for (const key of await listAllKeys(context.store, GC_PREFIX)) {
    const [, kind, sha256] = key.split('/') as [string, StoredContentKind, string];
    if ((kind !== 'resources' && kind !== 'image-blobs') || !/^[0-9a-f]{64}$/.test(sha256 ?? '')) continue;
    const candidate = await context.store.head(key);
    if (!candidate) continue;
    const users = await context.store.list(resourceReferencePrefix(sha256), { limit: 1 });
    if (users.objects.length > 0) {
      // Used again since it was marked: no longer a candidate.
      await context.store.delete(key);
      kept++;
      continue;
    }
    if (now - candidate.lastModified.getTime() < context.settings.gcGraceSeconds * 1000) {
      waiting++;
      continue;
    }
    await context.store.delete(contentKey(kind, sha256));
    await context.store.delete(key);
    deleted++;
  }
  context.log.info('garbage collected', { deleted, kept, waiting });
  return { deleted, kept, waiting };
}
