/** A ByteSource over one stored object: the bundle reader reads uploads with ranged GETs. */
import type { ByteSource } from '../bundle/byte-source.ts';
import { readAllBytes, type ObjectStore } from '../ports/object-store.ts';

export async function openStoredObject(store: ObjectStore, key: string): Promise<{ source: ByteSource; etag: string } | undefined> {
  const info = await store.head(key);
  if (!info) return undefined;
  const source: ByteSource = {
    size: info.size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > info.size) {
        throw new RangeError(`read of ${length} bytes at ${offset} is outside ${key} (${info.size} bytes)`);
      }
      if (length === 0) return new Uint8Array(0);
      const object = await store.get(key, { range: { start: offset, end: offset + length - 1 } });
      const bytes = await readAllBytes(object.body);
      if (bytes.length !== length) throw new RangeError(`short read of ${key}: ${bytes.length} of ${length} bytes`);
      return bytes;
    },
    // One ranged GET per entry, streamed: a resource or a layer is read in one request.
    async *stream(offset, length) {
      if (length === 0) return;
      const object = await store.get(key, { range: { start: offset, end: offset + length - 1 } });
      yield* object.body;
    },
    async close() {},
  };
  return { source, etag: info.etag };
}
