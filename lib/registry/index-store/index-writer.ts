/**
 * Changing the published index, at the cost of the change: the entries already published are
 * reused as the compressed bytes they are stored as (sliced out of the v5 object by the table),
 * never parsed, re-serialised or re-compressed. What grows with the repository is copying bytes
 * and one table of small rows.
 *
 * Commit protocol. The v5 object is the commit point: it is replaced only by compare-and-swap on
 * its ETag, so two writers never lose each other's entries. Before it, the table it is laid out
 * from is written under its own digest (and the views stored apart, where configured; written
 * again when the digest is reused, so collection, which deletes unnamed ones by age, sees them
 * young; test/fault/review9-gc-reused-table.test.ts). After it, the v4
 * and v3 objects are derived from the same pieces and written only over an older generation, so a
 * slow writer never puts back an older index. A writer that dies between the commit and the
 * derivation leaves v4/v3 one generation behind (each still a consistent index); the job that
 * committed is re-run (its record is still Processing or Removing) or the reconciler's pass
 * (`ensureMediaObjectsCurrent`) derives them again (test/fault/fsck.test.ts,
 * review9-concurrent-writers.test.ts).
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { RegistryError } from '../../domain/errors.ts';
import { bufferView, composeObject, ObjectNotFoundError, PreconditionFailedError, readAllBytes, type ComposedPart, type ObjectStore, type PutOptions } from '../../ports/object-store.ts';
import { REPO_MEDIA_TYPE_PREFIX, type RepositoryDocument, type RepoVersion } from '../index-document.ts';
import { readJson } from '../json-objects.ts';
import { INDEX_KEY, indexTableKey, indexViewKey, mediaObjectKey } from '../layout.ts';
import { nextTurn } from '../../support/turns.ts';
import { entryPieceOf } from './entry-pieces.ts';
import { INDEX_METADATA } from './published-index.ts';

export { INDEX_METADATA, readPublishedDocument } from './published-index.ts';
import { parseGzipHeader } from './gzip-segments.ts';
import { compareRows, decodeTable, MAX_DCOS_THRESHOLDS, serialiseTable, type IndexRow, type StoredTable } from './index-table.ts';
import { buildRepositoryObject, COMMA, parseDescription, slicesOf, viewTail, type BuiltObject, type EntryPiece, type ViewClass } from './repository-object.ts';
import { composedParts, sourceOf, type PieceSource } from './stored-pieces.ts';

export interface IndexHosts {
  readonly publicBaseUrl: string;
  readonly dockerHost: string;
  /**
   * Where responses are size-limited (Lambda), views larger than this are also stored as objects
   * of their own, before the commit, so a presigned URL can hand each out whole.
   */
  readonly materializeViewsAbove?: number;
}

export interface CurrentIndex {
  readonly etag: string;
  readonly generation: number;
  /** In table order; slices of the object as read (valid until `release`). */
  readonly pieces: readonly EntryPiece[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Gives the memory the object was read into back for the next read; the pieces die with it. */
  readonly release: () => void;
  /** Keeps that memory out of the pool for good: the pieces outlive this read (see lastCommitted). */
  readonly retain: () => void;
  /** Where the pieces lie in the stored v5 object (undefined: an object of an older layout). */
  readonly source?: PieceSource;
}

/**
 * What this process committed last, per store: the pieces of the v5 object it wrote and that
 * object's ETag. A writer that publishes again (the embedded server, a warm Lambda) finds the index
 * as it left it when the ETag still matches, and so reads none of it: without this every publish
 * read the whole object back, fresh memory each time, which cost more than writing it. The ETag
 * names the bytes, so another writer's commit (or any other write of the object) is seen and the
 * object read again (test/unit/registry/index-store/assembled-index.test.ts). Held until the next
 * commit; the slices keep the buffer they were read into alive, holes of removed entries included
 * (at most the one read plus the pieces published since).
 */
const lastCommitted = new WeakMap<ObjectStore, { readonly etag: string; readonly generation: number; readonly pieces: readonly EntryPiece[]; readonly source: PieceSource }>();
const nothingToRelease = (): void => undefined;

/**
 * Memory the v5 object is read into, kept for the next read: a writer reads the whole index on
 * every change, and a fresh buffer of that size costs its page faults each time (3 ms per MiB on
 * the sandboxes measured here), far more than the copy.
 */
const scratchPool: Buffer[] = [];

async function readIntoScratch(body: AsyncIterable<Uint8Array>, size: number): Promise<Buffer> {
  const index = scratchPool.findIndex((buffer) => buffer.length >= size);
  const scratch = index >= 0 ? scratchPool.splice(index, 1)[0]! : Buffer.allocUnsafe(Math.ceil((size * 1.05) / 65536) * 65536);
  try {
    return await readAllBytes(body, size, scratch);
  } catch (error) {
    releaseScratch(scratch);
    throw error;
  }
}

function releaseScratch(buffer: Buffer): void {
  const whole = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.buffer.byteLength - buffer.byteOffset);
  // A couple are enough (two writers in one process); more would only hold memory.
  if (scratchPool.length < 2) scratchPool.push(whole);
}

/** What a writer does to the entries it read: take some out and add some, or replace them all. */
export type IndexChange =
  | { readonly kind: 'edit'; readonly remove?: (row: IndexRow) => boolean; readonly add?: readonly EntryPiece[] }
  | { readonly kind: 'replace'; readonly pieces: readonly EntryPiece[] };

const gunzipAsync = promisify(gunzip);


/**
 * Only the rows and the version of the v5 object, without its bytes: what a change that replaces
 * every entry (a reindex) needs. Undefined when the object predates the table (read it whole).
 */
async function readCurrentRows(store: ObjectStore): Promise<CurrentIndex | undefined | 'legacy'> {
  const info = await store.head(INDEX_KEY);
  if (!info) return undefined;
  const table = info.metadata[INDEX_METADATA.table];
  const stored = table ? await readJson<StoredTable>(store, indexTableKey(table)) : undefined;
  if (!stored) return 'legacy';
  const pieces = (await decodeTable(stored.value)).map((row) => ({ row, deflated: Buffer.alloc(0) }));
  return { etag: info.etag, generation: Number(info.metadata[INDEX_METADATA.generation] ?? 0), pieces, metadata: info.metadata, release: nothingToRelease, retain: nothingToRelease };
}

/** The v5 object and its entries as pieces; undefined when nothing was ever published. */
export async function readCurrentIndex(store: ObjectStore): Promise<CurrentIndex | undefined> {
  const committed = lastCommitted.get(store);
  if (committed) {
    const info = await store.head(INDEX_KEY);
    if (info?.etag === committed.etag) {
      return { etag: info.etag, generation: committed.generation, pieces: committed.pieces, metadata: info.metadata, release: nothingToRelease, retain: nothingToRelease, source: committed.source };
    }
    lastCommitted.delete(store);
  }
  let object;
  try {
    object = await store.get(INDEX_KEY);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  const bytes = await readIntoScratch(object.body, object.size);
  const description = parseDescription(parseGzipHeader(bytes)?.comment);
  if (description) {
    const table = await readJson<StoredTable>(store, indexTableKey(description.table));
    const pieces = table ? await slicesOf(bytes, await decodeTable(table.value)) : undefined;
    if (pieces) {
      let retained = false;
      return {
        source: { key: INDEX_KEY, etag: object.etag, dataOffset: parseGzipHeader(bytes)!.dataOffset, pieces },
        etag: object.etag,
        generation: description.generation,
        pieces,
        metadata: object.metadata,
        release: () => {
          if (!retained) releaseScratch(bytes);
        },
        retain: () => {
          retained = true;
        },
      };
    }
  }
  // Written before this layout (or its table is gone): its entries are compressed once, here,
  // and the next commit stores them in the layout.
  const document = JSON.parse((await gunzipAsync(bytes)).toString('utf8')) as RepositoryDocument;
  releaseScratch(bytes);
  const pieces: EntryPiece[] = [];
  for (const entry of document.packages) pieces.push(await entryPieceOf(entry, { validate: false }));
  pieces.sort((a, b) => compareRows(a.row, b.row));
  return { etag: object.etag, generation: description?.generation ?? 0, pieces, metadata: object.metadata, release: nothingToRelease, retain: nothingToRelease };
}

function insertOrdered(ordered: EntryPiece[], piece: EntryPiece): void {
  let low = 0;
  let high = ordered.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareRows(ordered[middle]!.row, piece.row) <= 0) low = middle + 1;
    else high = middle;
  }
  ordered.splice(low, 0, piece);
}

function applyChange(current: readonly EntryPiece[], change: IndexChange): EntryPiece[] {
  if (change.kind === 'replace') return [...change.pieces].sort((a, b) => compareRows(a.row, b.row));
  const next = change.remove ? current.filter((piece) => !change.remove!(piece.row)) : [...current];
  for (const piece of change.add ?? []) insertOrdered(next, piece);
  return next;
}

/**
 * The parts as few chunks as possible, copying nothing: slices that lie next to each other in the
 * object they were read from are one slice again (with the separator between them, which is
 * checked to be there). Small chunks are the store's to batch (a directory copies them into one
 * write buffer, S3 into its parts): joining them here made an object's worth of garbage per put.
 */
async function* inChunks(parts: readonly Buffer[]): AsyncGenerator<Buffer> {
  let run: Buffer | undefined;
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index]!;
    if (run && adjacent(run, part)) {
      run = Buffer.from(run.buffer, run.byteOffset, run.length + part.length);
      continue;
    }
    const after = parts[index + 1];
    if (run && part === COMMA.deflated && after && adjacent(run, after, part)) {
      run = Buffer.from(run.buffer, run.byteOffset, run.length + part.length + after.length);
      index++;
      continue;
    }
    if (run) yield run;
    run = part;
  }
  if (run) yield run;
}

/** `next` starts where `run` ends in the same memory (after `between`, if given, whose bytes are there). */
function adjacent(run: Buffer, next: Buffer, between?: Buffer): boolean {
  if (run.buffer !== next.buffer) return false;
  const gap = between?.length ?? 0;
  if (run.byteOffset + run.length + gap !== next.byteOffset) return false;
  if (!between) return true;
  const memory = Buffer.from(run.buffer, run.byteOffset + run.length, gap);
  return memory.equals(between);
}

const objectMetadata = (hosts: IndexHosts, built: BuiltObject): Record<string, string> => ({
  [INDEX_METADATA.entries]: String(built.entries),
  [INDEX_METADATA.publicBaseUrl]: hosts.publicBaseUrl,
  [INDEX_METADATA.dockerHost]: hosts.dockerHost,
  [INDEX_METADATA.generation]: String(built.description.generation),
  [INDEX_METADATA.table]: built.description.table,
});

function putOptions(media: RepoVersion, metadata: Record<string, string>, size: number) {
  return { contentType: `${REPO_MEDIA_TYPE_PREFIX}${media}`, contentEncoding: 'gzip', contentLength: size, metadata };
}

/**
 * Reads the index, lets `decide` choose a change from its rows (it runs after every read, so what
 * it re-reads, a package record say, is at least as new as that index), and commits the result,
 * retrying from a fresh read when another writer committed in between. `decide` returns
 * undefined to commit nothing.
 */
export async function commitIndexChange(
  store: ObjectStore,
  hosts: IndexHosts,
  decide: (rows: readonly IndexRow[]) => IndexChange | undefined | Promise<IndexChange | undefined>,
  options: { replacesAll?: boolean } = {},
): Promise<{ entries: number; bytes: number; published: boolean }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // A change that replaces every entry reuses none: the rows are enough (no read of the object).
    const rows = options.replacesAll ? await readCurrentRows(store) : 'legacy';
    const current = rows === 'legacy' ? await readCurrentIndex(store) : rows;
    try {
      const outcome = await commitOnce(store, hosts, decide, current, rows !== 'legacy');
      if (outcome) return outcome;
    } finally {
      current?.release();
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
  }
  throw new RegistryError('IndexContention', 'The repository index is being changed too often to publish; try again', {}, { source: 'internal' });
}

/** One attempt: the outcome, or undefined when another writer committed first. */
async function commitOnce(
  store: ObjectStore,
  hosts: IndexHosts,
  decide: (rows: readonly IndexRow[]) => IndexChange | undefined | Promise<IndexChange | undefined>,
  current: CurrentIndex | undefined,
  rowsOnly: boolean,
): Promise<{ entries: number; bytes: number; published: boolean } | undefined> {
  const change = await decide((current?.pieces ?? []).map((piece) => piece.row));
  if (change === undefined) return { entries: current?.pieces.length ?? 0, bytes: 0, published: false };
  // Read without its bytes: only a change that keeps none of the current pieces can be applied.
  if (rowsOnly && change.kind !== 'replace') throw new Error('a change said to replace all entries must replace them');
  const pieces = applyChange(current?.pieces ?? [], change);
  const thresholds = new Set(pieces.map((piece) => piece.row.minDcos));
  if (thresholds.size > MAX_DCOS_THRESHOLDS + 1) {
    throw new RegistryError('InvalidIndex', `The repository would hold more than ${MAX_DCOS_THRESHOLDS} distinct minDcosReleaseVersion values (each is a view of it)`, { thresholds: thresholds.size }, { source: 'internal' });
  }
  const generation = (current?.generation ?? 0) + 1;
  await nextTurn();
  const table = await serialiseTable(pieces.map((piece) => piece.row));
  const digest = createHash('sha256').update(table).digest('hex');
  const reused = await putTable(store, indexTableKey(digest), table);
  const objects: BuiltObject[] = [];
  for (const media of ['v5', 'v4', 'v3'] as const) {
    // A turn between layouts (each also yields every thousand entries: repository-object.ts).
    await nextTurn();
    objects.push(await buildRepositoryObject(pieces, media, generation, digest));
  }
  if (hosts.materializeViewsAbove !== undefined) await materializeViews(store, objects, digest, hosts.materializeViewsAbove, reused);
  const built = objects[0]!;
  let committed;
  try {
    committed = await writeRepositoryObject(store, INDEX_KEY, built, current?.source, {
      ...putOptions('v5', objectMetadata(hosts, built), built.size),
      ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    return undefined;
  }
  // Entries kept from the current index are slices of the memory it was read into.
  current?.retain();
  const source = sourceOf(built, INDEX_KEY, committed.etag);
  lastCommitted.set(store, { etag: committed.etag, generation, pieces, source });
  await deriveMediaObjects(store, hosts, objects.slice(1), source);
  return { entries: pieces.length, bytes: built.size, published: true };
}

/**
 * Writes a table under its digest. When it was there already (the index went back to a set of
 * entries it had before), it is written again anyway: collection judges these by the age of their
 * last write, and an old one about to be named again must look as young as a new one. Returns
 * whether it was there (its views must then be refreshed too).
 */
async function putTable(store: ObjectStore, key: string, body: Buffer): Promise<boolean> {
  try {
    await store.put(key, body, { contentType: 'application/json', ifNoneMatch: '*' });
    return false;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  await store.put(key, body, { contentType: 'application/json' });
  return true;
}

/** Bytes of a view stored on its own: header, prefix, tail (repository-object.ts). */
const storedViewSize = (view: ViewClass): number => 10 + view.end + viewTail(view).length;

/**
 * Views too large to send inline, each stored whole under the table's digest; `refresh` writes
 * them again even when present (see putTable).
 */
async function materializeViews(store: ObjectStore, objects: readonly BuiltObject[], table: string, limit: number, refresh = false): Promise<void> {
  for (const built of objects) {
    for (const view of built.description.classes.slice(0, -1)) {
      const size = storedViewSize(view);
      const key = indexViewKey(table, built.description.media, view.id);
      if (size <= limit || (!refresh && (await store.head(key)))) continue;
      await store.put(key, inChunks(built.viewParts(view)), { contentType: `${REPO_MEDIA_TYPE_PREFIX}${built.description.media}`, contentEncoding: 'gzip', contentLength: size });
    }
  }
}

/** Whether a view that should be stored on its own (above `limit`) is missing, read from the objects' headers alone. */
export async function viewsMissing(store: ObjectStore, limit: number): Promise<boolean> {
  for (const media of ['v5', 'v4', 'v3'] as const) {
    let header;
    try {
      const object = await store.get(mediaObjectKey(media), { range: { start: 0, end: 64 * 1024 - 1 } });
      header = parseGzipHeader(await readAllBytes(object.body));
    } catch (error) {
      if (error instanceof ObjectNotFoundError) continue;
      throw error;
    }
    const description = parseDescription(header?.comment);
    if (!description) continue;
    for (const view of description.classes.slice(0, -1)) {
      if (storedViewSize(view) > limit && !(await store.head(indexViewKey(description.table, media, view.id)))) return true;
    }
  }
  return false;
}

/**
 * Writes a repository object, taking the entries `source` holds from there where the store can
 * compose (stored-pieces.ts); every byte is handed to it either way.
 */
function writeRepositoryObject(store: ObjectStore, key: string, built: BuiltObject, source: PieceSource | undefined, options: PutOptions): Promise<{ etag: string }> {
  const parts: readonly ComposedPart[] = composedParts(built, source);
  return composeObject(store, key, parts, options, (bytes) => inChunks(bytes.map(bufferView)));
}

/** The v4 and v3 objects of a committed generation, each written only over an older one, from the v5 object's pieces. */
async function deriveMediaObjects(store: ObjectStore, hosts: IndexHosts, objects: readonly BuiltObject[], source: PieceSource | undefined): Promise<void> {
  for (const built of objects) {
    const { media, generation } = built.description;
    const key = mediaObjectKey(media);
    for (let attempt = 0; attempt < 20; attempt++) {
      const stored = await store.head(key);
      if (stored && Number(stored.metadata[INDEX_METADATA.generation] ?? 0) >= generation) break;
      try {
        await writeRepositoryObject(store, key, built, source, {
          ...putOptions(media, objectMetadata(hosts, built), built.size),
          ...(stored ? { ifMatch: stored.etag } : { ifNoneMatch: '*' as const }),
        });
        break;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
  }
}

/**
 * Makes the v4 and v3 objects match the committed v5 one (after a writer died between the two),
 * and moves an index written before this layout into it. Cheap when all is well: three HEADs.
 * Returns whether anything was written.
 */
export async function ensureMediaObjectsCurrent(store: ObjectStore, hosts: IndexHosts): Promise<boolean> {
  const primary = await store.head(INDEX_KEY);
  if (!primary) return false;
  const generation = Number(primary.metadata[INDEX_METADATA.generation] ?? 0);
  // The hosts the index was written for (a changed public URL is the next publish's to apply);
  // how views are stored is this deployment's.
  const written: IndexHosts = {
    publicBaseUrl: primary.metadata[INDEX_METADATA.publicBaseUrl] ?? hosts.publicBaseUrl,
    dockerHost: primary.metadata[INDEX_METADATA.dockerHost] ?? hosts.dockerHost,
    ...(hosts.materializeViewsAbove !== undefined ? { materializeViewsAbove: hosts.materializeViewsAbove } : {}),
  };
  if (!primary.metadata[INDEX_METADATA.table] || generation === 0) {
    // An index of an older layout: one commit that changes nothing stores it in this one.
    await commitIndexChange(store, written, () => ({ kind: 'edit' }));
    return true;
  }
  const behind: RepoVersion[] = [];
  for (const media of ['v4', 'v3'] as const) {
    const stored = await store.head(mediaObjectKey(media));
    if (!stored || Number(stored.metadata[INDEX_METADATA.generation] ?? 0) < generation) behind.push(media);
  }
  const missingViews = hosts.materializeViewsAbove !== undefined && (await viewsMissing(store, hosts.materializeViewsAbove));
  if (behind.length === 0 && !missingViews) return false;
  const current = await readCurrentIndex(store);
  if (!current) return false;
  try {
    // Each layout once: the ones behind, or all three when a view is missing; views before the
    // objects that name them, as at a commit.
    const table = current.metadata[INDEX_METADATA.table] ?? '';
    const objects: BuiltObject[] = [];
    for (const media of missingViews ? (['v5', 'v4', 'v3'] as const) : behind) objects.push(await buildRepositoryObject(current.pieces, media, current.generation, table));
    if (hosts.materializeViewsAbove !== undefined) await materializeViews(store, objects, table, hosts.materializeViewsAbove);
    await deriveMediaObjects(store, written, objects.filter((built) => behind.includes(built.description.media)), current.source);
  } finally {
    current.release();
  }
  return true;
}
