/**
 * A ByteSource over one stored object: the bundle reader reads uploads with ranged GETs. Every
 * failure of the store (an error, a 404 because the object went away, a cut or short body) is a
 * ByteSourceError: the reader passes it on, and ingest retries it rather than refusing the bundle.
 */
import { ByteSourceError, type ByteSource } from '../bundle/byte-source.ts';
import { readAllBytes, type ObjectInfo, type ObjectStore } from '../ports/object-store.ts';

export function openStoredObject(store: ObjectStore, key: string, info: ObjectInfo): ByteSource {
  const failed = (what: string, cause: unknown): ByteSourceError =>
    cause instanceof ByteSourceError ? cause : new ByteSourceError(`reading ${key} from storage failed (${what}): ${(cause as Error).message}`, { cause });
  return {
    size: info.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > info.size) {
        throw new RangeError(`read of ${length} bytes at ${offset} is outside ${key} (${info.size} bytes)`);
      }
      if (length === 0) return new Uint8Array(0);
      let bytes: Buffer;
      try {
        const object = await store.get(key, { range: { start: offset, end: offset + length - 1 } });
        if (object.etag !== info.etag) throw new ByteSourceError(`${key} was replaced while it was being read`);
        bytes = await readAllBytes(object.body);
      } catch (error) {
        throw failed(`${length} bytes at ${offset}`, error);
      }
      if (bytes.length !== length) throw new ByteSourceError(`short read of ${key}: ${bytes.length} of ${length} bytes`);
      return bytes;
    },
    // One ranged GET per entry, streamed: a resource or a layer is read in one request.
    async *stream(offset, length) {
      if (length === 0) return;
      let object;
      try {
        object = await store.get(key, { range: { start: offset, end: offset + length - 1 } });
      } catch (error) {
        throw failed(`${length} bytes at ${offset}`, error);
      }
      if (object.etag !== info.etag) throw new ByteSourceError(`${key} was replaced while it was being read`);
      try {
        yield* object.body;
      } catch (error) {
        throw failed(`stream of ${length} bytes at ${offset}`, error);
      }
    },
    async close() {},
  };
}
