/**
 * Gzip assembled from independently compressed pieces, so that publishing one entry never
 * re-compresses (or even parses) the others.
 *
 * Each piece is raw deflate of its bytes alone, ended with a full flush: the flush ends on a byte
 * boundary and the next piece starts with an empty dictionary, so pieces can be joined in any
 * order and any subset under one gzip header, closed by an empty final block. The gzip trailer
 * needs the CRC-32 of everything joined; CRC-32 is linear, so the CRC of a join is computed from
 * the pieces' own CRCs and lengths (`combineCrc32`) without touching their bytes.
 *
 * Hand-written because Node's zlib has `crc32` but no combine; the arithmetic is CRC-32's
 * polynomial (reflected 0xEDB88320) over GF(2): appending n bytes multiplies a CRC by x^(8n).
 */
import { constants, crc32, deflateRaw } from 'node:zlib';
import { promisify } from 'node:util';

const POLYNOMIAL = 0xedb88320;
const X0 = 0x80000000; // x^0 in the reflected representation

/** a × b modulo the CRC polynomial. */
function multiplyModP(a: number, b: number): number {
  let mask = X0;
  let product = 0;
  for (;;) {
    if (a & mask) {
      product ^= b;
      if ((a & (mask - 1)) === 0) break;
    }
    mask >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo P for k = 0..31: squaring gives the next. */
const X_POWERS_OF_TWO: number[] = (() => {
  const table = [0x40000000];
  for (let k = 1; k < 32; k++) table.push(multiplyModP(table[k - 1]!, table[k - 1]!));
  return table;
})();

/** x^(8·length) modulo P: what appending `length` bytes multiplies a CRC by. */
export function crcShiftFor(length: number): number {
  let power = X0;
  let k = 3; // 8 = 2^3: bits per byte
  let n = length;
  while (n > 0) {
    if (n % 2 === 1) power = multiplyModP(X_POWERS_OF_TWO[k & 31]!, power);
    n = Math.floor(n / 2);
    k++;
  }
  return power;
}

/** CRC-32 of A followed by B, from crc(A), crc(B) and the shift of B's length. */
export function combineCrc32(crcA: number, crcB: number, shiftB: number): number {
  return (multiplyModP(shiftB, crcA) ^ crcB) >>> 0;
}

/** One independently compressed piece and what joining it needs. */
export interface DeflatePiece {
  readonly deflated: Buffer;
  readonly rawLength: number;
  readonly crc: number;
  /** crcShiftFor(rawLength), kept so a join costs one multiplication per piece. */
  readonly shift: number;
}

function pieceOf(raw: Buffer, deflated: Buffer): DeflatePiece {
  return { deflated, rawLength: raw.length, crc: crc32(raw) >>> 0, shift: crcShiftFor(raw.length) };
}

const FULL_FLUSH = { level: 6, finishFlush: constants.Z_FULL_FLUSH } as const;

const deflateRawAsync = promisify(deflateRaw);

/** On the thread pool: a reindex compresses thousands of entries without holding the event loop. */
export async function deflatePiece(raw: Buffer): Promise<DeflatePiece> {
  return pieceOf(raw, compact(await deflateRawAsync(raw, FULL_FLUSH)));
}

/**
 * zlib's output may be a slice of a larger chunk it allocated; a reindex keeps ten thousand
 * pieces, and each would hold its whole chunk. Copied to its own size when that wastes memory.
 */
function compact(buffer: Buffer): Buffer {
  return buffer.buffer.byteLength > buffer.length + 1024 ? Buffer.from(buffer) : buffer;
}

/** The empty final block (BFINAL=1, fixed Huffman, end-of-block code only): ends the deflate stream. */
export const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** CRC and length of a run of joined pieces, grown one piece at a time. */
export class CrcAccumulator {
  crc = 0;
  length = 0;
  append(piece: { readonly crc: number; readonly shift: number; readonly rawLength: number }): void {
    this.crc = combineCrc32(this.crc, piece.crc, piece.shift);
    this.length += piece.rawLength;
  }
  /** What the run would be with `piece` appended, without changing it. */
  with(piece: { readonly crc: number; readonly shift: number; readonly rawLength: number }): { crc: number; length: number } {
    return { crc: combineCrc32(this.crc, piece.crc, piece.shift), length: this.length + piece.rawLength };
  }
}

const FLAG_COMMENT = 0x10;

/**
 * A gzip member header (RFC 1952), with `comment` in its FCOMMENT field when given: decoders skip
 * it, and this registry keeps there what a reader needs before the first byte of the document.
 * Latin-1, no NUL.
 */
export function gzipHeader(comment?: string): Buffer {
  const fixed = Buffer.from([0x1f, 0x8b, 0x08, comment === undefined ? 0 : FLAG_COMMENT, 0, 0, 0, 0, 0x00, 0xff]);
  if (comment === undefined) return fixed;
  if (comment.includes('\0')) throw new Error('a gzip comment cannot hold NUL');
  return Buffer.concat([fixed, Buffer.from(comment, 'latin1'), Buffer.from([0])]);
}

/** The gzip trailer: CRC-32 and length (mod 2^32) of the uncompressed bytes. */
export function gzipTrailer(crc: number, length: number): Buffer {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  return trailer;
}

/**
 * Reads the header of a gzip member written by `gzipHeader`: its comment and where the deflate
 * data starts, or undefined when `bytes` does not yet hold the whole header. Throws when the
 * bytes are not such a header.
 */
export function parseGzipHeader(bytes: Buffer): { comment: string | undefined; dataOffset: number } | undefined {
  if (bytes.length < 10) return undefined;
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 0x08) throw new Error('not a gzip member');
  const flags = bytes[3]!;
  if (flags & ~FLAG_COMMENT) return { comment: undefined, dataOffset: -1 };
  if (!(flags & FLAG_COMMENT)) return { comment: undefined, dataOffset: 10 };
  const end = bytes.indexOf(0, 10);
  if (end < 0) return undefined;
  return { comment: bytes.subarray(10, end).toString('latin1'), dataOffset: end + 1 };
}
