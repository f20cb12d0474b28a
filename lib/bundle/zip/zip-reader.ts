/**
 * A strict ZIP reader over a ByteSource.
 *
 * It reads only the end records, the central directory and the local headers, so opening a
 * multi-GB bundle costs a few small reads (a few ranged GETs on S3). It refuses every archive that
 * could make a consumer misbehave: names that escape, duplicates, sizes that disagree between the
 * central directory and the local headers, overlapping entries, encryption, unknown compression,
 * and deflated entries whose declared ratio is a zip bomb's. Entry contents are checked (length and
 * CRC-32) when they are read.
 */
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { ByteSourceError, streamRange, type ByteSource } from '../byte-source.ts';
import { InvalidBundleError } from '../bundle-errors.ts';
import { unsafeEntryNameReason } from './entry-name.ts';
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  EOCD_SIGNATURE,
  EOCD_SIZE,
  FLAG_DATA_DESCRIPTOR,
  FLAG_ENCRYPTED,
  FLAG_UTF8,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  MAX_EOCD_COMMENT,
  METHOD_DEFLATE,
  METHOD_STORED,
  UINT32_SENTINEL,
  ZIP64_EOCD_SIGNATURE,
  ZIP64_EOCD_SIZE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE,
  readUInt64,
} from './zip-format.ts';
import { crc32 } from 'node:zlib';

export interface ZipLimits {
  /** Most entries an archive may hold. */
  readonly maxEntries: number;
  /** Largest uncompressed/compressed ratio a deflated entry may declare. */
  readonly maxCompressionRatio: number;
  /** Largest central directory read into memory. */
  readonly maxCentralDirectoryBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  // A package of fifty images of forty layers has a few thousand entries.
  maxEntries: 100_000,
  maxCompressionRatio: 200,
  maxCentralDirectoryBytes: 256 * 1024 * 1024,
};

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
  /** Where the entry's (compressed) bytes begin. */
  readonly dataOffset: number;
  readonly isDirectory: boolean;
  /**
   * Fields the central directory and the local header both hold (version needed, flags, time,
   * date), as the central directory has them: the local header must say the same, so that no
   * field of the framing can be changed alone (a signed bundle covers its content, not these).
   */
  readonly sharedFields: readonly number[];
  /**
   * Fields only the central directory holds, which no reading depends on: version made by,
   * internal and external attributes. A signed bundle must have the writer's own values
   * (bundle-reader.ts), so that a change to them is seen too.
   */
  readonly centralOnlyFields: readonly number[];
}

const STREAM_CHUNK = 1 << 20;

export class ZipArchive {
  private constructor(
    private readonly source: ByteSource,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static async open(source: ByteSource, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<ZipArchive> {
    const end = await readEndOfCentralDirectory(source);
    const entries = await readCentralDirectory(source, end, limits);
    await resolveLocalHeaders(source, entries, end.centralOffset);
    return new ZipArchive(source, new Map(entries.map((entry) => [entry.name, entry])));
  }

  get(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /** The whole uncompressed content of a small entry, checked against its size and CRC-32. */
  async readEntry(entry: ZipEntry, maxBytes: number): Promise<Buffer> {
    if (entry.size > maxBytes) {
      throw new InvalidBundleError('EntrySizeMismatch', `entry ${entry.name} is ${entry.size} bytes, more than the ${maxBytes} allowed`, {
        entry: entry.name,
      });
    }
    const raw = Buffer.from(await this.source.read(entry.dataOffset, entry.compressedSize));
    let content: Buffer;
    if (entry.method === METHOD_STORED) {
      content = raw;
    } else {
      try {
        // maxOutputLength: one byte more than declared exposes a lie without inflating a bomb.
        content = inflateRawSync(raw, { maxOutputLength: entry.size + 1 });
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new InvalidBundleError('EntrySizeMismatch', `entry ${entry.name} inflates to more than the ${entry.size} bytes it declares`, {
            entry: entry.name,
          });
        }
        throw new InvalidBundleError('UnreadableArchive', `entry ${entry.name} cannot be inflated`, { entry: entry.name }, { cause });
      }
    }
    checkContent(entry, content.length, crc32(content));
    return content;
  }

  /** The uncompressed content of an entry as a stream of chunks, checked at the end. */
  async *streamEntry(entry: ZipEntry): AsyncGenerator<Uint8Array> {
    if (entry.method === METHOD_STORED) {
      let crc = 0;
      let received = 0;
      try {
        for await (const chunk of streamRange(this.source, entry.dataOffset, entry.size, STREAM_CHUNK)) {
          crc = crc32(chunk, crc);
          received += chunk.length;
          yield chunk;
        }
      } catch (cause) {
        if (cause instanceof InvalidBundleError || cause instanceof ByteSourceError) throw cause;
        throw new InvalidBundleError('TruncatedArchive', `entry ${entry.name} cannot be read whole: ${(cause as Error).message}`, { entry: entry.name }, { cause });
      }
      checkContent(entry, received, crc);
      return;
    }
    const inflater = createInflateRaw();
    let produced = 0;
    let crc = 0;
    const feed = async (): Promise<void> => {
      try {
        for await (const chunk of streamRange(this.source, entry.dataOffset, entry.compressedSize, STREAM_CHUNK)) {
          if (!inflater.write(chunk)) await new Promise((resolve) => inflater.once('drain', resolve));
        }
        inflater.end();
      } catch (error) {
        inflater.destroy(error as Error);
      }
    };
    void feed();
    try {
      for await (const chunk of inflater as AsyncIterable<Buffer>) {
        produced += chunk.length;
        if (produced > entry.size) checkContent(entry, produced, crc);
        crc = crc32(chunk, crc);
        yield chunk;
      }
    } catch (cause) {
      if (cause instanceof InvalidBundleError || cause instanceof ByteSourceError) throw cause;
      throw new InvalidBundleError('UnreadableArchive', `entry ${entry.name} cannot be inflated`, { entry: entry.name }, { cause });
    }
    checkContent(entry, produced, crc);
  }
}

function checkContent(entry: ZipEntry, length: number, crc: number): void {
  if (length !== entry.size) {
    throw new InvalidBundleError('EntrySizeMismatch', `entry ${entry.name} holds ${length} bytes but declares ${entry.size}`, {
      entry: entry.name,
    });
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) {
    throw new InvalidBundleError('ChecksumMismatch', `entry ${entry.name} fails its CRC-32 check`, { entry: entry.name });
  }
}

interface EndOfCentralDirectory {
  readonly entryCount: number;
  readonly centralOffset: number;
  readonly centralSize: number;
}

async function readEndOfCentralDirectory(source: ByteSource): Promise<EndOfCentralDirectory> {
  if (source.size < EOCD_SIZE) {
    throw new InvalidBundleError('TruncatedArchive', `the file is ${source.size} bytes, too short to be a ZIP archive`, { size: source.size });
  }
  const tailLength = Math.min(source.size, EOCD_SIZE + MAX_EOCD_COMMENT);
  const tailStart = source.size - tailLength;
  const tail = Buffer.from(await source.read(tailStart, tailLength));
  let eocdAt = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    // The comment length must reach exactly to the end of the file, or this is not the record.
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
      eocdAt = i;
      break;
    }
  }
  if (eocdAt < 0) {
    const head = Buffer.from(await source.read(0, 4));
    if (head.readUInt32LE(0) === LOCAL_HEADER_SIGNATURE) {
      throw new InvalidBundleError('TruncatedArchive', 'the archive ends before its central directory: the file is truncated', {
        size: source.size,
      });
    }
    throw new InvalidBundleError('UnreadableArchive', 'the file is not a ZIP archive', { size: source.size });
  }
  const eocdPosition = tailStart + eocdAt;
  const disk = tail.readUInt16LE(eocdAt + 4);
  const centralDisk = tail.readUInt16LE(eocdAt + 6);
  let entryCount = tail.readUInt16LE(eocdAt + 10);
  let centralSize = tail.readUInt32LE(eocdAt + 12);
  let centralOffset = tail.readUInt32LE(eocdAt + 16);
  let centralEnd = eocdPosition;
  // On one disk, the entries on this disk are all of them (0xffff both: counted in the zip64 record).
  if (disk !== 0 || centralDisk !== 0 || tail.readUInt16LE(eocdAt + 8) !== entryCount) {
    throw new InvalidBundleError('UnreadableArchive', 'multi-disk ZIP archives are not supported', {});
  }
  const locatorAt = eocdPosition - ZIP64_LOCATOR_SIZE;
  if (locatorAt >= 0) {
    const locator = Buffer.from(await source.read(locatorAt, ZIP64_LOCATOR_SIZE));
    if (locator.readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE) {
      const eocd64Offset = readUInt64(locator, 8);
      if (eocd64Offset + ZIP64_EOCD_SIZE > locatorAt) {
        throw new InvalidBundleError('TruncatedArchive', 'the zip64 end record lies outside the archive', {});
      }
      const eocd64 = Buffer.from(await source.read(eocd64Offset, ZIP64_EOCD_SIZE));
      if (eocd64.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) {
        throw new InvalidBundleError('UnreadableArchive', 'the zip64 end record is missing where its locator points', {});
      }
      entryCount = readUInt64(eocd64, 32);
      centralSize = readUInt64(eocd64, 40);
      centralOffset = readUInt64(eocd64, 48);
      centralEnd = eocd64Offset;
    }
  }
  if (centralSize === UINT32_SENTINEL || centralOffset === UINT32_SENTINEL) {
    if (centralEnd === eocdPosition) {
      throw new InvalidBundleError('UnreadableArchive', 'the archive needs a zip64 end record but has none', {});
    }
  }
  if (centralOffset + centralSize !== centralEnd) {
    throw new InvalidBundleError(
      'TruncatedArchive',
      `the central directory (offset ${centralOffset}, ${centralSize} bytes) does not end where the end record begins (${centralEnd})`,
      { centralOffset, centralSize },
    );
  }
  return { entryCount, centralOffset, centralSize };
}

async function readCentralDirectory(source: ByteSource, end: EndOfCentralDirectory, limits: ZipLimits): Promise<ZipEntry[]> {
  if (end.entryCount > limits.maxEntries) {
    throw new InvalidBundleError('UnsupportedEntry', `the archive declares ${end.entryCount} entries, more than the ${limits.maxEntries} allowed`, {
      entries: end.entryCount,
    });
  }
  if (end.centralSize > limits.maxCentralDirectoryBytes || end.entryCount * CENTRAL_HEADER_SIZE > end.centralSize) {
    throw new InvalidBundleError('UnreadableArchive', 'the central directory size does not fit its entry count', {
      entries: end.entryCount,
      centralSize: end.centralSize,
    });
  }
  const central = Buffer.from(await source.read(end.centralOffset, end.centralSize));
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let cursor = 0;
  for (let index = 0; index < end.entryCount; index++) {
    if (cursor + CENTRAL_HEADER_SIZE > central.length || central.readUInt32LE(cursor) !== CENTRAL_HEADER_SIGNATURE) {
      throw new InvalidBundleError('UnreadableArchive', `central directory record ${index} is damaged`, { index });
    }
    const flags = central.readUInt16LE(cursor + 8);
    const method = central.readUInt16LE(cursor + 10);
    const crc = central.readUInt32LE(cursor + 16);
    let compressedSize = central.readUInt32LE(cursor + 20);
    let size = central.readUInt32LE(cursor + 24);
    const nameLength = central.readUInt16LE(cursor + 28);
    const extraLength = central.readUInt16LE(cursor + 30);
    const commentLength = central.readUInt16LE(cursor + 32);
    let localHeaderOffset = central.readUInt32LE(cursor + 42);
    if (central.readUInt16LE(cursor + 34) !== 0) {
      throw new InvalidBundleError('UnreadableArchive', `central directory record ${index} names another disk`, { index });
    }
    const recordEnd = cursor + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (recordEnd > central.length) {
      throw new InvalidBundleError('UnreadableArchive', `central directory record ${index} overruns the directory`, { index });
    }
    const nameBytes = central.subarray(cursor + CENTRAL_HEADER_SIZE, cursor + CENTRAL_HEADER_SIZE + nameLength);
    const name = decodeName(nameBytes, flags, index);
    const extra = central.subarray(cursor + CENTRAL_HEADER_SIZE + nameLength, cursor + CENTRAL_HEADER_SIZE + nameLength + extraLength);
    const zip64 = findExtra(extra, ZIP64_EXTRA_ID);
    if (zip64) {
      let at = 0;
      const take = (): number => {
        if (at + 8 > zip64.length) {
          throw new InvalidBundleError('UnreadableArchive', `entry ${name} has a short zip64 field`, { entry: name });
        }
        const value = readUInt64(zip64, at);
        at += 8;
        return value;
      };
      if (size === UINT32_SENTINEL) size = take();
      if (compressedSize === UINT32_SENTINEL) compressedSize = take();
      if (localHeaderOffset === UINT32_SENTINEL) localHeaderOffset = take();
    }
    const unsafe = unsafeEntryNameReason(name);
    if (unsafe) {
      throw new InvalidBundleError('UnsafeEntryName', `entry name ${JSON.stringify(name)} ${unsafe}`, { entry: name });
    }
    if (names.has(name)) {
      throw new InvalidBundleError('DuplicateEntry', `entry ${name} appears more than once`, { entry: name });
    }
    names.add(name);
    if (flags & FLAG_ENCRYPTED) {
      throw new InvalidBundleError('UnsupportedEntry', `entry ${name} is encrypted`, { entry: name });
    }
    if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
      throw new InvalidBundleError('UnsupportedEntry', `entry ${name} uses compression method ${method}; only stored and deflate are read`, {
        entry: name,
      });
    }
    if (method === METHOD_STORED && compressedSize !== size) {
      throw new InvalidBundleError('EntrySizeMismatch', `stored entry ${name} declares ${compressedSize} stored bytes for ${size} bytes of content`, {
        entry: name,
      });
    }
    if (method === METHOD_DEFLATE && size > Math.max(compressedSize, 1) * limits.maxCompressionRatio) {
      throw new InvalidBundleError(
        'CompressionRatioExceeded',
        `entry ${name} would inflate ${compressedSize} bytes to ${size}, a ratio above the ${limits.maxCompressionRatio} allowed`,
        { entry: name, compressedSize, size },
      );
    }
    const isDirectory = name.endsWith('/');
    if (isDirectory && size !== 0) {
      throw new InvalidBundleError('EntrySizeMismatch', `directory entry ${name} has content`, { entry: name });
    }
    const sharedFields = [central.readUInt16LE(cursor + 6), flags, central.readUInt16LE(cursor + 12), central.readUInt16LE(cursor + 14)];
    const centralOnlyFields = [central.readUInt16LE(cursor + 4), central.readUInt16LE(cursor + 36), central.readUInt32LE(cursor + 38)];
    entries.push({ name, method, crc32: crc, compressedSize, size, localHeaderOffset, dataOffset: -1, isDirectory, sharedFields, centralOnlyFields });
    cursor = recordEnd;
  }
  if (cursor !== central.length) {
    throw new InvalidBundleError('UnreadableArchive', 'the central directory holds more records than the end record declares', {});
  }
  return entries;
}

/**
 * Reads local headers in batches: headers that lie close together (small entries) are fetched in
 * one read, so opening an archive of many entries costs few reads (few ranged GETs on S3).
 */
const HEADER_BATCH_BYTES = 1 << 20;
/** Room assumed for a local header's extra field beyond what the central record says. */
const LOCAL_EXTRA_ALLOWANCE = 64;

async function resolveLocalHeaders(source: ByteSource, entries: ZipEntry[], centralOffset: number): Promise<void> {
  const order = entries.map((_, index) => index).sort((a, b) => entries[a]!.localHeaderOffset - entries[b]!.localHeaderOffset);
  const headerEnd = (entry: ZipEntry): number =>
    entry.localHeaderOffset + LOCAL_HEADER_SIZE + Buffer.byteLength(entry.name) + LOCAL_EXTRA_ALLOWANCE;
  // How far one read may reach from the entry at `position`: up to the headers of the following
  // entries that lie within a batch. Computed only when a read is needed, so the scan stays linear.
  const batchEndFrom = (position: number): number => {
    const start = entries[order[position]!]!.localHeaderOffset;
    let end = headerEnd(entries[order[position]!]!);
    for (let next = position + 1; next < order.length; next++) {
      const candidate = headerEnd(entries[order[next]!]!);
      if (candidate - start > HEADER_BATCH_BYTES) break;
      end = candidate;
    }
    return end;
  };
  let window: { start: number; bytes: Buffer } | undefined;
  const readHeaderBytes = async (offset: number, length: number, position: number): Promise<Buffer> => {
    if (window && offset >= window.start && offset + length <= window.start + window.bytes.length) {
      return window.bytes.subarray(offset - window.start, offset - window.start + length);
    }
    const end = Math.min(Math.max(offset + length, batchEndFrom(position)), centralOffset);
    window = { start: offset, bytes: Buffer.from(await source.read(offset, end - offset)) };
    return window.bytes.subarray(0, length);
  };
  for (let position = 0; position < order.length; position++) {
    const index = order[position]!;
    const entry = entries[index]!;
    if (entry.localHeaderOffset + LOCAL_HEADER_SIZE > centralOffset) {
      throw new InvalidBundleError('TruncatedArchive', `entry ${entry.name} starts outside the archive data`, { entry: entry.name });
    }
    const fixed = await readHeaderBytes(entry.localHeaderOffset, LOCAL_HEADER_SIZE, position);
    if (fixed.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
      throw new InvalidBundleError('UnreadableArchive', `entry ${entry.name} has no local header where the directory points`, {
        entry: entry.name,
      });
    }
    const flags = fixed.readUInt16LE(6);
    const method = fixed.readUInt16LE(8);
    const crc = fixed.readUInt32LE(14);
    const localCompressedSize = fixed.readUInt32LE(18);
    const localSize = fixed.readUInt32LE(22);
    const nameLength = fixed.readUInt16LE(26);
    const extraLength = fixed.readUInt16LE(28);
    const variableEnd = entry.localHeaderOffset + LOCAL_HEADER_SIZE + nameLength + extraLength;
    if (variableEnd > centralOffset) {
      throw new InvalidBundleError('TruncatedArchive', `entry ${entry.name} has a local header that overruns the archive`, { entry: entry.name });
    }
    const variable = await readHeaderBytes(entry.localHeaderOffset + LOCAL_HEADER_SIZE, nameLength + extraLength, position);
    const localName = decodeName(variable.subarray(0, nameLength), flags, index);
    const localShared = [fixed.readUInt16LE(4), flags, fixed.readUInt16LE(10), fixed.readUInt16LE(12)];
    if (localName !== entry.name || method !== entry.method || localShared.some((value, at) => value !== entry.sharedFields[at])) {
      throw new InvalidBundleError('EntrySizeMismatch', `entry ${entry.name} disagrees with its local header`, { entry: entry.name });
    }
    if (!(flags & FLAG_DATA_DESCRIPTOR)) {
      let compressedSize = localCompressedSize;
      let size = localSize;
      const zip64 = findExtra(variable.subarray(nameLength), ZIP64_EXTRA_ID);
      if (zip64 && zip64.length >= 16 && (size === UINT32_SENTINEL || compressedSize === UINT32_SENTINEL)) {
        // APPNOTE 4.5.3: with the zip64 field, both 32-bit sizes are the sentinel (a local header
        // holds both sizes there, in this order).
        if (size !== UINT32_SENTINEL || compressedSize !== UINT32_SENTINEL) {
          throw new InvalidBundleError('EntrySizeMismatch', `entry ${entry.name} has a zip64 local header with only one size marked`, { entry: entry.name });
        }
        size = readUInt64(zip64, 0);
        compressedSize = readUInt64(zip64, 8);
      }
      if (crc !== entry.crc32 || size !== entry.size || compressedSize !== entry.compressedSize) {
        throw new InvalidBundleError('EntrySizeMismatch', `entry ${entry.name}: local header and central directory disagree on size or CRC`, {
          entry: entry.name,
        });
      }
    }
    const dataEnd = variableEnd + entry.compressedSize;
    if (dataEnd > centralOffset) {
      throw new InvalidBundleError('TruncatedArchive', `entry ${entry.name} declares more bytes than the archive holds`, { entry: entry.name });
    }
    entries[index] = { ...entry, dataOffset: variableEnd };
  }
  // Overlapping entries are the classic way to make a small archive expand to many copies of
  // the same bytes; a well-formed archive never has them.
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1]!;
    if (previous.dataOffset + previous.compressedSize > byOffset[i]!.localHeaderOffset) {
      throw new InvalidBundleError('EntrySizeMismatch', `entries ${previous.name} and ${byOffset[i]!.name} overlap`, {
        entry: byOffset[i]!.name,
      });
    }
  }
}

function decodeName(bytes: Buffer, flags: number, index: number): string {
  const utf8 = (flags & FLAG_UTF8) !== 0;
  if (!utf8 && bytes.some((byte) => byte > 0x7f)) {
    throw new InvalidBundleError('UnsafeEntryName', `entry ${index} has a non-ASCII name without the UTF-8 flag`, { index });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidBundleError('UnsafeEntryName', `entry ${index} has a name that is not valid UTF-8`, { index });
  }
}

function findExtra(extra: Buffer, id: number): Buffer | undefined {
  let cursor = 0;
  while (cursor + 4 <= extra.length) {
    const fieldId = extra.readUInt16LE(cursor);
    const fieldLength = extra.readUInt16LE(cursor + 2);
    const start = cursor + 4;
    if (start + fieldLength > extra.length) return undefined;
    if (fieldId === id) return extra.subarray(start, start + fieldLength);
    cursor = start + fieldLength;
  }
  return undefined;
}
