/**
 * An object written in segments on a directory (putSegments): a composed version whose large
 * segments are files of their own (`s<n>`, n their place in the layout's files) and whose other
 * bytes are one `data` file, in a
 * single pass over the body (each byte written once). A later copyRange of exactly one segment
 * hard-links its file (fs-copy-range.ts): the bundle's large members become content objects
 * without a second write, and keep nothing else of the bundle alive once it is deleted.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import type { SegmentChunk } from '../../ports/object-store.ts';
import type { ComposedFile, ComposedLayout } from './fs-composed-layout.ts';
import { MAX_EXTENTS, syncFolder, WRITTEN_FILE } from './fs-composed.ts';
import { BatchedWriter } from './fs-object-file.ts';

/**
 * Whatever the caller marks, at most this many segments are kept apart: with the bytes between
 * them, the extents stay within MAX_EXTENTS. Segments past them go to `data`, and a copyRange of
 * one is a copy (a bundle of more than 127 large members writes those twice).
 */
const MAX_SEGMENT_FILES = Math.floor((MAX_EXTENTS - 1) / 2);

interface OpenFile {
  readonly name: string;
  readonly handle: FileHandle;
  readonly writer: BatchedWriter;
  size: number;
  /** For a segment: its checksums, computed from the very bytes written (checksumsOfRange answers from them). */
  readonly sha256?: Hash;
  crc32?: number;
}

/** Writes the body into `folder` (made by the caller, which owns it and removes it on failure). */
export async function writeSegmentsInto(folder: string, version: string, body: AsyncIterable<SegmentChunk>): Promise<ComposedLayout> {
  const files: ComposedFile[] = [];
  const extents: [number, number, number][] = [];
  let data: OpenFile | undefined;
  let dataIndex = -1;
  let segmentFile: OpenFile | undefined;
  let segmentIndex = -1;
  let currentSegment: number | undefined;
  const opened: OpenFile[] = [];
  const openFile = async (name: string, checksummed: boolean): Promise<OpenFile> => {
    const handle = await open(join(folder, name), 'wx');
    const file: OpenFile = { name, handle, writer: new BatchedWriter(handle), size: 0, ...(checksummed ? { sha256: createHash('sha256'), crc32: 0 } : {}) };
    opened.push(file);
    return file;
  };
  const extend = (fileIndex: number, offset: number, length: number): void => {
    const last = extents[extents.length - 1];
    if (last && last[0] === fileIndex && last[1] + last[2] === offset) last[2] += length;
    else extents.push([fileIndex, offset, length]);
  };
  try {
    for await (const chunk of body) {
      if (chunk.bytes.length === 0) continue;
      const apart = chunk.apart && (segmentFile !== undefined && currentSegment === chunk.segment ? true : files.length - (dataIndex >= 0 ? 1 : 0) < MAX_SEGMENT_FILES);
      if (apart) {
        if (currentSegment !== chunk.segment || !segmentFile) {
          await closeFile(segmentFile);
          segmentFile = await openFile(`s${files.length}`, true);
          segmentIndex = files.length;
          files.push({ name: segmentFile.name, size: 0 });
          currentSegment = chunk.segment;
        }
        extend(segmentIndex, segmentFile.size, chunk.bytes.length);
        segmentFile.sha256!.update(chunk.bytes);
        segmentFile.crc32 = crc32(chunk.bytes, segmentFile.crc32);
        await segmentFile.writer.write(chunk.bytes);
        segmentFile.size += chunk.bytes.length;
        continue;
      }
      if (segmentFile) {
        await closeFile(segmentFile);
        segmentFile = undefined;
        currentSegment = undefined;
      }
      if (!data) {
        data = await openFile(WRITTEN_FILE, false);
        dataIndex = files.length;
        files.push({ name: WRITTEN_FILE, size: 0 });
      }
      extend(dataIndex, data.size, chunk.bytes.length);
      await data.writer.write(chunk.bytes);
      data.size += chunk.bytes.length;
    }
    await closeFile(segmentFile);
    segmentFile = undefined;
    await closeFile(data);
    data = undefined;
  } finally {
    for (const file of opened) await file.handle.close().catch(() => undefined);
  }
  const sized = files.map((file): ComposedFile => {
    const written = opened.find((candidate) => candidate.name === file.name)!;
    return { name: file.name, size: written.size, ...(written.sha256 ? { sha256: written.sha256.digest('hex'), crc32: written.crc32! >>> 0 } : {}) };
  });
  await syncFolder(folder);
  return { version, files: sized, extents };
}

/** Writes out what is batched, makes it durable and closes it (a failure leaves the close to the caller's finally). */
async function closeFile(file: OpenFile | undefined): Promise<void> {
  if (!file) return;
  await file.writer.finish();
  await file.handle.sync();
  await file.handle.close();
}
