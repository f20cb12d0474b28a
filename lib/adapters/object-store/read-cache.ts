/**
 * A store decorator that keeps chosen objects (the index objects) in memory and answers a `get`
 * of one with a HEAD and the bytes it holds, while the stored ETag is unchanged. An object is kept
 * from its second read of one version on (a writer reads each version once; /repo many times).
 * For a process that serves the same large objects many times a second (the embedded server's
 * /repo): one storage call per request still, no re-read of the body from disk, no fresh buffer
 * per request.
 *
 * Correctness rests on ETags changing with every write (the port's contract): a cached body is
 * only ever returned with the ETag it was read under, and a HEAD precedes every hit. Bounded by
 * bytes, least recently used out first; objects larger than the bound are never cached.
 */
import type { ByteRange, ObjectInfo, ObjectStore, StoredObject } from '../../ports/object-store.ts';
import { readAllBytes } from '../../ports/object-store.ts';

interface Cached {
  readonly info: ObjectInfo;
  readonly bytes: Buffer;
}

export function withReadCache(inner: ObjectStore, options: { readonly cacheable: (key: string) => boolean; readonly maxBytes: number }): ObjectStore {
  const cache = new Map<string, Cached>();
  const lastSeen = new Map<string, string>();
  let heldBytes = 0;
  const forget = (key: string): void => {
    const entry = cache.get(key);
    if (!entry) return;
    cache.delete(key);
    heldBytes -= entry.bytes.length;
  };
  const remember = (key: string, entry: Cached): void => {
    forget(key);
    if (entry.bytes.length > options.maxBytes) return;
    while (heldBytes + entry.bytes.length > options.maxBytes) {
      const oldest = cache.keys().next().value as string;
      forget(oldest);
    }
    cache.set(key, entry);
    heldBytes += entry.bytes.length;
  };
  const hit = (entry: Cached): StoredObject => ({ ...entry.info, body: single(entry.bytes) });

  return {
    name: inner.name,
    ...(inner.multipart ? { multipart: inner.multipart } : {}),
    ...(inner.sweepAbandonedWrites ? { sweepAbandonedWrites: (olderThanMs: number) => inner.sweepAbandonedWrites!(olderThanMs) } : {}),
    head: (key: string) => inner.head(key),
    async get(key: string, getOptions: { range?: ByteRange } = {}): Promise<StoredObject> {
      if (getOptions.range || !options.cacheable(key)) return inner.get(key, getOptions);
      const entry = cache.get(key);
      if (entry) {
        const info = await inner.head(key);
        if (info && info.etag === entry.info.etag) {
          // Most recently used goes last.
          cache.delete(key);
          cache.set(key, entry);
          return hit(entry);
        }
        forget(key);
      }
      const object = await inner.get(key);
      if (lastSeen.get(key) !== object.etag) {
        // Read once so far: not worth memory yet.
        lastSeen.set(key, object.etag);
        return object;
      }
      const bytes = await readAllBytes(object.body, object.size);
      const { body: _body, ...info } = object;
      remember(key, { info, bytes });
      return { ...info, body: single(bytes) };
    },
    put: async (...args: Parameters<ObjectStore['put']>) => {
      forget(args[0]);
      return inner.put(...args);
    },
    ...(inner.compose
      ? {
          compose: async (...args: Parameters<NonNullable<ObjectStore['compose']>>) => {
            forget(args[0]);
            return inner.compose!(...args);
          },
        }
      : {}),
    ...(inner.putSegments
      ? {
          putSegments: async (...args: Parameters<NonNullable<ObjectStore['putSegments']>>) => {
            forget(args[0]);
            return inner.putSegments!(...args);
          },
        }
      : {}),
    ...(inner.copyRange
      ? {
          copyRange: async (...args: Parameters<NonNullable<ObjectStore['copyRange']>>) => {
            forget(args[0]);
            return inner.copyRange!(...args);
          },
        }
      : {}),
    ...(inner.checksumsOfRange ? { checksumsOfRange: (...args: Parameters<NonNullable<ObjectStore['checksumsOfRange']>>) => inner.checksumsOfRange!(...args) } : {}),
    delete: async (key: string) => {
      forget(key);
      return inner.delete(key);
    },
    list: (...args: Parameters<ObjectStore['list']>) => inner.list(...args),
    presign: (...args: Parameters<ObjectStore['presign']>) => inner.presign(...args),
  };
}

async function* single(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
