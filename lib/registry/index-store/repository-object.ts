/**
 * The layout of one stored repository object (v5, v4 or v3): a single gzip member whose deflate
 * data is the entries' own pieces joined by separators, and whose header comment lists the views
 * by DC/OS version it holds as prefixes (index-table.ts says why they are prefixes).
 *
 *   header(comment) · "{"packages":[" · e₀ · "," · e₁ · … · "]}" · final block · CRC · length
 *
 * The separators are stored (uncompressed) deflate blocks, written here byte for byte, so the
 * layout of an object never depends on the zlib that wrote it; the entries' lengths are in the
 * table.
 */
import { crc32 } from 'node:zlib';
import { compareDcosVersions, type RepoVersion } from '../index-document.ts';
import { CARRIED_PACKAGING, type IndexRow } from './index-table.ts';
import { mapInTurns, TurnBudget } from '../../support/turns.ts';
import { CrcAccumulator, crcShiftFor, FINAL_BLOCK, gzipHeader, gzipTrailer, parseGzipHeader } from './gzip-segments.ts';

/** A separator as one stored deflate block (BFINAL=0, BTYPE=00): header byte, LEN, NLEN, bytes. */
function storedBlock(text: string): { deflated: Buffer; rawLength: number; crc: number; shift: number } {
  const raw = Buffer.from(text, 'latin1');
  const block = Buffer.alloc(5 + raw.length);
  block[0] = 0x00;
  block.writeUInt16LE(raw.length, 1);
  block.writeUInt16LE(~raw.length & 0xffff, 3);
  raw.copy(block, 5);
  return { deflated: block, rawLength: raw.length, crc: crc32(raw) >>> 0, shift: crcShiftFor(raw.length) };
}

export const OPEN = storedBlock('{"packages":[');
export const COMMA = storedBlock(',');
export const CLOSE = storedBlock(']}');

/** An entry and its compressed bytes (fresh, or a slice of the object it was in). */
export interface EntryPiece {
  readonly row: IndexRow;
  readonly deflated: Buffer;
}

/**
 * One view: the entries a client of this DC/OS version sees are the object's first ones, up to
 * `end` (an offset into the deflate data); `crc` and `length` are those of that document, closed.
 * `id` is `floor` (entries without minDcosReleaseVersion only) or the threshold the view starts at.
 */
export interface ViewClass {
  readonly id: string;
  readonly end: number;
  readonly crc: number;
  readonly length: number;
}

export interface ObjectDescription {
  readonly media: RepoVersion;
  readonly generation: number;
  /** Digest of the table the object was laid out from. */
  readonly table: string;
  readonly classes: readonly ViewClass[];
}

const COMMENT_MAGIC = 'dcos-registry-index/1';

function describe(description: ObjectDescription): string {
  const classes = description.classes.map((view) => `${view.id},${view.end},${view.crc},${view.length}`).join(';');
  return `${COMMENT_MAGIC} m=${description.media} g=${description.generation} t=${description.table} c=${classes}`;
}

/** The description in an object's gzip comment, or undefined for an object this layout did not write. */
export function parseDescription(comment: string | undefined): ObjectDescription | undefined {
  if (!comment?.startsWith(`${COMMENT_MAGIC} `)) return undefined;
  const fields = new Map(comment.slice(COMMENT_MAGIC.length + 1).split(' ').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)] as const));
  const media = fields.get('m');
  const generation = Number(fields.get('g'));
  const table = fields.get('t') ?? '';
  const classes = (fields.get('c') ?? '').split(';').map((text) => {
    const [id, end, crc, length] = text.split(',');
    return { id: id ?? '', end: Number(end), crc: Number(crc), length: Number(length) };
  });
  if ((media !== 'v3' && media !== 'v4' && media !== 'v5') || !Number.isInteger(generation) || classes.length === 0) return undefined;
  if (classes.some((view) => view.id === '' || !Number.isSafeInteger(view.end) || !Number.isSafeInteger(view.length) || !Number.isInteger(view.crc))) return undefined;
  return { media, generation, table, classes };
}

export interface BuiltObject {
  /** The object's bytes, in order: slices, never copied into one buffer. */
  readonly parts: readonly Buffer[];
  /** The bytes of each view (but the last, which is the object) as an object of its own. */
  readonly viewParts: (view: ViewClass) => readonly Buffer[];
  readonly size: number;
  readonly entries: number;
  readonly description: ObjectDescription;
  /** The entries it holds, in its order. */
  readonly carried: readonly EntryPiece[];
  /** Bytes of its gzip header: where its deflate data (`OPEN`, then the entries) starts. */
  readonly headerLength: number;
}

const classIdOf = (row: IndexRow): string => row.minDcos ?? 'floor';


/** Lays out the object of `media` from all published entries (in table order), a slice per turn of the event loop. */
export async function buildRepositoryObject(pieces: readonly EntryPiece[], media: RepoVersion, generation: number, table: string): Promise<BuiltObject> {
  const carried = pieces.filter((piece) => CARRIED_PACKAGING[media].has(piece.row.packagingVersion));
  const data: Buffer[] = [OPEN.deflated];
  let dataLength = OPEN.deflated.length;
  const accumulator = new CrcAccumulator();
  accumulator.append(OPEN);
  const classes: ViewClass[] = [];
  // Keyed by the view itself, not its id: a view's bytes are always its own prefix.
  const dataPartsOfView = new Map<ViewClass, number>();
  const closeView = (id: string): void => {
    const closed = accumulator.with(CLOSE);
    const view = { id, end: dataLength, crc: closed.crc, length: closed.length };
    classes.push(view);
    dataPartsOfView.set(view, data.length);
  };
  let currentClass = 'floor';
  // At 10,000 entries one pass took ~40 ms at once.
  const budget = new TurnBudget();
  for (let index = 0; index < carried.length; index++) {
    if ((index & 63) === 0) await budget.pause();
    const piece = carried[index]!;
    const id = classIdOf(piece.row);
    if (id !== currentClass) {
      closeView(currentClass);
      currentClass = id;
    }
    if (index > 0) {
      data.push(COMMA.deflated);
      dataLength += COMMA.deflated.length;
      accumulator.append(COMMA);
    }
    data.push(piece.deflated);
    dataLength += piece.deflated.length;
    accumulator.append(piece.row);
  }
  closeView(currentClass);
  const all = classes[classes.length - 1]!;
  const description: ObjectDescription = { media, generation, table, classes };
  const header = gzipHeader(describe(description));
  const tail = [CLOSE.deflated, FINAL_BLOCK, gzipTrailer(all.crc, all.length)];
  const parts = [header, ...data, ...tail];
  // A view stored on its own is only ever handed out whole (a presigned URL): no comment.
  const viewParts = (view: ViewClass): readonly Buffer[] => {
    const parts = dataPartsOfView.get(view);
    if (parts === undefined) throw new Error(`view ${view.id} is not one of this object's`);
    return [gzipHeader(), ...data.slice(0, parts), viewTail(view)];
  };
  return { parts, viewParts, size: parts.reduce((sum, part) => sum + part.length, 0), entries: carried.length, description, carried, headerLength: header.length };
}

/** The view a client of `dcosVersion` (x.y; undefined: it did not say) gets: the last is all entries. */
export function viewFor(classes: readonly ViewClass[], dcosVersion: string | undefined): ViewClass {
  if (dcosVersion === undefined) return classes[classes.length - 1]!;
  let chosen = classes[0]!;
  for (const view of classes) if (view.id !== 'floor' && compareDcosVersions(view.id, dcosVersion) <= 0) chosen = view;
  return chosen;
}

/** The bytes that close a view after its prefix: the closing bracket, the final block, the trailer. */
export function viewTail(view: ViewClass): Buffer {
  return Buffer.concat([CLOSE.deflated, FINAL_BLOCK, gzipTrailer(view.crc, view.length)]);
}

/**
 * Where each entry of a v5 object lies, checked against the object's size: the slices a writer
 * reuses. Undefined when the object does not match the table (then it is rebuilt from fragments).
 */
export async function slicesOf(object: Buffer, rows: readonly IndexRow[]): Promise<EntryPiece[] | undefined> {
  const header = parseGzipHeader(object);
  if (!header || header.dataOffset < 0) return undefined;
  let offset = header.dataOffset + OPEN.deflated.length;
  const pieces = await mapInTurns(rows, (row, index) => {
    if (index > 0) offset += COMMA.deflated.length;
    const piece = { row, deflated: object.subarray(offset, offset + row.deflatedLength) };
    offset += row.deflatedLength;
    return piece;
  });
  return offset + CLOSE.deflated.length + FINAL_BLOCK.length + 8 === object.length ? pieces : undefined;
}
