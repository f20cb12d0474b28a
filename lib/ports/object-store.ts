/**
 * The object storage port: what the registry needs from S3, MinIO, LocalStack or a directory.
 *
 * Keys are relative paths of safe segments (letters, digits, space and `._:=@+,()~-`), never `..`;
 * adapters refuse
 * anything else with InvalidKeyError. Writes are atomic per object: a reader sees the old object
 * or the new one, never a mix. Conditional writes are the concurrency primitive:
 * `ifNoneMatch: '*'` creates only if absent, `ifMatch: etag` replaces only that version; a failed
 * condition throws PreconditionFailedError and changes nothing.
 */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  /** Opaque version token, changes with every write. */
  readonly etag: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  /** Small user metadata (S3 `x-amz-meta-*`), lower-case keys. */
  readonly metadata: Readonly<Record<string, string>>;
  /** When the object was last written. */
  readonly lastModified: Date;
}

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

export interface StoredObject extends ObjectInfo {
  /** The bytes (of the range, when one was asked). */
  readonly body: AsyncIterable<Uint8Array>;
}

export interface PutOptions {
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly ifNoneMatch?: '*';
  readonly ifMatch?: string;
  /** Needed by some backends to stream a body of known length. */
  readonly contentLength?: number;
}

/**
 * One piece of an object being composed: its bytes, and where the very same bytes are stored
 * already, if they are (`offset` into the object at `key` as of version `etag`). The bytes are
 * what the object will hold; the location only lets a store that can compose take them from
 * there instead of writing them again, and is ignored when that version is gone.
 */
export interface ComposedPart {
  /** One buffer, or several in order (a run of pieces that lie together, without joining them). */
  readonly bytes: Uint8Array | readonly Uint8Array[];
  readonly storedAt?: { readonly key: string; readonly etag: string; readonly offset: number };
}

/** A part's bytes as a list of buffers. */
export function partBuffers(part: ComposedPart): readonly Uint8Array[] {
  return part.bytes instanceof Uint8Array ? [part.bytes] : (part.bytes as readonly Uint8Array[]);
}

export function partLength(part: ComposedPart): number {
  if (part.bytes instanceof Uint8Array) return part.bytes.length;
  let length = 0;
  for (const bytes of part.bytes as readonly Uint8Array[]) length += bytes.length;
  return length;
}

/** A chunk of a body written in segments (putSegments): segments are numbered in order, and a chunk's bytes are done with once the next is asked for. */
export interface SegmentChunk {
  readonly bytes: Uint8Array;
  readonly segment: number;
  /** Whether its segment is worth keeping by itself: a large member a copyRange will ask for whole. */
  readonly apart: boolean;
}

/** Where the bytes of a copyRange lie: a version of a stored object, and a range of it. */
export interface RangeSource {
  readonly key: string;
  readonly etag: string;
  readonly offset: number;
  readonly length: number;
}

export interface RangeChecksums {
  /** Hex. */
  readonly sha256: string;
  readonly crc32: number;
}

export interface PresignOptions {
  /** Seconds the URL stays valid. */
  readonly expiresIn: number;
  /** For GET: response headers the URL forces (file name, type). */
  readonly responseContentType?: string;
  readonly responseContentDisposition?: string;
  /** For PUT: the content type the uploader must send. */
  readonly contentType?: string;
  /** For PUT: the exact number of bytes the URL takes (signed: a longer or shorter body is refused). */
  readonly contentLength?: number;
  /** For PUT: only if nothing is stored at the key yet (the URL serves one successful PUT). */
  readonly ifNoneMatch?: '*';
}

export interface ListPage {
  readonly objects: readonly ObjectInfo[];
  /** Present when more objects follow; pass it back to list the next page. */
  readonly nextToken?: string;
}

/**
 * Uploads in parts straight from a client (S3 multipart with presigned part URLs): how a bundle
 * larger than one PUT allows (5 GiB on S3) reaches storage. Optional: stores without it take
 * bundles in a single presigned PUT.
 */
export interface MultipartUploads {
  start(key: string, options: { contentType?: string }): Promise<string>;
  /** `contentLength`: the part's exact size, signed (a part of another length is refused). */
  presignPart(key: string, uploadId: string, partNumber: number, expiresIn: number, contentLength?: number): Promise<string>;
  complete(key: string, uploadId: string, parts: readonly { partNumber: number; etag: string }[]): Promise<{ etag: string }>;
  abort(key: string, uploadId: string): Promise<void>;
}

export interface ObjectStore {
  /** Adapter name, stamped on its errors (`fs`, `s3`). */
  readonly name: string;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Throws ObjectNotFoundError when absent. */
  get(key: string, options?: { range?: ByteRange }): Promise<StoredObject>;
  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<{ etag: string }>;
  /**
   * Writes the object whose bytes are `parts` joined, exactly as `put` would (same options,
   * conditions and atomicity), taking the parts that are stored already from where they are. The
   * object is independent of its sources afterwards: they may be replaced or deleted. What it
   * costs grows with the parts that are not stored, not with the object (on a directory, hard
   * links and extents). Optional: without it, a caller puts the bytes (composeObject).
   */
  compose?(key: string, parts: readonly ComposedPart[], options?: PutOptions): Promise<{ etag: string }>;
  /**
   * Writes the object as `put` would, from a body whose chunks say which segment they belong to:
   * a segment marked `apart` may be kept by itself, so that a later copyRange of exactly its
   * bytes costs no copy (on a directory, its own file, then hard-linked). Optional: without it, a
   * caller puts the bytes (putInSegments).
   */
  putSegments?(key: string, body: AsyncIterable<SegmentChunk>, options?: PutOptions): Promise<{ etag: string }>;
  /**
   * Makes `key` hold the `length` bytes at `offset` of the object at `source.key`, as of version
   * `source.etag`, without them passing through the caller (on a directory, hard links to where
   * they lie, or a copy inside the store), under the options' conditions like `put`. The new
   * object is independent of its source afterwards. Returns undefined, having written nothing,
   * when that version of the source is gone or the range is outside it. Optional: without it, a
   * caller puts the bytes it read.
   */
  copyRange?(key: string, source: RangeSource, options?: PutOptions): Promise<{ etag: string } | undefined>;
  /**
   * The SHA-256 and CRC-32 of a range of a stored version, when the store computed them as it
   * wrote those very bytes (a segment putSegments kept apart), without reading them; undefined
   * when it has none for exactly that range. What it answers must be true of the bytes a get of
   * that range returns. Optional.
   */
  checksumsOfRange?(source: RangeSource): Promise<RangeChecksums | undefined>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string, options?: { token?: string; limit?: number }): Promise<ListPage>;
  /** A URL that reads (or writes) the object without credentials, or undefined if unsupported. */
  presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined>;
  readonly multipart?: MultipartUploads;
  /**
   * Removes what interrupted writes left behind and no reader can see (list, head and get never
   * show it), when it is older than `olderThanMs`: on a directory, the temporary files of puts a
   * killed process never renamed (and locks it died holding); on S3, multipart uploads started
   * and never completed nor aborted (a killed put, or a client that gave up on its part URLs),
   * which S3 keeps, and bills, until they are aborted. Returns how many were removed and the bytes
   * they held (as far as the backend tells).
   *
   * The age must exceed the longest write that may still be in progress, or that write fails: on
   * a directory it counts from a temporary file's last write, on S3 from when the upload started
   * (so at least the lifetime of a presigned part URL plus the time to complete). Optional: a store
   * whose writes leave nothing behind needs none.
   */
  sweepAbandonedWrites?(olderThanMs: number): Promise<{ removed: number; bytes: number }>;
}

/** Writes a segmented body: in segments where the store keeps them, else as one put of the same bytes. */
export function putInSegments(store: ObjectStore, key: string, body: AsyncIterable<SegmentChunk>, options: PutOptions = {}): Promise<{ etag: string }> {
  if (store.putSegments) return store.putSegments(key, body, options);
  return store.put(key, bytesOfSegments(body), options);
}

async function* bytesOfSegments(body: AsyncIterable<SegmentChunk>): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) yield chunk.bytes;
}

/**
 * Copies a range of a stored version to `key`: inside the store where it can (copyRange), else
 * through the caller (a ranged get of that version, then a put). Undefined, writing nothing, when
 * the version is gone or the range is outside it.
 */
export async function copyStoredRange(store: ObjectStore, key: string, source: RangeSource, options: PutOptions = {}): Promise<{ etag: string } | undefined> {
  if (store.copyRange) return store.copyRange(key, source, options);
  if (!Number.isSafeInteger(source.offset) || !Number.isSafeInteger(source.length) || source.offset < 0 || source.length < 0) return undefined;
  const info = await store.head(source.key);
  if (!info || info.etag !== source.etag || source.offset + source.length > info.size) return undefined;
  if (source.length === 0) return store.put(key, new Uint8Array(0), options);
  let object: StoredObject;
  try {
    object = await store.get(source.key, { range: { start: source.offset, end: source.offset + source.length - 1 } });
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  if (object.etag !== source.etag) {
    await drain(object.body);
    return undefined;
  }
  return store.put(key, object.body, { ...options, contentLength: source.length });
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const chunk of body) void chunk;
}

/** Writes `parts` as one object: composed where the store can, else put, every byte streamed (`chunks` may join them). */
export function composeObject(
  store: ObjectStore,
  key: string,
  parts: readonly ComposedPart[],
  options: PutOptions = {},
  chunks: (bytes: readonly Uint8Array[]) => AsyncIterable<Uint8Array> = fromArray,
): Promise<{ etag: string }> {
  if (store.compose) return store.compose(key, parts, options);
  return store.put(key, chunks(parts.flatMap(partBuffers)), options);
}

async function* fromArray(bytes: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* bytes;
}

export class ObjectStoreError extends Error {
  constructor(
    readonly adapter: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${adapter}: ${message}`, options);
    this.name = 'ObjectStoreError';
  }
}

export class ObjectNotFoundError extends ObjectStoreError {
  constructor(adapter: string, readonly key: string) {
    super(adapter, `no object at ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class PreconditionFailedError extends ObjectStoreError {
  constructor(adapter: string, readonly key: string, condition: string) {
    super(adapter, `the condition ${condition} does not hold for ${key}`);
    this.name = 'PreconditionFailedError';
  }
}

export class InvalidKeyError extends ObjectStoreError {
  constructor(adapter: string, readonly key: string, reason: string) {
    super(adapter, `invalid key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

// Wide enough for names operators give dropped bundles; nothing that means something to a path
// (slash, backslash), a URL (%, ?, #) or a terminal (control characters).
const SEGMENT = /^[A-Za-z0-9._:=@+,()~ -]+$/;
/**
 * Longest segment: a file system names each folder and file with at most 255 bytes, and the fs
 * store adds `.obj` and, while writing, `.<12 hex>.tmp` (21 characters) to a key's last segment.
 * S3 has no such limit; the contract is the narrower one, so a key valid on one store is valid on
 * every store. (The segment characters are ASCII: a character is a byte.)
 */
export const MAX_KEY_SEGMENT_LENGTH = 255 - '.obj.000000000000.tmp'.length;

/** The reason `key` is not a valid object key, or undefined. */
export function invalidKeyReason(key: string, { allowTrailingSlash = false } = {}): string | undefined {
  if (key.length === 0) return 'empty';
  if (key.length > 900) return 'longer than 900 characters';
  const body = allowTrailingSlash && key.endsWith('/') ? key.slice(0, -1) : key;
  if (body.length === 0) return undefined;
  for (const segment of body.split('/')) {
    if (segment === '' ) return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a '${segment}' segment`;
    if (!SEGMENT.test(segment)) return `segment ${JSON.stringify(segment)} has characters outside letters, digits, space and ._:=@+,()~-`;
    if (segment.length > MAX_KEY_SEGMENT_LENGTH) return `has a segment of ${segment.length} characters, more than ${MAX_KEY_SEGMENT_LENGTH}`;
  }
  return undefined;
}

export function assertValidKey(adapter: string, key: string): void {
  const reason = invalidKeyReason(key);
  if (reason) throw new InvalidKeyError(adapter, key, reason);
}

export function assertValidPrefix(adapter: string, prefix: string): void {
  if (prefix === '') return;
  const reason = invalidKeyReason(prefix, { allowTrailingSlash: true });
  if (reason) throw new InvalidKeyError(adapter, prefix, reason);
}

/**
 * Reads a whole object into memory: for the small JSON documents the registry keeps. Given the
 * object's length, it reads with one allocation and one copy (into `target` when given, memory the
 * caller reuses), and a body of another length is an error.
 */
export async function readAllBytes(body: AsyncIterable<Uint8Array>, expectedLength?: number, target?: Buffer): Promise<Buffer> {
  if (expectedLength !== undefined) {
    if (target && target.length < expectedLength) throw new Error(`a buffer of ${target.length} bytes cannot hold ${expectedLength}`);
    const whole = target ?? Buffer.allocUnsafe(expectedLength);
    let filled = 0;
    for await (const chunk of body) {
      if (filled + chunk.length > expectedLength) throw new Error(`the object is longer than its stated ${expectedLength} bytes`);
      whole.set(chunk, filled);
      filled += chunk.length;
    }
    if (filled !== expectedLength) throw new Error(`the object ended after ${filled} of its ${expectedLength} bytes`);
    return whole.subarray(0, expectedLength);
  }
  const chunks: Buffer[] = [];
  // A view of each chunk, not a copy: Buffer.concat copies once.
  for await (const chunk of body) chunks.push(bufferView(chunk));
  return Buffer.concat(chunks);
}

/** The same memory as a Buffer, never a copy (Buffer.from of a Buffer would copy it). */
export function bufferView(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Releases a body that will not be read (a redirect or a 304 answered instead): frees its connection or file. */
export function discardBody(body: AsyncIterable<Uint8Array>): void {
  (body as { destroy?: () => void }).destroy?.();
}
