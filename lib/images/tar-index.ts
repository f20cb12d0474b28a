/**
 * An index of a tar archive's regular files (ustar, with GNU long names and pax paths), so that
 * image archives (`docker save`, OCI layouts in a tar) are read by offset without unpacking them.
 * Names are untrusted: they are only looked up, never used as paths.
 */
import type { FileHandle } from 'node:fs/promises';
import { PackagingError } from '../domain/errors.ts';

export interface TarEntry {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

const BLOCK = 512;

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function octal(header: Buffer, start: number, length: number, archive: string): number {
  const raw = header.subarray(start, start + length);
  if (raw[0]! & 0x80) {
    // GNU base-256 for sizes beyond 8 GiB.
    let value = 0;
    for (let index = 1; index < raw.length; index++) value = value * 256 + raw[index]!;
    return value;
  }
  const text = field(header, start, length).trim();
  const value = text === '' ? 0 : parseInt(text, 8);
  if (!Number.isSafeInteger(value) || value < 0) throw new PackagingError('InvalidImageArchive', `The archive [${archive}] has a damaged tar header`, { path: archive });
  return value;
}

export async function indexTar(file: FileHandle, path: string): Promise<Map<string, TarEntry>> {
  const { size: total } = await file.stat();
  const entries = new Map<string, TarEntry>();
  const header = Buffer.alloc(BLOCK);
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= total) {
    await file.read(header, 0, BLOCK, offset);
    if (header.every((byte) => byte === 0)) break;
    const size = octal(header, 124, 12, path);
    const type = String.fromCharCode(header[156] || 0x30);
    const dataOffset = offset + BLOCK;
    if (dataOffset + size > total) throw new PackagingError('InvalidImageArchive', `The archive [${path}] is truncated`, { path });
    if (type === 'L' || type === 'x') {
      const data = Buffer.alloc(size);
      await file.read(data, 0, size, dataOffset);
      if (type === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
      else longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1] ?? longName;
    } else {
      const prefix = field(header, 345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      longName = undefined;
      if (type === '0' || type === '\0' || type === '7') entries.set(name.replace(/^\.\//, ''), { name, offset: dataOffset, size });
    }
    offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}
