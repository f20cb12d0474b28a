/**
 * How a bundle is written to storage (an upload's PUT, a file in the drop folder): in segments,
 * its large stored members apart, so that ingest can place each member at its content address
 * with a copy inside the store (on a directory, a hard link) instead of writing its bytes again.
 * On a store that keeps no segments this is a plain put of the same bytes.
 */
import { storedMemberSegments } from '../bundle/zip/stored-member-segments.ts';
import { putInSegments, type ObjectStore, type PutOptions } from '../ports/object-store.ts';

export function putBundle(store: ObjectStore, key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<{ etag: string }> {
  return putInSegments(store, key, storedMemberSegments(body), options);
}
