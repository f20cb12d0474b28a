/**
 * Tells, as a ZIP streams past, which of its bytes are the data of a large stored member: those
 * are handed on as segments of their own, so a store that keeps segments apart (the directory
 * store) can later make a member's content-addressed copy a hard link instead of a second write.
 *
 * Only a hint, never a check: the bytes handed on are exactly the bytes received, in order, and
 * whatever this does not understand (a data descriptor, a compressed or small member, the central
 * directory, garbage) simply goes on in the running segment. The bundle reader judges the bundle
 * later, from what was stored, as it always has; a bundle that lies in its local headers gets
 * segments in the wrong places (one that claims more data than it has makes the rest of the
 * body one segment), which costs a copy at ingest instead of a link, never a wrong byte.
 *
 * Hand-written: no streaming ZIP library hands on the raw member bytes at their offsets, and the
 * local header is thirty bytes and a zip64 field.
 */
import type { SegmentChunk } from '../../ports/object-store.ts';
import { FLAG_DATA_DESCRIPTOR, LOCAL_HEADER_SIGNATURE, LOCAL_HEADER_SIZE, METHOD_STORED, readUInt64, UINT32_SENTINEL, ZIP64_EXTRA_ID } from './zip-format.ts';

/** Members smaller than this stay with the headers: a link saves little, and each costs a file and an fsync. */
export const MIN_APART_BYTES = 1024 * 1024;

type State =
  | { readonly kind: 'header' }
  | { readonly kind: 'data'; remaining: number; readonly apart: boolean }
  /** Past the last local header, or lost: the rest goes on as it is. */
  | { readonly kind: 'rest' };

/** The body, chunked as it came, with each chunk's segment: a member's data apart, the rest between. */
export async function* storedMemberSegments(body: AsyncIterable<Uint8Array>): AsyncGenerator<SegmentChunk> {
  let segment = 0;
  let state: State = { kind: 'header' };
  // Bytes of a local header not yet complete (a header may straddle chunks).
  let pending: Buffer = Buffer.alloc(0);
  for await (const received of body) {
    let chunk: Uint8Array = received;
    while (chunk.length > 0) {
      if (state.kind === 'rest') {
        yield { bytes: chunk, segment, apart: false };
        break;
      }
      if (state.kind === 'data') {
        const taken = Math.min(state.remaining, chunk.length);
        yield { bytes: chunk.subarray(0, taken), segment, apart: state.apart };
        state.remaining -= taken;
        chunk = chunk.subarray(taken);
        if (state.remaining === 0) {
          if (state.apart) segment++;
          state = { kind: 'header' };
        }
        continue;
      }
      // A local header: gathered whole before it is judged, then handed on with the headers.
      pending = pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([pending, chunk]);
      const header = parseLocalHeader(pending);
      if (header === 'incomplete') {
        // Copied: the body may hand out its buffer again, refilled.
        pending = Buffer.from(pending);
        chunk = new Uint8Array(0);
        continue;
      }
      if (header === 'not-a-header') {
        state = { kind: 'rest' };
        chunk = pending;
        pending = Buffer.alloc(0);
        continue;
      }
      yield { bytes: pending.subarray(0, header.headerLength), segment, apart: false };
      chunk = pending.subarray(header.headerLength);
      pending = Buffer.alloc(0);
      // As many as there are: the store bounds how many it keeps apart (fs-segments.ts).
      const apart = header.stored && header.dataLength >= MIN_APART_BYTES;
      if (header.dataLength === 0) continue;
      if (apart) segment++;
      state = { kind: 'data', remaining: header.dataLength, apart };
    }
  }
  // A header cut short by the end of the body: its bytes still belong to the object.
  if (pending.length > 0) yield { bytes: pending, segment, apart: false };
}

interface LocalHeader {
  readonly headerLength: number;
  /** Bytes of data that follow the header, as the header says. */
  readonly dataLength: number;
  readonly stored: boolean;
}

function parseLocalHeader(bytes: Buffer): LocalHeader | 'incomplete' | 'not-a-header' {
  if (bytes.length < 4) return bytes.equals(signatureBytes.subarray(0, bytes.length)) ? 'incomplete' : 'not-a-header';
  if (bytes.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) return 'not-a-header';
  if (bytes.length < LOCAL_HEADER_SIZE) return 'incomplete';
  const flags = bytes.readUInt16LE(6);
  // Sizes that follow the data cannot say where it ends: nothing more is split.
  if (flags & FLAG_DATA_DESCRIPTOR) return 'not-a-header';
  const method = bytes.readUInt16LE(8);
  let compressedSize = bytes.readUInt32LE(18);
  const size = bytes.readUInt32LE(22);
  const nameLength = bytes.readUInt16LE(26);
  const extraLength = bytes.readUInt16LE(28);
  const headerLength = LOCAL_HEADER_SIZE + nameLength + extraLength;
  if (bytes.length < headerLength) return 'incomplete';
  if (compressedSize === UINT32_SENTINEL || size === UINT32_SENTINEL) {
    const zip64 = zip64Sizes(bytes.subarray(LOCAL_HEADER_SIZE + nameLength, headerLength), size === UINT32_SENTINEL, compressedSize === UINT32_SENTINEL);
    if (zip64 === undefined) return 'not-a-header';
    compressedSize = zip64.compressedSize;
  }
  return { headerLength, dataLength: compressedSize, stored: method === METHOD_STORED };
}

const signatureBytes = Buffer.alloc(4);
signatureBytes.writeUInt32LE(LOCAL_HEADER_SIGNATURE);

/** The compressed size from a zip64 extra field (the fields present are those whose header field is the sentinel, in order). */
function zip64Sizes(extra: Buffer, hasSize: boolean, hasCompressedSize: boolean): { compressedSize: number } | undefined {
  let cursor = 0;
  while (cursor + 4 <= extra.length) {
    const id = extra.readUInt16LE(cursor);
    const length = extra.readUInt16LE(cursor + 2);
    const body = cursor + 4;
    if (body + length > extra.length) return undefined;
    if (id === ZIP64_EXTRA_ID) {
      let field = body;
      if (hasSize) field += 8;
      if (!hasCompressedSize) return undefined;
      if (field + 8 > body + length) return undefined;
      return { compressedSize: readUInt64(extra, field) };
    }
    cursor = body + length;
  }
  return undefined;
}
