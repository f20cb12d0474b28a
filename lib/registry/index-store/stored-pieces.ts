/**
 * Where a repository object's entries are stored already, so a store that composes (a directory:
 * hard links and extents) writes only what changed: the new entries, the header and the tail.
 * A publish into a repository of ten thousand versions then writes kilobytes, not the ~80 MB of
 * each of the v5 and v4 objects (issue 9). A store without composition is handed the same bytes.
 */
import type { ComposedPart } from '../../ports/object-store.ts';
import { CLOSE, COMMA, OPEN, type BuiltObject, type EntryPiece } from './repository-object.ts';
import { compareRows } from './index-table.ts';
import { FINAL_BLOCK } from './gzip-segments.ts';

/** A stored repository object the pieces of a new one may be taken from. */
export interface PieceSource {
  readonly key: string;
  readonly etag: string;
  /** Where its deflate data starts (`OPEN`): the length of its gzip header. */
  readonly dataOffset: number;
  /** The entries it holds, in its order (the table's): where each lies follows from their lengths. */
  readonly pieces: readonly EntryPiece[];
}

/** The source of the objects derived from a built one (v4 and v3 from the v5 object just written). */
export function sourceOf(built: BuiltObject, key: string, etag: string): PieceSource {
  return { key, etag, dataOffset: built.headerLength, pieces: built.carried };
}

/**
 * The built object as parts: runs of bytes that lie together in the source (entries kept, with the
 * separators between them) and runs written anew (the header, new entries, the tail). The parts'
 * bytes are the object's, in order: checked against its size.
 *
 * Both lists are in table order and a kept entry is the same piece in both, so one walk of the
 * two finds where each kept entry lies, with no lookup table: the source's entries the object
 * does not hold (removed, or not carried by its media type) are stepped over, and an entry not
 * found where it would be is new.
 */
export function composedParts(built: BuiltObject, source: PieceSource | undefined): ComposedPart[] {
  const parts: ComposedPart[] = [];
  let run: { bytes: Uint8Array[]; offset: number | undefined; length: number } | undefined;
  const flush = (): void => {
    if (!run) return;
    parts.push(source && run.offset !== undefined ? { bytes: run.bytes, storedAt: { key: source.key, etag: source.etag, offset: run.offset } } : { bytes: run.bytes });
    run = undefined;
  };
  const add = (bytes: Uint8Array, storedOffset: number | undefined): void => {
    if (run && (storedOffset === undefined ? run.offset === undefined : run.offset !== undefined && run.offset + run.length === storedOffset)) {
      run.bytes.push(bytes);
      run.length += bytes.length;
      return;
    }
    flush();
    run = { bytes: [bytes], offset: storedOffset, length: bytes.length };
  };
  add(built.parts[0]!, undefined);
  add(OPEN.deflated, source?.dataOffset);
  const sourcePieces = source?.pieces ?? [];
  let next = 0;
  let nextOffset = (source?.dataOffset ?? 0) + OPEN.deflated.length;
  let previousEnd: number | undefined;
  built.carried.forEach((piece, index) => {
    while (next < sourcePieces.length && sourcePieces[next] !== piece && compareRows(sourcePieces[next]!.row, piece.row) < 0) {
      nextOffset += sourcePieces[next]!.deflated.length + COMMA.deflated.length;
      next++;
    }
    let offset: number | undefined;
    if (sourcePieces[next] === piece) {
      offset = nextOffset;
      nextOffset += piece.deflated.length + COMMA.deflated.length;
      next++;
    }
    if (index > 0) add(COMMA.deflated, previousEnd !== undefined && offset === previousEnd + COMMA.deflated.length ? previousEnd : undefined);
    add(piece.deflated, offset);
    previousEnd = offset === undefined ? undefined : offset + piece.deflated.length;
  });
  // CLOSE, the final block and the trailer: the built object's own last parts.
  const tail = built.parts.slice(-3);
  if (tail[0] !== CLOSE.deflated || tail[1] !== FINAL_BLOCK) throw new Error('a repository object ends with CLOSE, the final block and the trailer');
  for (const bytes of tail) add(bytes, undefined);
  flush();
  let size = 0;
  for (const part of parts) for (const bytes of part.bytes as readonly Uint8Array[]) size += bytes.length;
  if (size !== built.size) throw new Error(`the parts of a repository object hold ${size} bytes, the object ${built.size}`);
  return parts;
}
