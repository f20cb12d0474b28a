/**
 * The published repository as the rest of the registry sees it: change it (index-store/ does the
 * assembling), or read it whole for checks. Requests never come here: serve.ts streams the stored
 * objects as they are.
 */
import type { ObjectStore } from '../ports/object-store.ts';
import type { RepositoryDocument } from './index-document.ts';
import { commitIndexChange, INDEX_METADATA, readPublishedDocument, type IndexChange, type IndexHosts } from './index-store/index-writer.ts';
import type { IndexRow } from './index-store/index-table.ts';

export { INDEX_METADATA, type IndexChange, type IndexRow };
export { entryPieceOf, entryPiecesOf } from './index-store/entry-pieces.ts';
export { ensureMediaObjectsCurrent } from './index-store/index-writer.ts';

export interface PublishedIndex {
  readonly document: RepositoryDocument;
  readonly etag: string;
  readonly publicBaseUrl: string;
}

/** The whole v5 document, decoded (fsck, tests). */
export async function readPublishedIndex(store: ObjectStore): Promise<PublishedIndex | undefined> {
  const published = await readPublishedDocument(store);
  return published && { document: published.document, etag: published.etag, publicBaseUrl: published.metadata[INDEX_METADATA.publicBaseUrl] ?? '' };
}

/**
 * Commits the change `decide` picks from the current rows, retrying from a fresh read whenever
 * another writer committed in between; `decide` runs after every read of the index, so a writer
 * that re-checks a package record there can never add an entry a removal already took out.
 */
export function updatePublishedIndex(
  store: ObjectStore,
  hosts: IndexHosts,
  decide: (rows: readonly IndexRow[]) => IndexChange | undefined | Promise<IndexChange | undefined>,
  options: { replacesAll?: boolean } = {},
): Promise<{ entries: number; bytes: number; published: boolean }> {
  return commitIndexChange(store, hosts, decide, options);
}
