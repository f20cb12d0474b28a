/**
 * Composition on a directory: an object made of parts that are stored already costs hard links
 * and a list of extents, not a copy of their bytes (what UploadPartCopy is to S3).
 *
 * A composed version owns a folder, `.composed/<version>/`: hard links to every file its extents
 * lie in (an object file, whose inode never changes once renamed into place, or a file of another
 * composed version, never changed either) and `data`, the bytes written for it. Hard links make
 * the file system count the references: a version's folder can be removed without looking at any
 * other, and the bytes go when the last version using them goes. Nothing here is bookkeeping that
 * could be wrong; which folders are in use is read from the objects themselves (sweep).
 *
 * The extents are kept few (MAX_EXTENTS, so a read opens at most that many files) by writing the
 * smallest neighbouring pairs again; and when the files a version keeps alive hold more than twice
 * its bytes (entries removed over time), it is written whole once.
 */
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { partBuffers, partLength, type ComposedPart } from '../../ports/object-store.ts';
import { composedSize, piecesOfRange, type ComposedFile, type ComposedLayout } from './fs-composed-layout.ts';
import { BatchedWriter } from './fs-object-file.ts';

export const COMPOSED_FOLDER = '.composed';
/** Most extents of one version: a full read opens at most this many files. */
export const MAX_EXTENTS = 256;
/** Past this many merges a version is written whole (cheaper than choosing that many pairs). */
const MAX_MERGES = 1024;
/** A version is written whole when the files it keeps hold more than this many times its bytes, plus the slack. */
export const KEPT_BYTES_FACTOR = 2;
export const KEPT_BYTES_SLACK = 16 * 1024 * 1024;
const OWNER_FILE = 'owner';
export const WRITTEN_FILE = 'data';
/** A sweep's mark that it found a version's folder unnamed: `<version>.superseded`, beside it. */
const SUPERSEDED_SUFFIX = '.superseded';
const VERSION_NAME = /^[0-9a-f]{24}$/;
/**
 * How long a version no object names any more stays readable, counted from when a sweep first saw
 * it so: a reader that opened it before it was replaced reads its files lazily, one extent at a
 * time, and must be done by then.
 */
export const SUPERSEDED_GRACE_MS = 15 * 60 * 1000;

/** A stored object a part may be taken from, as found when the composition started. */
export type ResolvedSource =
  | { readonly kind: 'file'; readonly path: string; readonly ino: number; readonly fileSize: number; readonly contentSize: number }
  | { readonly kind: 'composed'; readonly root: string; readonly layout: ComposedLayout };

interface SourceFile {
  readonly from: string;
  /** For an object file: the inode it must still be once linked (the key may have been rewritten since). */
  readonly ino?: number;
  readonly size: number;
}

interface Planned {
  /** Where the bytes lie already (a source file and offset); undefined: written for this version. */
  stored: { readonly file: string; readonly offset: number } | undefined;
  length: number;
  /** The same bytes, in memory: written out when the extent cannot (or should not) be linked. */
  bytes: Uint8Array[];
}

/**
 * Lays out `parts` in `folder` (made by the caller, which owns it): links what is stored, writes
 * the rest. Returns the layout to put in the object's header.
 */
export async function composeInto(
  folder: string,
  version: string,
  parts: readonly ComposedPart[],
  sourceOf: (storedAt: NonNullable<ComposedPart['storedAt']>) => ResolvedSource | undefined,
): Promise<ComposedLayout> {
  const files = new Map<string, SourceFile>();
  const planned: Planned[] = [];
  let total = 0;
  for (const run of runsOf(parts)) {
    total += run.length;
    const source = run.storedAt ? sourceOf(run.storedAt) : undefined;
    if (!source || !planStored(run, source, files, planned)) append(planned, { stored: undefined, length: run.length, bytes: run.bytes });
  }
  bound(planned, files, total);
  const linked = await linkFiles(folder, planned, files);
  const kept = coalesced(planned.map((extent) => (extent.stored && !linked.has(extent.stored.file) ? { stored: undefined, length: extent.length, bytes: extent.bytes } : extent)));
  const layoutFiles: ComposedFile[] = [];
  const indexOfFile = new Map<string, number>();
  for (const [id, name] of linked) {
    indexOfFile.set(id, layoutFiles.length);
    layoutFiles.push({ name, size: files.get(id)!.size });
  }
  const extents: [number, number, number][] = [];
  const written = kept.filter((extent) => !extent.stored);
  let writtenAt = 0;
  const writtenIndex = layoutFiles.length;
  for (const extent of kept) {
    if (extent.stored) {
      extents.push([indexOfFile.get(extent.stored.file)!, extent.stored.offset, extent.length]);
    } else {
      extents.push([writtenIndex, writtenAt, extent.length]);
      writtenAt += extent.length;
    }
  }
  if (written.length > 0) {
    await writeBytes(join(folder, WRITTEN_FILE), written);
    layoutFiles.push({ name: WRITTEN_FILE, size: writtenAt });
  }
  await syncFolder(folder);
  return { version, files: layoutFiles, extents };
}

/** Consecutive parts as one: those that continue each other in one stored version, and those not stored. */
interface Run {
  readonly storedAt: ComposedPart['storedAt'];
  length: number;
  readonly bytes: Uint8Array[];
}

function runsOf(parts: readonly ComposedPart[]): Run[] {
  const runs: Run[] = [];
  for (const part of parts) {
    const length = partLength(part);
    if (length === 0) continue;
    const last = runs[runs.length - 1];
    const at = part.storedAt;
    const continuesLast = last && (at && last.storedAt ? at.key === last.storedAt.key && at.etag === last.storedAt.etag && at.offset === last.storedAt.offset + last.length : !at && !last.storedAt);
    if (last && continuesLast) {
      last.length += length;
      pushAll(last.bytes, partBuffers(part));
    } else {
      const bytes: Uint8Array[] = [];
      pushAll(bytes, partBuffers(part));
      runs.push({ storedAt: at, length, bytes });
    }
  }
  return runs;
}

/** Takes a list of buffers apart front to back, as views: each piece of a run in turn. */
class ByteCursor {
  private index = 0;
  private offset = 0;
  constructor(private readonly bytes: readonly Uint8Array[]) {}

  take(length: number): Uint8Array[] {
    const taken: Uint8Array[] = [];
    let wanted = length;
    while (wanted > 0) {
      const chunk = this.bytes[this.index]!;
      const available = chunk.length - this.offset;
      const size = Math.min(available, wanted);
      taken.push(this.offset === 0 && size === chunk.length ? chunk : chunk.subarray(this.offset, this.offset + size));
      wanted -= size;
      this.offset += size;
      if (this.offset === chunk.length) {
        this.index++;
        this.offset = 0;
      }
    }
    return taken;
  }
}

function pushAll<T>(target: T[], items: readonly T[]): void {
  // Not push(...items): a run of ten thousand entries is more arguments than a call should take.
  for (const item of items) target.push(item);
}

/** Plans a run found stored; false when its range is not all there (it is written instead). */
function planStored(run: Run, source: ResolvedSource, files: Map<string, SourceFile>, planned: Planned[]): boolean {
  const { offset } = run.storedAt!;
  const length = run.length;
  if (source.kind === 'file') {
    if (offset < 0 || offset + length > source.contentSize) return false;
    const id = `inode:${source.ino}`;
    files.set(id, { from: source.path, ino: source.ino, size: source.fileSize });
    append(planned, { stored: { file: id, offset }, length, bytes: run.bytes });
    return true;
  }
  if (offset < 0 || offset + length > composedSize(source.layout)) return false;
  const cursor = new ByteCursor(run.bytes);
  for (const piece of piecesOfRange(source.layout, offset, length)) {
    const id = `${source.layout.version}/${piece.file.name}`;
    files.set(id, { from: join(source.root, COMPOSED_FOLDER, source.layout.version, piece.file.name), size: piece.file.size });
    append(planned, { stored: { file: id, offset: piece.offset }, length: piece.length, bytes: cursor.take(piece.length) });
  }
  return true;
}

/** Adds an extent, joined to the last one when it continues it (the same file, the next byte; or both written). */
function append(planned: Planned[], extent: Planned): void {
  const last = planned[planned.length - 1];
  if (last && continues(last, extent)) {
    last.length += extent.length;
    pushAll(last.bytes, extent.bytes);
    return;
  }
  const bytes: Uint8Array[] = [];
  pushAll(bytes, extent.bytes);
  planned.push({ stored: extent.stored, length: extent.length, bytes });
}

function continues(last: Planned, next: Planned): boolean {
  if (!last.stored || !next.stored) return !last.stored && !next.stored;
  return last.stored.file === next.stored.file && last.stored.offset + last.length === next.stored.offset;
}

function coalesced(extents: readonly Planned[]): Planned[] {
  const joined: Planned[] = [];
  for (const extent of extents) append(joined, extent);
  return joined;
}

/**
 * Keeps a version's extents at most MAX_EXTENTS, writing the smallest neighbouring pair again
 * until they are (each publish of an index adds about two: the new entry and the split of the
 * one it lands in), and writes it whole when its files keep far more bytes than it has.
 */
function bound(planned: Planned[], files: ReadonlyMap<string, SourceFile>, total: number): void {
  const usedFiles = new Set(planned.flatMap((extent) => (extent.stored ? [extent.stored.file] : [])));
  let keptBytes = 0;
  for (const id of usedFiles) keptBytes += files.get(id)!.size;
  if (keptBytes > KEPT_BYTES_FACTOR * total + KEPT_BYTES_SLACK || planned.length - MAX_EXTENTS > MAX_MERGES) {
    const whole = coalesced(planned.map((extent) => ({ stored: undefined, length: extent.length, bytes: extent.bytes })));
    planned.splice(0, planned.length, ...whole);
    return;
  }
  while (planned.length > MAX_EXTENTS) {
    let smallest = 0;
    for (let index = 1; index < planned.length - 1; index++) {
      if (planned[index]!.length + planned[index + 1]!.length < planned[smallest]!.length + planned[smallest + 1]!.length) smallest = index;
    }
    const first = planned[smallest]!;
    const second = planned[smallest + 1]!;
    const bytes: Uint8Array[] = [];
    const merged: Planned = { stored: undefined, length: first.length + second.length, bytes };
    // Written neighbours join it: one extent for all.
    let from = smallest;
    let to = smallest + 2;
    const before = planned[from - 1];
    if (before && !before.stored) {
      from--;
      merged.length += before.length;
      pushAll(bytes, before.bytes);
    }
    pushAll(bytes, first.bytes);
    pushAll(bytes, second.bytes);
    const after = planned[to];
    if (after && !after.stored) {
      to++;
      merged.length += after.length;
      pushAll(bytes, after.bytes);
    }
    planned.splice(from, to - from, merged);
  }
}

/** Hard-links each file the extents use into the folder; the ones that could not be (gone, or rewritten since) are left out. */
async function linkFiles(folder: string, planned: readonly Planned[], files: ReadonlyMap<string, SourceFile>): Promise<Map<string, string>> {
  const linked = new Map<string, string>();
  for (const extent of planned) {
    const id = extent.stored?.file;
    if (id === undefined || linked.has(id)) continue;
    const file = files.get(id)!;
    const name = `f${linked.size}`;
    if (await linkVerified(file.from, join(folder, name), file.ino)) linked.set(id, name);
  }
  return linked;
}

/**
 * Hard-links `from` at `target`; false, leaving nothing, when it cannot be: gone (its version
 * collected, its key removed), too many links (EMLINK), a volume without hard links (EPERM,
 * ENOTSUP, EXDEV), or (`ino` given) the key was written again between reading it and linking its
 * path, so the inode is not the bytes meant. The caller writes the bytes instead.
 */
export async function linkVerified(from: string, target: string, ino: number | undefined): Promise<boolean> {
  try {
    await link(from, target);
  } catch {
    return false;
  }
  if (ino !== undefined && (await stat(target)).ino !== ino) {
    await unlink(target);
    return false;
  }
  return true;
}

async function writeBytes(path: string, extents: readonly Planned[]): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    const writer = new BatchedWriter(handle);
    for (const extent of extents) for (const bytes of extent.bytes) await writer.write(bytes);
    await writer.finish();
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes the folder's entries (the links) durable before an object names them. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function startVersionFolder(root: string, version: string, key: string): Promise<string> {
  const folder = join(root, COMPOSED_FOLDER, version);
  await mkdir(folder, { recursive: true });
  // Which key this version was written for: how a sweep tells whether it is still in use.
  await writeFile(join(folder, OWNER_FILE), key);
  return folder;
}

/** The bytes `[start, end]` of a composed object, read an extent at a time. */
export function composedBody(root: string, layout: ComposedLayout, start: number, end: number): Readable {
  const pieces = [...piecesOfRange(layout, start, end - start + 1)];
  const only = pieces.length === 1 ? pieces[0]! : undefined;
  // A range within one extent (a content object linked from a bundle's segment, read whole or in
  // part): the file's own stream, without a generator between it and the socket.
  if (only) return createReadStream(join(root, COMPOSED_FOLDER, layout.version, only.file.name), { start: only.offset, end: only.offset + only.length - 1, highWaterMark: READ_CHUNK });
  return Readable.from(readPieces(root, layout, start, end - start + 1), { objectMode: false });
}

const READ_CHUNK = 1 << 20;

async function* readPieces(root: string, layout: ComposedLayout, start: number, length: number): AsyncGenerator<Buffer> {
  for (const piece of piecesOfRange(layout, start, length)) {
    const stream = createReadStream(join(root, COMPOSED_FOLDER, layout.version, piece.file.name), { start: piece.offset, end: piece.offset + piece.length - 1, highWaterMark: READ_CHUNK });
    try {
      yield* stream as AsyncIterable<Buffer>;
    } finally {
      stream.destroy();
    }
  }
}

/**
 * Removes the folders of versions no object names (replaced, deleted, or never committed: a
 * composition that failed or was killed), once a sweep has seen them so for `olderThanMs`: the
 * first sweep that finds one unnamed marks it, and the age counts from that mark. `inUse` are
 * this process's compositions in progress; another process's is protected by the age alone (as a
 * put's temporary file is).
 */
export async function sweepComposedVersions(
  root: string,
  olderThanMs: number,
  versionNamedBy: (key: string) => Promise<string | undefined>,
  inUse: ReadonlySet<string>,
): Promise<{ removed: number; bytes: number }> {
  const swept = { removed: 0, bytes: 0 };
  const base = join(root, COMPOSED_FOLDER);
  let names: string[];
  try {
    names = await readdir(base);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return swept;
    throw error;
  }
  const present = new Set(names);
  const named = new Map<string, string | undefined>();
  for (const name of names) {
    if (name.endsWith(SUPERSEDED_SUFFIX)) {
      // A mark whose folder is gone (removed by a sweep that died before the mark).
      if (!present.has(name.slice(0, -SUPERSEDED_SUFFIX.length))) await rm(join(base, name), { force: true });
      continue;
    }
    if (!VERSION_NAME.test(name) || inUse.has(name)) continue;
    const version = name;
    const folder = join(base, version);
    // Beside the folder, never in it: a removal of the folder (its composition failing, another
    // sweep) must not find a file appearing in it meanwhile.
    const marker = `${folder}${SUPERSEDED_SUFFIX}`;
    const owner = await readFile(join(folder, OWNER_FILE), 'utf8').catch(() => undefined);
    if (owner !== undefined) {
      if (!named.has(owner)) named.set(owner, await versionNamedBy(owner));
      if (named.get(owner) === version) {
        if (present.has(`${version}${SUPERSEDED_SUFFIX}`)) await rm(marker, { force: true });
        continue;
      }
    }
    let markedAt = await stat(marker).then((info) => Math.floor(info.mtimeMs), () => undefined);
    if (markedAt === undefined) {
      await writeFile(marker, '');
      markedAt = Date.now();
    }
    if (Date.now() - markedAt < olderThanMs) continue;
    // Still being written (by another process: this one's are inUse): a long upload in segments
    // or a long copy keeps its folder for as long as it writes. Its age counts from its last write.
    const contents = await folderContents(folder);
    if (Date.now() - contents.lastWrittenMs < olderThanMs) continue;
    // Asked again, not from the pass's memory: a composition this process finished since the
    // pass began names a folder of its own, which must not go.
    if (owner !== undefined && (await versionNamedBy(owner)) === version) continue;
    try {
      await rm(folder, { recursive: true, force: true });
    } catch {
      // Another sweep removing it at the same time: whichever finishes, it goes.
      continue;
    }
    await rm(marker, { force: true });
    swept.removed++;
    swept.bytes += contents.freedBytes;
  }
  return swept;
}

/** When a file of the folder was last written, and the bytes its removal frees (files no other version links). */
async function folderContents(folder: string): Promise<{ lastWrittenMs: number; freedBytes: number }> {
  let lastWrittenMs = 0;
  let freedBytes = 0;
  for (const name of await readdir(folder).catch(() => [] as string[])) {
    const info = await stat(join(folder, name)).catch(() => undefined);
    if (!info) continue;
    // A link's mtime is its source's (old); a file written here is renewed by every write.
    lastWrittenMs = Math.max(lastWrittenMs, info.mtimeMs);
    if (info.nlink === 1 && name !== OWNER_FILE) freedBytes += info.size;
  }
  return { lastWrittenMs, freedBytes };
}
