/**
 * Random access to the bytes of a bundle. The reader needs nothing else, so the same code reads a
 * local file, a buffer, or (in the service) an object in S3 through ranged GETs.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset`; callers never ask beyond `size`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * The same bytes as a stream, for long sequential reads (one ranged GET instead of many).
   * Optional: without it, readers fall back to successive read() calls.
   */
  stream?(offset: number, length: number): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Reading the source itself failed (a storage error, a cut connection, a file that shrank): not
 * something the bundle's bytes say. Readers pass it on untouched, so the service retries it
 * instead of refusing the bundle as truncated.
 */
export class ByteSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ByteSourceError';
  }
}

/** Streams `length` bytes from `offset`, with the source's own stream when it has one. */
export async function* streamRange(source: ByteSource, offset: number, length: number, chunkSize = 1 << 20): AsyncGenerator<Uint8Array> {
  if (length === 0) return;
  if (source.stream) {
    let received = 0;
    for await (const chunk of source.stream(offset, length)) {
      received += chunk.length;
      if (received > length) throw new ByteSourceError(`the source sent more than the ${length} bytes asked`);
      yield chunk;
    }
    if (received !== length) throw new ByteSourceError(`the source ended after ${received} of ${length} bytes`);
    return;
  }
  for (let done = 0; done < length; done += chunkSize) yield await source.read(offset + done, Math.min(chunkSize, length - done));
}

export class BufferByteSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    assertWithin(offset, length, this.bytes.length);
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {}
}

export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      return new FileByteSource(handle, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    assertWithin(offset, length, this.size);
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) throw new ByteSourceError(`file ended at ${offset + filled}, expected ${offset + length}`);
      filled += bytesRead;
    }
    return buffer;
  }

  stream(offset: number, length: number): AsyncIterable<Uint8Array> {
    assertWithin(offset, length, this.size);
    // The handle stays open for the source; the stream must not close it.
    return createReadStream('', { fd: this.handle, start: offset, end: offset + length - 1, autoClose: false, highWaterMark: 1 << 20 });
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function assertWithin(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`read of ${length} bytes at ${offset} is outside a source of ${size} bytes`);
  }
}
