/**
 * A streaming ZIP writer with positional writes.
 *
 * Large entries are written once, straight to their final place in the file: the local header is
 * reserved first (with zip64 sizes, since the size is unknown), the bytes follow, and when the
 * entry is committed the header is rewritten with its name, CRC-32 and sizes. Because bundle
 * entries are content-addressed, the name is only known at the end; all such names have the same
 * length, so the reserved header fits. An entry can also be discarded (a duplicate, or a download
 * that must restart), which rewinds the file to where the entry began.
 *
 * Memory stays bounded by one coalescing buffer, whatever the size of the entries.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  DOS_DATE,
  DOS_TIME,
  EOCD_SIGNATURE,
  EOCD_SIZE,
  FLAG_UTF8,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  METHOD_DEFLATE,
  METHOD_STORED,
  UINT16_SENTINEL,
  UINT32_SENTINEL,
  UNIX_FILE_ATTRIBUTES,
  VERSION_DEFAULT,
  VERSION_MADE_BY,
  VERSION_ZIP64,
  ZIP64_EOCD_SIGNATURE,
  ZIP64_EOCD_SIZE,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE,
  writeUInt64,
} from './zip-format.ts';

const COALESCE_BYTES = 1 << 20;
const LOCAL_ZIP64_EXTRA_SIZE = 20;

interface CentralRecord {
  readonly name: Buffer;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
  readonly localZip64: boolean;
}

export class ZipWriter {
  private offset = 0;
  private readonly records: CentralRecord[] = [];
  private readonly names = new Set<string>();
  private openEntry: StreamingEntry | undefined;
  private closed = false;
  /** Small entries are appended here and written in large blocks. */
  private appended: Buffer[] = [];
  private appendedBytes = 0;

  private constructor(private readonly file: FileHandle) {}

  static async create(path: string): Promise<ZipWriter> {
    return new ZipWriter(await open(path, 'wx'));
  }

  get bytesWritten(): number {
    return this.offset;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Adds a small entry held in memory, deflated when asked (JSON documents). */
  async addBuffer(name: string, data: Uint8Array, options: { deflate: boolean }): Promise<void> {
    this.assertWritable();
    this.claimName(name);
    const payload = options.deflate ? deflateRawSync(data, { level: 9 }) : Buffer.from(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const record: CentralRecord = {
      name: nameBytes,
      method: options.deflate ? METHOD_DEFLATE : METHOD_STORED,
      crc: crc32(data),
      compressedSize: payload.length,
      size: data.length,
      localHeaderOffset: this.offset,
      localZip64: false,
    };
    const header = localHeader(record);
    this.records.push(record);
    await this.append(header);
    await this.append(payload);
  }

  /**
   * Starts a stored entry whose name (of `nameLength` bytes) is given at commit. Only one such
   * entry may be open at a time.
   */
  async beginStoredEntry(nameLength: number): Promise<StreamingEntry> {
    this.assertWritable();
    await this.flushAppended();
    const entry = new StreamingEntry(this, this.offset, nameLength);
    this.openEntry = entry;
    return entry;
  }

  /** Writes the central directory and closes the file. */
  async finish(): Promise<void> {
    this.assertWritable();
    const centralOffset = this.offset;
    const central = Buffer.concat(this.records.map(centralHeader));
    const centralSize = central.length;
    const needsZip64 =
      this.records.length >= UINT16_SENTINEL || centralOffset >= UINT32_SENTINEL || centralSize >= UINT32_SENTINEL;
    const trailer: Buffer[] = [central];
    if (needsZip64) {
      const eocd64 = Buffer.alloc(ZIP64_EOCD_SIZE);
      eocd64.writeUInt32LE(ZIP64_EOCD_SIGNATURE, 0);
      writeUInt64(eocd64, ZIP64_EOCD_SIZE - 12, 4);
      eocd64.writeUInt16LE(VERSION_MADE_BY, 12);
      eocd64.writeUInt16LE(VERSION_ZIP64, 14);
      writeUInt64(eocd64, this.records.length, 24);
      writeUInt64(eocd64, this.records.length, 32);
      writeUInt64(eocd64, centralSize, 40);
      writeUInt64(eocd64, centralOffset, 48);
      const locator = Buffer.alloc(ZIP64_LOCATOR_SIZE);
      locator.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, 0);
      writeUInt64(locator, centralOffset + centralSize, 8);
      locator.writeUInt32LE(1, 16);
      trailer.push(eocd64, locator);
    }
    const eocd = Buffer.alloc(EOCD_SIZE);
    eocd.writeUInt32LE(EOCD_SIGNATURE, 0);
    eocd.writeUInt16LE(Math.min(this.records.length, UINT16_SENTINEL), 8);
    eocd.writeUInt16LE(Math.min(this.records.length, UINT16_SENTINEL), 10);
    eocd.writeUInt32LE(Math.min(centralSize, UINT32_SENTINEL), 12);
    eocd.writeUInt32LE(Math.min(centralOffset, UINT32_SENTINEL), 16);
    trailer.push(eocd);
    for (const part of trailer) await this.append(part);
    await this.flushAppended();
    await this.file.sync();
    await this.file.close();
    this.closed = true;
  }

  /** Closes the file without finishing it; the caller deletes it. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private async append(data: Buffer): Promise<void> {
    this.appended.push(data);
    this.appendedBytes += data.length;
    this.offset += data.length;
    if (this.appendedBytes >= COALESCE_BYTES) await this.flushAppended();
  }

  private async flushAppended(): Promise<void> {
    if (this.appendedBytes === 0) return;
    const data = Buffer.concat(this.appended, this.appendedBytes);
    const position = this.offset - this.appendedBytes;
    this.appended = [];
    this.appendedBytes = 0;
    await this.writeAt(data, position);
  }

  /** @internal used by StreamingEntry */
  async writeAt(data: Uint8Array, position: number): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.file.write(data, written, data.length - written, position + written);
      written += bytesWritten;
    }
  }

  /** @internal used by StreamingEntry */
  async completeEntry(entry: StreamingEntry, record: CentralRecord | undefined, endOffset: number): Promise<void> {
    this.openEntry = undefined;
    if (record) {
      this.claimName(record.name.toString('utf8'));
      this.records.push(record);
      this.offset = endOffset;
    } else {
      // Discarded: rewind so the next entry overwrites these bytes, and cut them off in case none does.
      this.offset = entry.startOffset;
      await this.file.truncate(entry.startOffset);
    }
  }

  private claimName(name: string): void {
    if (this.names.has(name)) throw new Error(`duplicate zip entry ${name}`);
    this.names.add(name);
  }

  private assertWritable(): void {
    if (this.closed) throw new Error('zip writer is closed');
    if (this.openEntry) throw new Error('a streaming entry is still open');
  }
}

export class StreamingEntry {
  private readonly dataOffset: number;
  private position: number;
  private size = 0;
  private crc = 0;
  private readonly hash: Hash = createHash('sha256');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;

  constructor(
    private readonly writer: ZipWriter,
    readonly startOffset: number,
    private readonly nameLength: number,
  ) {
    this.dataOffset = startOffset + LOCAL_HEADER_SIZE + nameLength + LOCAL_ZIP64_EXTRA_SIZE;
    this.position = this.dataOffset;
  }

  get bytes(): number {
    return this.size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error('entry already completed');
    this.hash.update(chunk);
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    // Copy: the caller may reuse its buffer once write() returns.
    this.pending.push(Buffer.from(chunk));
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= COALESCE_BYTES) await this.flush();
  }

  /** The sha256 of everything written so far (hex). Call once, before commit. */
  digest(): string {
    return this.hash.digest('hex');
  }

  async commit(name: string): Promise<void> {
    const nameBytes = Buffer.from(name, 'utf8');
    if (nameBytes.length !== this.nameLength) throw new Error(`entry name ${name} does not have the reserved length`);
    await this.flush();
    this.done = true;
    const record: CentralRecord = {
      name: nameBytes,
      method: METHOD_STORED,
      crc: this.crc,
      compressedSize: this.size,
      size: this.size,
      localHeaderOffset: this.startOffset,
      localZip64: true,
    };
    await this.writer.writeAt(localHeader(record), this.startOffset);
    await this.writer.completeEntry(this, record, this.position);
  }

  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.pending = [];
    this.pendingBytes = 0;
    await this.writer.completeEntry(this, undefined, this.startOffset);
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.writer.writeAt(data, this.position);
    this.position += data.length;
  }
}

function localHeader(record: CentralRecord): Buffer {
  const extraLength = record.localZip64 ? LOCAL_ZIP64_EXTRA_SIZE : 0;
  const header = Buffer.alloc(LOCAL_HEADER_SIZE + record.name.length + extraLength);
  header.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(record.localZip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  header.writeUInt16LE(FLAG_UTF8, 6);
  header.writeUInt16LE(record.method, 8);
  header.writeUInt16LE(DOS_TIME, 10);
  header.writeUInt16LE(DOS_DATE, 12);
  header.writeUInt32LE(record.crc >>> 0, 14);
  header.writeUInt32LE(record.localZip64 ? UINT32_SENTINEL : record.compressedSize, 18);
  header.writeUInt32LE(record.localZip64 ? UINT32_SENTINEL : record.size, 22);
  header.writeUInt16LE(record.name.length, 26);
  header.writeUInt16LE(extraLength, 28);
  record.name.copy(header, LOCAL_HEADER_SIZE);
  if (record.localZip64) {
    const extra = LOCAL_HEADER_SIZE + record.name.length;
    header.writeUInt16LE(ZIP64_EXTRA_ID, extra);
    header.writeUInt16LE(16, extra + 2);
    writeUInt64(header, record.size, extra + 4);
    writeUInt64(header, record.compressedSize, extra + 12);
  }
  return header;
}

function centralHeader(record: CentralRecord): Buffer {
  const sizeOverflows = record.size >= UINT32_SENTINEL || record.compressedSize >= UINT32_SENTINEL;
  const offsetOverflows = record.localHeaderOffset >= UINT32_SENTINEL;
  const zip64Fields: number[] = [];
  if (sizeOverflows) zip64Fields.push(record.size, record.compressedSize);
  if (offsetOverflows) zip64Fields.push(record.localHeaderOffset);
  const extraLength = zip64Fields.length > 0 ? 4 + 8 * zip64Fields.length : 0;
  const header = Buffer.alloc(CENTRAL_HEADER_SIZE + record.name.length + extraLength);
  header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(VERSION_MADE_BY, 4);
  header.writeUInt16LE(record.localZip64 || extraLength > 0 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
  header.writeUInt16LE(FLAG_UTF8, 8);
  header.writeUInt16LE(record.method, 10);
  header.writeUInt16LE(DOS_TIME, 12);
  header.writeUInt16LE(DOS_DATE, 14);
  header.writeUInt32LE(record.crc >>> 0, 16);
  header.writeUInt32LE(sizeOverflows ? UINT32_SENTINEL : record.compressedSize, 20);
  header.writeUInt32LE(sizeOverflows ? UINT32_SENTINEL : record.size, 24);
  header.writeUInt16LE(record.name.length, 28);
  header.writeUInt16LE(extraLength, 30);
  header.writeUInt32LE(UNIX_FILE_ATTRIBUTES, 38);
  header.writeUInt32LE(offsetOverflows ? UINT32_SENTINEL : record.localHeaderOffset, 42);
  record.name.copy(header, CENTRAL_HEADER_SIZE);
  if (extraLength > 0) {
    let cursor = CENTRAL_HEADER_SIZE + record.name.length;
    header.writeUInt16LE(ZIP64_EXTRA_ID, cursor);
    header.writeUInt16LE(extraLength - 4, cursor + 2);
    cursor += 4;
    for (const field of zip64Fields) {
      writeUInt64(header, field, cursor);
      cursor += 8;
    }
  }
  return header;
}
