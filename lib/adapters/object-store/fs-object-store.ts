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
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
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
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temporary, 'wx');
    let etag: string;
    try {
      let position = 0;
      const chunks = body instanceof Uint8Array ? [body] : body;
      for await (const chunk of chunks) {
        await writeFully(handle, chunk, position);
        position += chunk.length;
      }
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
  }

  async list(prefix: string, options: { token?: string; limit?: number } = {}): Promise<ListPage> {
    assertValidPrefix(ADAPTER, prefix);
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    // Start at the deepest directory the prefix names fully.
    const directoryPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    await this.collectKeys(join(this.root, directoryPart), prefix, keys);
    keys.sort();
    const after = options.token;
    const selected = (after === undefined ? keys : keys.filter((key) => key > after)).slice(0, limit + 1);
    const page = selected.slice(0, limit);
    const objects: ObjectInfo[] = [];
    for (const key of page) {
      const info = await this.head(key);
      if (info) objects.push(info);
    }
    return selected.length > limit ? { objects, nextToken: page[page.length - 1]! } : { objects };
  }

  async presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined> {
    assertValidKey(ADAPTER, key);
    return this.presigner?.(method, key, options);
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

  private async collectKeys(directory: string, prefix: string, keys: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(directory, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await this.collectKeys(path, prefix, keys);
      } else if (entry.name.endsWith(SUFFIX)) {
        const objectKey = key.slice(0, -SUFFIX.length);
        if (objectKey.startsWith(prefix)) keys.push(objectKey);
      }
    }
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
    const lock = join(this.root, '.locks', createHash('sha256').update(key).digest('hex'));
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
