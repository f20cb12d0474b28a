/**
 * Builds ZIP archives byte by byte for reader tests, independently of the product's writer, with
 * every field overridable so that a test can make an archive lie in exactly one way.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface CraftedEntry {
  readonly name: string;
  readonly content: Uint8Array;
  readonly method?: 0 | 8;
  /** Overrides of what the headers declare. */
  readonly declared?: {
    readonly crc?: number;
    readonly size?: number;
    readonly compressedSize?: number;
    readonly flags?: number;
    readonly localName?: string;
    readonly localSize?: number;
  };
  /** Replaces the compressed bytes actually written. */
  readonly rawData?: Uint8Array;
}

export function craftZip(entries: readonly CraftedEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const method = entry.method ?? 0;
    const data = Buffer.from(entry.rawData ?? (method === 8 ? deflateRawSync(entry.content) : entry.content));
    const crc = entry.declared?.crc ?? crc32(entry.content);
    const size = entry.declared?.size ?? entry.content.length;
    const compressedSize = entry.declared?.compressedSize ?? data.length;
    const flags = entry.declared?.flags ?? 0x0800;
    const name = Buffer.from(entry.name);
    const localName = Buffer.from(entry.declared?.localName ?? entry.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(compressedSize, 18);
    local.writeUInt32LE(entry.declared?.localSize ?? size, 22);
    local.writeUInt16LE(localName.length, 26);
    locals.push(local, localName, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(compressedSize, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + localName.length + data.length;
  }
  const centralDirectory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDirectory, end]);
}
