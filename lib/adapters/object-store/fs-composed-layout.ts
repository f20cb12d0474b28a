/**
 * The layout of a composed object in the fs store: its bytes, in order, as extents of files kept
 * in a folder of its own (`.composed/<version>/`), hard links to the files of what it was composed
 * from and one file of the bytes that were written for it. Pure: no file is touched here.
 */

export interface ComposedFile {
  /** Name in the version's folder. */
  readonly name: string;
  /** Bytes of the whole file (what keeping it costs, whatever part of it is used). */
  readonly size: number;
  /** The whole file's SHA-256 (hex) and CRC-32, when they were computed as it was written (a segment kept apart). */
  readonly sha256?: string;
  readonly crc32?: number;
}

export interface ComposedLayout {
  /** The folder under `.composed/` holding this version's files. */
  readonly version: string;
  readonly files: readonly ComposedFile[];
  /** `[file index, offset in that file, length]`, in the object's order. */
  readonly extents: readonly (readonly [number, number, number])[];
}

export function composedSize(layout: ComposedLayout): number {
  let size = 0;
  for (const extent of layout.extents) size += extent[2];
  return size;
}

/** Where the bytes `[start, start + length)` of the object lie: file, offset and length of each piece, in order. */
export function* piecesOfRange(layout: ComposedLayout, start: number, length: number): Generator<{ readonly file: ComposedFile; readonly offset: number; readonly length: number }> {
  const end = start + length;
  let position = 0;
  for (const [file, offset, extentLength] of layout.extents) {
    const extentEnd = position + extentLength;
    if (extentEnd > start && position < end) {
      const from = Math.max(start, position);
      const to = Math.min(end, extentEnd);
      yield { file: layout.files[file]!, offset: offset + (from - position), length: to - from };
    }
    if (extentEnd >= end) return;
    position = extentEnd;
  }
}

/** Whether a layout read from a header is well formed (a damaged one is refused, not followed). */
export function isComposedLayout(value: unknown): value is ComposedLayout {
  const layout = value as ComposedLayout;
  if (typeof layout !== 'object' || layout === null || typeof layout.version !== 'string' || !/^[0-9a-f]{24}$/.test(layout.version)) return false;
  if (!Array.isArray(layout.files) || !layout.files.every(isComposedFile)) return false;
  return (
    Array.isArray(layout.extents) &&
    layout.extents.every(
      (extent) =>
        Array.isArray(extent) &&
        extent.length === 3 &&
        Number.isInteger(extent[0]) &&
        extent[0] >= 0 &&
        extent[0] < layout.files.length &&
        Number.isSafeInteger(extent[1]) &&
        Number.isSafeInteger(extent[2]) &&
        extent[1] >= 0 &&
        extent[2] > 0 &&
        extent[1] + extent[2] <= layout.files[extent[0]]!.size,
    )
  );
}

function isComposedFile(value: unknown): boolean {
  const file = value as ComposedFile;
  if (typeof file !== 'object' || file === null || typeof file.name !== 'string' || !/^[a-z0-9]{1,16}$/.test(file.name) || !Number.isSafeInteger(file.size)) return false;
  if (file.sha256 !== undefined && (typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256))) return false;
  return file.crc32 === undefined || (Number.isInteger(file.crc32) && file.crc32 >= 0 && file.crc32 <= 0xffffffff);
}
