/**
 * The ZIP structures the bundle uses (APPNOTE 6.3): signatures, fixed sizes and field limits.
 * Kept apart so the writer and the reader cannot disagree on a number.
 */
export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const EOCD_SIGNATURE = 0x06054b50;
export const ZIP64_EOCD_SIGNATURE = 0x06064b50;
export const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const EOCD_SIZE = 22;
export const ZIP64_EOCD_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;
export const MAX_EOCD_COMMENT = 0xffff;

export const ZIP64_EXTRA_ID = 0x0001;
export const UINT32_SENTINEL = 0xffffffff;
export const UINT16_SENTINEL = 0xffff;

export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;

export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_DATA_DESCRIPTOR = 0x0008;
export const FLAG_UTF8 = 0x0800;

export const VERSION_ZIP64 = 45;
export const VERSION_DEFAULT = 20;
/** "Made by" Unix (3) so that the external attributes carry a file mode. */
export const VERSION_MADE_BY = (3 << 8) | VERSION_ZIP64;
export const UNIX_FILE_ATTRIBUTES = (0o100644 << 16) >>> 0;

/** 1980-01-01 00:00:00, the DOS epoch: fixed so that the same inputs give the same bundle bytes. */
export const DOS_TIME = 0;
export const DOS_DATE = (0 << 9) | (1 << 5) | 1;

export function writeUInt64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeBigUInt64LE(BigInt(value), offset);
}

export function readUInt64(buffer: Buffer, offset: number): number {
  const value = buffer.readBigUInt64LE(offset);
  // Offsets beyond 2^53 cannot be addressed by a Number; no real bundle comes near (8 PiB).
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(value);
}
