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
 * sweepAbandonedWrites removes them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FolderKeys } from './fs-folder-keys.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertValidKey,
  assertValidPrefix,
  ObjectNotFoundError,
  ObjectStoreError,
  PreconditionFailedError,
  type ByteRange,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PresignOptions,
  type PutOptions,
  type StoredObject,
} from '../../ports/object-store.ts';

const ADAPTER = 'fs';
const SUFFIX = '.obj';
const MAGIC = Buffer.from('DCOSOBJ1');
const TRAILER_FIXED = 4 + MAGIC.length;
const LOCK_STALE_MS = 30_000;
const LOCKS = '.locks';
const TEMPORARY_SUFFIX = '.tmp';
// `<key>.obj.<12 hex digits>.tmp`: what put writes before renaming it over `<key>.obj`.
const TEMPORARY_NAME = /\.obj\.[0-9a-f]{12}\.tmp$/;
const LOCK_NAME = /^[0-9a-f]{64}$/;
// See createExclusively. A retry is needed only when a prune lands between two system calls: in
// the conformance race (a delete pruning the directory flat out) about one first retry in 250
// needed a second, and none a third; running out means something keeps removing the directory.
const CREATE_ATTEMPTS = 10;
const DEFAULT_LIST_LIMIT = 1000;

interface Header {
  readonly etag: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly metadata: Record<string, string>;
}

/** Turns a key and options into a URL served by whoever hosts this store (the embedded server). */
export type FsPresigner = (method: 'GET' | 'PUT', key: string, options: PresignOptions) => string;

export class FsObjectStore implements ObjectStore {
  readonly name = ADAPTER;
  private readonly inProcessLocks = new Map<string, Promise<void>>();
  private readonly folderKeys = new FolderKeys({ objectSuffix: SUFFIX, temporarySuffix: TEMPORARY_SUFFIX });

  constructor(
    readonly root: string,
    private readonly presigner?: FsPresigner,
  ) {}

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertValidKey(ADAPTER, key);
    const handle = await this.openObject(key);
    if (!handle) return undefined;
    try {
      const { info } = await readTrailer(handle, key);
      return info;
    } finally {
      await handle.close();
    }
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<StoredObject> {
    assertValidKey(ADAPTER, key);
    const handle = await this.openObject(key);
    if (!handle) throw new ObjectNotFoundError(ADAPTER, key);
    let info: ObjectInfo;
    try {
      info = (await readTrailer(handle, key)).info;
    } catch (error) {
      await handle.close();
      throw error;
    }
    const start = options.range?.start ?? 0;
    const end = Math.min(options.range?.end ?? info.size - 1, info.size - 1);
    if (info.size === 0 || end < start) {
      await handle.close();
      return { ...info, body: emptyBody() };
    }
    // The stream owns the handle from here and closes it when done.
    const body = createReadStream('', { fd: handle, start, end, highWaterMark: 1 << 20, autoClose: true });
    return { ...info, body };
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<{ etag: string }> {
    assertValidKey(ADAPTER, key);
    const path = this.pathOf(key);
    const temporary = `${path}.${randomBytes(6).toString('hex')}${TEMPORARY_SUFFIX}`;
    const handle = await createExclusively(temporary);
    this.folderKeys.touched(temporary);
    let etag: string;
    try {
      const writer = new BatchedWriter(handle);
      const chunks = body instanceof Uint8Array ? [body] : body;
      for await (const chunk of chunks) await writer.write(chunk);
      const position = await writer.finish();
      etag = `"${randomBytes(16).toString('hex')}"`;
      const header: Header = {
        etag,
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.contentEncoding ? { contentEncoding: options.contentEncoding } : {}),
        metadata: lowerCaseKeys(options.metadata ?? {}),
      };
      const headerBytes = Buffer.from(JSON.stringify(header));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(headerBytes.length);
      await writeFully(handle, Buffer.concat([headerBytes, length, MAGIC]), position);
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
    assertValidKey(ADAPTER, key);
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
    assertValidKey(ADAPTER, key);
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
        if (directory !== this.root || entry.name !== LOCKS) await this.sweepTemporaryFiles(path, cutoff, swept);
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

async function readTrailer(handle: FileHandle, key: string): Promise<{ info: ObjectInfo }> {
  const { size: fileSize, mtime } = await handle.stat();
  if (fileSize < TRAILER_FIXED) throw new ObjectStoreError(ADAPTER, `object ${key} is damaged (no trailer)`);
  const fixed = Buffer.alloc(TRAILER_FIXED);
  await handle.read(fixed, 0, TRAILER_FIXED, fileSize - TRAILER_FIXED);
  if (!fixed.subarray(4).equals(MAGIC)) throw new ObjectStoreError(ADAPTER, `object ${key} is damaged (bad trailer)`);
  const headerLength = fixed.readUInt32LE(0);
  const contentSize = fileSize - TRAILER_FIXED - headerLength;
  if (contentSize < 0) throw new ObjectStoreError(ADAPTER, `object ${key} is damaged (header overruns)`);
  const headerBytes = Buffer.alloc(headerLength);
  await handle.read(headerBytes, 0, headerLength, contentSize);
  const header = JSON.parse(headerBytes.toString('utf8')) as Header;
  return {
    info: {
      key,
      size: contentSize,
      etag: header.etag,
      ...(header.contentType ? { contentType: header.contentType } : {}),
      ...(header.contentEncoding ? { contentEncoding: header.contentEncoding } : {}),
      metadata: header.metadata,
      lastModified: mtime,
    },
  };
}

/** Writes of at least this much (but the last): an awaited write per 64 KiB HTTP chunk ran at a sixth of the disk's speed. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * A file written front to back in large writes: small chunks are copied into one buffer (reused
 * for the whole file, so a put of many small pieces, an index of ten thousand entries, makes no
 * garbage) and written when it fills; a large chunk is written as it is, before the next is asked
 * for. Either way a chunk is done with when the body is asked for the next one, so a body may
 * hand out one buffer again, refilled (test/fault/review11-batched-put.test.ts); copying the small
 * ones costs a memcpy, well under the write's own.
 */
class BatchedWriter {
  private batch: Buffer | undefined;
  private batched = 0;
  private position = 0;

  constructor(private readonly handle: FileHandle) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length >= WRITE_BATCH_BYTES) {
      await this.flush();
      await writeFully(this.handle, chunk, this.position);
      this.position += chunk.length;
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      this.batch ??= Buffer.allocUnsafe(WRITE_BATCH_BYTES);
      const taken = Math.min(chunk.length - offset, WRITE_BATCH_BYTES - this.batched);
      this.batch.set(chunk.subarray(offset, offset + taken), this.batched);
      this.batched += taken;
      offset += taken;
      if (this.batched === WRITE_BATCH_BYTES) await this.flush();
    }
  }

  /** Writes what is batched; returns the file's length. */
  async finish(): Promise<number> {
    await this.flush();
    return this.position;
  }

  private async flush(): Promise<void> {
    if (this.batched === 0) return;
    await writeFully(this.handle, this.batch!.subarray(0, this.batched), this.position);
    this.position += this.batched;
    this.batched = 0;
  }
}

async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const result = await handle.write(data, written, data.length - written, position + written);
    written += result.bytesWritten;
  }
}

function lowerCaseKeys(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]));
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}
