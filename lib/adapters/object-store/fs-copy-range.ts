/**
 * A range of a stored object as a new object, on a directory (copyRange): a composed version whose
 * extents are hard links to the files the range lies in, when linking keeps little else alive, or
 * a copy made inside the store otherwise (the bytes never go through the caller, which has read
 * and checked them already).
 *
 * A file is linked only when it holds at most KEPT_BYTES_FACTOR times the bytes used of it, plus
 * the slack: a member kept as a segment of its own (fs-segments.ts) is linked whole, a member of a
 * bundle stored as one file is copied (linking it would keep the whole bundle alive). Linked files
 * never change (object files and composed files are written once), and an object file is checked
 * to be the inode the version named, so the bytes taken are the bytes of that version.
 */
import { createReadStream } from 'node:fs';
import { link, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposedFile, ComposedLayout } from './fs-composed-layout.ts';
import { piecesOfRange } from './fs-composed-layout.ts';
import { COMPOSED_FOLDER, KEPT_BYTES_FACTOR, KEPT_BYTES_SLACK, syncFolder, WRITTEN_FILE, type ResolvedSource } from './fs-composed.ts';
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
  for (const piece of pieces) {
    let index = linkedIndex.get(piece.from);
    if (index === undefined && piece.fileSize <= KEPT_BYTES_FACTOR * piece.length + KEPT_BYTES_SLACK && (await linked(piece, join(folder, `f${files.length}`)))) {
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

/** Links the piece's file at `target`; false (nothing left behind) when it cannot be, or is no longer the inode meant. */
async function linked(piece: Piece, target: string): Promise<boolean> {
  try {
    await link(piece.from, target);
  } catch {
    // Gone, too many links (EMLINK), or a volume without hard links: copied instead.
    return false;
  }
  if (piece.ino !== undefined && (await stat(target)).ino !== piece.ino) {
    await unlink(target);
    return false;
  }
  return true;
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
