/**
 * A range of a stored object as a new object, on a directory (copyRange): a composed version whose
 * extents are hard links to the files the range lies in, when linking keeps little else alive, or
 * a copy made inside the store otherwise (the bytes never go through the caller, which has read
 * and checked them already).
 *
 * A file is linked only when the range covers it whole (a member kept as a segment of its own,
 * fs-segments.ts) or uses at least 1/KEPT_BYTES_FACTOR of it (a bundle of one large member): no
 * slack, since the copy outlives its source and would keep the rest of a bundle alive for good.
 * A member among others in one file (a bundle stored by a plain put, or past a data descriptor
 * the splitter stops at) is copied. Linked files never change (object files and composed files
 * are written once), and an object file is checked to be the inode the version named, so the
 * bytes taken are the bytes of that version.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposedFile, ComposedLayout } from './fs-composed-layout.ts';
import { piecesOfRange } from './fs-composed-layout.ts';
import { COMPOSED_FOLDER, KEPT_BYTES_FACTOR, linkVerified, syncFolder, WRITTEN_FILE, type ResolvedSource } from './fs-composed.ts';
import { BatchedWriter } from './fs-object-file.ts';

interface Piece {
  readonly from: string;
  /** For an object file: the inode it must be. */
  readonly ino?: number;
  readonly fileSize: number;
  readonly offset: number;
  readonly length: number;
  /** The file's checksums, when its layout has them: carried to the copy's layout with the link. */
  readonly checksums?: Pick<ComposedFile, 'sha256' | 'crc32'>;
}

/** Lays out `length` bytes at `offset` of `source` in `folder`; undefined when the range is outside it or its files are gone. */
export async function copyRangeInto(folder: string, version: string, source: ResolvedSource, offset: number, length: number): Promise<ComposedLayout | undefined> {
  const pieces = piecesOf(source, offset, length);
  if (!pieces) return undefined;
  const files: ComposedFile[] = [];
  const linkedIndex = new Map<string, number>();
  const extents: { file: number | 'written'; offset: number; length: number }[] = [];
  const toCopy: Piece[] = [];
  const usedOf = new Map<string, number>();
  for (const piece of pieces) usedOf.set(piece.from, (usedOf.get(piece.from) ?? 0) + piece.length);
  const worthLinking = (piece: Piece): boolean => {
    const used = usedOf.get(piece.from)!;
    return used === piece.fileSize || piece.fileSize <= KEPT_BYTES_FACTOR * used;
  };
  for (const piece of pieces) {
    let index = linkedIndex.get(piece.from);
    if (index === undefined && worthLinking(piece) && (await linkVerified(piece.from, join(folder, `f${files.length}`), piece.ino))) {
      index = files.length;
      linkedIndex.set(piece.from, index);
      files.push({ name: `f${index}`, size: piece.fileSize, ...piece.checksums });
    }
    if (index !== undefined) {
      extents.push({ file: index, offset: piece.offset, length: piece.length });
    } else {
      extents.push({ file: 'written', offset: 0, length: piece.length });
      toCopy.push(piece);
    }
  }
  let writtenSize = 0;
  if (toCopy.length > 0) {
    const copied = await copyPieces(join(folder, WRITTEN_FILE), toCopy);
    if (copied === undefined) return undefined;
    writtenSize = copied;
    files.push({ name: WRITTEN_FILE, size: writtenSize });
  }
  const writtenIndex = files.length - 1;
  let writtenAt = 0;
  const layoutExtents: [number, number, number][] = [];
  for (const extent of extents) {
    if (extent.file === 'written') {
      layoutExtents.push([writtenIndex, writtenAt, extent.length]);
      writtenAt += extent.length;
    } else {
      layoutExtents.push([extent.file, extent.offset, extent.length]);
    }
  }
  await syncFolder(folder);
  return { version, files, extents: layoutExtents };
}

function piecesOf(source: ResolvedSource, offset: number, length: number): Piece[] | undefined {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) return undefined;
  if (source.kind === 'file') {
    if (offset + length > source.contentSize) return undefined;
    return length === 0 ? [] : [{ from: source.path, ino: source.ino, fileSize: source.fileSize, offset, length }];
  }
  const pieces: Piece[] = [];
  let covered = 0;
  for (const piece of piecesOfRange(source.layout, offset, length)) {
    const { sha256, crc32 } = piece.file;
    pieces.push({
      from: join(source.root, COMPOSED_FOLDER, source.layout.version, piece.file.name),
      fileSize: piece.file.size,
      offset: piece.offset,
      length: piece.length,
      ...(sha256 !== undefined && crc32 !== undefined ? { checksums: { sha256, crc32 } } : {}),
    });
    covered += piece.length;
  }
  return covered === length ? pieces : undefined;
}

/** Copies the pieces, in order, into one new file; undefined when one of them is gone (or rewritten since). */
async function copyPieces(path: string, pieces: readonly Piece[]): Promise<number | undefined> {
  const handle = await open(path, 'wx');
  try {
    const writer = new BatchedWriter(handle);
    for (const piece of pieces) {
      const from = await open(piece.from, 'r').catch(() => undefined);
      if (!from) return undefined;
      try {
        if (piece.ino !== undefined && (await from.stat()).ino !== piece.ino) return undefined;
        const stream = createReadStream('', { fd: from, start: piece.offset, end: piece.offset + piece.length - 1, highWaterMark: 1 << 20, autoClose: false });
        let copied = 0;
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          await writer.write(chunk);
          copied += chunk.length;
        }
        if (copied !== piece.length) return undefined;
      } finally {
        await from.close();
      }
    }
    const size = await writer.finish();
    await handle.sync();
    return size;
  } finally {
    await handle.close();
  }
}
