/**
 * Object storage in a local directory: the original's "local storage" and "mount volume".
 *
 * Each object is one file, `<root>/<key>.obj`: the content followed by a trailer holding its
 * metadata (`[content][header JSON][u32 header length][8-byte magic]`). One file per object keeps
 * writes atomic (written to a temporary file, then renamed) and lets content and metadata change
 * together. The `.obj` suffix lets `a` and `a/b` coexist as keys, as they may in S3.
 *
 * Conditional writes take a lock per key (a directory created with mkdir, which is atomic, so it
 * also holds between processes sharing the directory), compare the current ETag and rename.
 * ETags are random per write (quoted, like S3's): a version token, not a checksum, so writing a
 * large object costs no extra hashing.
 *
 * What an interrupted write leaves (a process killed mid-put) is invisible to readers: its
 * temporary file `<key>.obj.<random>.tmp` beside the object, and possibly its lock in `.locks/`.
 * sweepAbandonedWrites removes them, and the folders of composed versions no object names
 * (fs-composed.ts). `.locks` and `.composed` are the store's own: no key starts with them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FolderKeys } from './fs-folder-keys.ts';
import { composedBody, composeInto, COMPOSED_FOLDER, startVersionFolder, SUPERSEDED_GRACE_MS, sweepComposedVersions, type ResolvedSource } from './fs-composed.ts';
import { writeSegmentsInto } from './fs-segments.ts';
import { copyRangeInto } from './fs-copy-range.ts';
import { piecesOfRange, type ComposedLayout } from './fs-composed-layout.ts';
import { ADAPTER, BatchedWriter, readObjectFile, trailerBytes, writeFully, type ObjectFile, type ObjectHeader } from './fs-object-file.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertValidKey,
  assertValidPrefix,
  invalidKeyReason,
  InvalidKeyError,
  ObjectNotFoundError,
  ObjectStoreError,
  PreconditionFailedError,
  type ByteRange,
  type ComposedPart,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PresignOptions,
  type PutOptions,
  type RangeChecksums,
  type RangeSource,
  type SegmentChunk,
  type StoredObject,
} from '../../ports/object-store.ts';

const SUFFIX = '.obj';
const LOCK_STALE_MS = 30_000;
const LOCKS = '.locks';
/** Folders of the store's own at its root, never keys. */
const RESERVED_ROOT_NAMES: ReadonlySet<string> = new Set([LOCKS, COMPOSED_FOLDER]);
/** A composition sweeps versions no object names at most this often (a sweep reads each folder's owner). */
const COMPOSED_SWEEP_INTERVAL_MS = 60_000;
const TEMPORARY_SUFFIX = '.tmp';
// `<key>.obj.<12 hex digits>.tmp`: what put writes before renaming it over `<key>.obj`.
const TEMPORARY_NAME = /\.obj\.[0-9a-f]{12}\.tmp$/;
const LOCK_NAME = /^[0-9a-f]{64}$/;
// See createExclusively. A retry is needed only when a prune lands between two system calls: in
// the conformance race (a delete pruning the directory flat out) about one first retry in 250
// needed a second, and none a third; running out means something keeps removing the directory.
const CREATE_ATTEMPTS = 10;
const DEFAULT_LIST_LIMIT = 1000;

/** Turns a key and options into a URL served by whoever hosts this store (the embedded server). */
export type FsPresigner = (method: 'GET' | 'PUT', key: string, options: PresignOptions) => string;

export class FsObjectStore implements ObjectStore {
  readonly name = ADAPTER;
  private readonly inProcessLocks = new Map<string, Promise<void>>();
  private readonly folderKeys = new FolderKeys({ objectSuffix: SUFFIX, temporarySuffix: TEMPORARY_SUFFIX, hiddenRootNames: RESERVED_ROOT_NAMES });
  /** Composed versions this process is writing: not to be swept. */
  private readonly composing = new Set<string>();
  private lastComposedSweep = 0;

  constructor(
    readonly root: string,
    private readonly presigner?: FsPresigner,
  ) {}

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.assertKey(key);
    return (await this.readFile(key))?.info;
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<StoredObject> {
    this.assertKey(key);
    const handle = await this.openObject(key);
    if (!handle) throw new ObjectNotFoundError(ADAPTER, key);
    let file: ObjectFile;
    try {
      file = await readObjectFile(handle, key);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const { info } = file;
    const start = options.range?.start ?? 0;
    const end = Math.min(options.range?.end ?? info.size - 1, info.size - 1);
    if (info.size === 0 || end < start) {
      await handle.close();
      return { ...info, body: emptyBody() };
    }
    if (file.header.composed) {
      await handle.close();
      return { ...info, body: composedBody(this.root, file.header.composed, start, end) };
    }
    // The stream owns the handle from here and closes it when done.
    const body = createReadStream('', { fd: handle, start, end, highWaterMark: 1 << 20, autoClose: true });
    return { ...info, body };
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<{ etag: string }> {
    this.assertKey(key);
    return this.writeObject(key, options, async (writer) => {
      const chunks = body instanceof Uint8Array ? [body] : body;
      for await (const chunk of chunks) await writer.write(chunk);
      return undefined;
    });
  }

  /**
   * Composes on this directory (fs-composed.ts): the parts stored in this store are hard-linked
   * where they lie, when the version they name is still there; the others are written.
   */
  async compose(key: string, parts: readonly ComposedPart[], options: PutOptions = {}): Promise<{ etag: string }> {
    this.assertKey(key);
    const written = await this.writeComposed(key, options, async (folder, version) => {
      const sources = new Map<string, ResolvedSource | undefined>();
      for (const part of parts) {
        const storedAt = part.storedAt;
        if (!storedAt) continue;
        const id = `${storedAt.key}\n${storedAt.etag}`;
        if (!sources.has(id)) sources.set(id, await this.resolveSource(storedAt.key, storedAt.etag));
      }
      return composeInto(folder, version, parts, (storedAt) => sources.get(`${storedAt.key}\n${storedAt.etag}`));
    });
    return written!;
  }

  /** Writes the large segments as files of their own (fs-segments.ts): a later copyRange of one is a hard link. */
  async putSegments(key: string, body: AsyncIterable<SegmentChunk>, options: PutOptions = {}): Promise<{ etag: string }> {
    this.assertKey(key);
    const written = await this.writeComposed(key, options, (folder, version) => writeSegmentsInto(folder, version, body));
    return written!;
  }

  /** A range of a stored version, linked where it lies or copied inside the store (fs-copy-range.ts). */
  async copyRange(key: string, source: RangeSource, options: PutOptions = {}): Promise<{ etag: string } | undefined> {
    this.assertKey(key);
    this.assertKey(source.key);
    return this.writeComposed(key, options, async (folder, version) => {
      const resolved = await this.resolveSource(source.key, source.etag);
      return resolved && copyRangeInto(folder, version, resolved, source.offset, source.length);
    });
  }

  /** What putSegments recorded of a segment, when the range is exactly one (and of that version). */
  async checksumsOfRange(source: RangeSource): Promise<RangeChecksums | undefined> {
    this.assertKey(source.key);
    const resolved = await this.resolveSource(source.key, source.etag);
    if (resolved?.kind !== 'composed' || source.length <= 0) return undefined;
    const pieces = [...piecesOfRange(resolved.layout, source.offset, source.length)];
    const piece = pieces[0];
    if (pieces.length !== 1 || !piece || piece.offset !== 0 || piece.length !== piece.file.size || piece.length !== source.length) return undefined;
    const { sha256, crc32 } = piece.file;
    return sha256 !== undefined && crc32 !== undefined ? { sha256, crc32 } : undefined;
  }

  /**
   * A composed version of `key`: its folder, the layout `fill` lays out in it (undefined: nothing
   * is written), then the object file naming it, under the options' conditions.
   */
  private async writeComposed(key: string, options: PutOptions, fill: (folder: string, version: string) => Promise<ComposedLayout | undefined>): Promise<{ etag: string } | undefined> {
    const version = randomBytes(12).toString('hex');
    this.composing.add(version);
    let folder: string | undefined;
    try {
      folder = await startVersionFolder(this.root, version, key);
      const layout = await fill(folder, version);
      if (!layout) return undefined;
      const result = await this.writeObject(key, options, async () => layout);
      folder = undefined;
      return result;
    } finally {
      // Left for a sweep if it cannot go now: the error that matters is the composition's. Never
      // the folder of a version the key names (a failure after the rename).
      if (folder && (await this.composedVersionAt(key)) !== version) {
        await rm(folder, { recursive: true, force: true }).catch(() => undefined);
      }
      this.composing.delete(version);
      await this.sweepComposedNow();
    }
  }

  /**
   * Writes an object file (content through `fill`, or none for a composed one whose layout `fill`
   * returns) to a temporary name and renames it into place under the options' condition.
   */
  private async writeObject(key: string, options: PutOptions, fill: (writer: BatchedWriter) => Promise<ObjectHeader['composed']>): Promise<{ etag: string }> {
    const path = this.pathOf(key);
    const temporary = `${path}.${randomBytes(6).toString('hex')}${TEMPORARY_SUFFIX}`;
    const handle = await createExclusively(temporary);
    this.folderKeys.touched(temporary);
    let etag: string;
    try {
      const writer = new BatchedWriter(handle);
      const composed = await fill(writer);
      const position = await writer.finish();
      etag = `"${randomBytes(16).toString('hex')}"`;
      const header: ObjectHeader = {
        etag,
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.contentEncoding ? { contentEncoding: options.contentEncoding } : {}),
        metadata: lowerCaseKeys(options.metadata ?? {}),
        ...(composed ? { composed } : {}),
      };
      await writeFully(handle, trailerBytes(header), position);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temporary, { force: true });
      throw error;
    }
    await handle.close();
    try {
      if (options.ifNoneMatch === undefined && options.ifMatch === undefined) {
        await rename(temporary, path);
      } else {
        await this.withKeyLock(key, async () => {
          const current = await this.head(key);
          if (options.ifNoneMatch === '*' && current) throw new PreconditionFailedError(ADAPTER, key, 'If-None-Match: *');
          if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) {
            throw new PreconditionFailedError(ADAPTER, key, `If-Match: ${options.ifMatch}`);
          }
          await rename(temporary, path);
        });
      }
    } finally {
      await rm(temporary, { force: true });
    }
    return { etag };
  }

  async delete(key: string): Promise<void> {
    this.assertKey(key);
    const path = this.pathOf(key);
    await rm(path, { force: true });
    await this.pruneEmptyDirectories(dirname(path));
    this.folderKeys.touched(path);
  }

  async list(prefix: string, options: { token?: string; limit?: number } = {}): Promise<ListPage> {
    assertValidPrefix(ADAPTER, prefix);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    // Start at the deepest directory the prefix names fully.
    const directoryPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    await this.collectPage(join(this.root, directoryPart), directoryPart, prefix, options.token, limit + 1, keys);
    const page = keys.slice(0, limit);
    const objects: ObjectInfo[] = [];
    // Read a few at a time: a page of a thousand read one by one took 300 ms.
    for (let start = 0; start < page.length; start += 16) {
      for (const info of await Promise.all(page.slice(start, start + 16).map((key) => this.head(key)))) if (info) objects.push(info);
    }
    return keys.length > limit ? { objects, nextToken: page[page.length - 1]! } : { objects };
  }

  async presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined> {
    this.assertKey(key);
    return this.presigner?.(method, key, options);
  }

  /**
   * Removes the temporary files of puts that never finished whose last write is older than
   * `olderThanMs` (the age is the file's mtime, which every write of a put in progress renews),
   * and locks left by processes that died holding them.
   */
  async sweepAbandonedWrites(olderThanMs: number): Promise<{ removed: number; bytes: number }> {
    const swept = { removed: 0, bytes: 0 };
    await this.sweepTemporaryFiles(this.root, Date.now() - olderThanMs, swept);
    const composed = await this.sweepComposed(olderThanMs);
    swept.removed += composed.removed;
    swept.bytes += composed.bytes;
    // A lock counts as abandoned only once it is as old as a waiting writer would break it at,
    // whatever the caller asks: a younger lock may be held, and removing a held lock would let two
    // conditional writes of one key both succeed.
    const lockCutoff = Date.now() - Math.max(olderThanMs, LOCK_STALE_MS);
    const locks = join(this.root, LOCKS);
    for (const entry of await readdirIfPresent(locks)) {
      if (!entry.isDirectory() || !LOCK_NAME.test(entry.name)) continue;
      const lock = join(locks, entry.name);
      try {
        if (Math.floor((await stat(lock)).mtimeMs) > lockCutoff) continue;
        await rmdir(lock);
        swept.removed++;
      } catch {
        // Released meanwhile.
      }
    }
    return swept;
  }

  private async sweepTemporaryFiles(directory: string, cutoff: number, swept: { removed: number; bytes: number }): Promise<void> {
    let removedHere = false;
    for (const entry of await readdirIfPresent(directory)) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (directory !== this.root || !RESERVED_ROOT_NAMES.has(entry.name)) await this.sweepTemporaryFiles(path, cutoff, swept);
      } else if (entry.isFile() && TEMPORARY_NAME.test(entry.name)) {
        try {
          const { mtimeMs, size } = await stat(path);
          // Date.now() is whole milliseconds and mtimeMs is not: a file written in the millisecond
          // the cutoff was taken would otherwise look younger than "now" and escape an age-0 sweep.
          if (Math.floor(mtimeMs) > cutoff) continue;
          await unlink(path);
          swept.removed++;
          swept.bytes += size;
          removedHere = true;
        } catch (error) {
          // Renamed into place (the put finished) or removed meanwhile.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    // As a delete does: the directory may have held nothing else.
    if (removedHere) await this.pruneEmptyDirectories(directory);
  }

  private sweepComposed(olderThanMs: number): Promise<{ removed: number; bytes: number }> {
    return sweepComposedVersions(this.root, olderThanMs, (key) => this.composedVersionAt(key), this.composing);
  }

  /** After a composition, now and then: the folders of versions replaced a grace period ago. */
  private async sweepComposedNow(): Promise<void> {
    if (Date.now() - this.lastComposedSweep < COMPOSED_SWEEP_INTERVAL_MS) return;
    this.lastComposedSweep = Date.now();
    try {
      await this.sweepComposed(SUPERSEDED_GRACE_MS);
    } catch {
      // Housekeeping: what it could not remove now, a later sweep will (the composition stands).
    }
  }

  /** The object at `key` as a source of a composition, if it is still the version `etag`. */
  private async resolveSource(key: string, etag: string): Promise<ResolvedSource | undefined> {
    if (this.reservedKey(key) || invalidKeyReason(key)) return undefined;
    const handle = await this.openObject(key);
    if (!handle) return undefined;
    try {
      const file = await readObjectFile(handle, key);
      if (file.info.etag !== etag) return undefined;
      if (file.header.composed) return { kind: 'composed', root: this.root, layout: file.header.composed };
      return { kind: 'file', path: this.pathOf(key), ino: (await handle.stat()).ino, fileSize: file.fileSize, contentSize: file.info.size };
    } catch {
      // Damaged or unreadable: its bytes are written instead.
      return undefined;
    } finally {
      await handle.close();
    }
  }

  /** The composed version the object at `key` names, if it is one (an unreadable object names none). */
  private async composedVersionAt(key: string): Promise<string | undefined> {
    return (await this.readFile(key).catch(() => undefined))?.header.composed?.version;
  }

  private async readFile(key: string): Promise<ObjectFile | undefined> {
    const handle = await this.openObject(key);
    if (!handle) return undefined;
    try {
      return await readObjectFile(handle, key);
    } finally {
      await handle.close();
    }
  }

  private reservedKey(key: string): boolean {
    return RESERVED_ROOT_NAMES.has(key.split('/', 1)[0]!);
  }

  private assertKey(key: string): void {
    assertValidKey(ADAPTER, key);
    if (this.reservedKey(key)) throw new InvalidKeyError(ADAPTER, key, `its first segment is kept by the store (${[...RESERVED_ROOT_NAMES].join(', ')})`);
  }

  private pathOf(key: string): string {
    return join(this.root, ...key.split('/')) + SUFFIX;
  }

  private async openObject(key: string): Promise<FileHandle | undefined> {
    try {
      return await open(this.pathOf(key), 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new ObjectStoreError(ADAPTER, `cannot read ${key}: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Up to `wanted` keys under `prefix` after `after`, in key order, walking only what the page
   * needs: each directory's entries in the order of the keys they hold (a directory's keys all
   * start with its name and a slash), whole directories before `after` skipped, the walk ended
   * once the page is full. Listing every key again for every page made walking all of them
   * (a reindex) quadratic: at ten thousand versions each page took a second.
   * Returns whether the page is full.
   */
  private async collectPage(directory: string, directoryKey: string, prefix: string, after: string | undefined, wanted: number, pageKeys: string[]): Promise<boolean> {
    const keys = await this.folderKeys.keysOf(directory, directoryKey);
    if (keys === undefined) return false;
    const base = directoryKey === '' ? '' : `${directoryKey}/`;
    // The first key after `after`, or the folder just before it that `after` lies in (the only
    // key of this folder that can be a prefix of it: keys between the two would start with it).
    let start = 0;
    if (after !== undefined) {
      let low = 0;
      let high = keys.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (keys[middle]! <= after) low = middle + 1;
        else high = middle;
      }
      start = low > 0 && keys[low - 1]!.endsWith('/') && after.startsWith(keys[low - 1]!) ? low - 1 : low;
    }
    for (let index = start; index < keys.length; index++) {
      const key = keys[index]!;
      if (key.endsWith('/')) {
        // Nothing under it matches the prefix.
        if (!key.startsWith(prefix) && !prefix.startsWith(key)) {
          if (key > prefix) break;
          continue;
        }
        if (await this.collectPage(join(directory, key.slice(base.length, -1)), key.slice(0, -1), prefix, after, wanted, pageKeys)) return true;
      } else {
        if (!key.startsWith(prefix)) {
          if (key > prefix) break;
          continue;
        }
        if (after !== undefined && key <= after) continue;
        pageKeys.push(key);
        if (pageKeys.length >= wanted) return true;
      }
    }
    return false;
  }

  private async pruneEmptyDirectories(directory: string): Promise<void> {
    let current = directory;
    while (current.startsWith(this.root) && current !== this.root) {
      try {
        await rmdir(current);
      } catch {
        return;
      }
      current = dirname(current);
    }
  }

  private async withKeyLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    // Chain in-process callers, so they do not spin on the directory lock.
    const previous = this.inProcessLocks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chained = previous.then(() => mine);
    this.inProcessLocks.set(key, chained);
    await previous;
    const lock = join(this.root, LOCKS, createHash('sha256').update(key).digest('hex'));
    try {
      await acquireDirectoryLock(lock);
      try {
        return await work();
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
    } finally {
      release();
      if (this.inProcessLocks.get(key) === chained) this.inProcessLocks.delete(key);
    }
  }
}

/**
 * Makes the directory of a put's temporary file and creates the file exclusively.
 *
 * A delete prunes the directories it leaves empty (keys name directories that S3 does not have;
 * kept, they would pile up), so a concurrent delete of the last object in this directory, or a
 * sweep, can remove it between the `mkdir -p` and the `open` (or a parent in the middle of the
 * `mkdir -p`): the call then fails with ENOENT. Making the directory again and retrying is safe, as nothing has been written
 * and no condition has been evaluated yet. Once the file exists its directory is not empty, so no
 * prune (rmdir) can remove it before the rename has put the object in its place: the rename needs
 * no retry.
 */
async function createExclusively(path: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dirname(path), { recursive: true });
      return await open(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (attempt >= CREATE_ATTEMPTS) {
        throw new ObjectStoreError(ADAPTER, `cannot create ${path}: its directory was removed ${attempt} times meanwhile`, { cause: error });
      }
    }
  }
}

async function readdirIfPresent(directory: string): Promise<Dirent[]> {
  try {
    return await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function acquireDirectoryLock(lock: string): Promise<void> {
  await mkdir(dirname(lock), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lock);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        const { mtimeMs } = await stat(lock);
        // A lock older than any write could take was left by a process that died.
        if (Date.now() - mtimeMs > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      } catch {
        // Released meanwhile: try again.
      }
      await sleep(Math.min(2 + attempt, 25));
    }
  }
}

function lowerCaseKeys(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]));
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}
