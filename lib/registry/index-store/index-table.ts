/**
 * The index table: one row per published entry, in the order the stored repository holds them,
 * with what assembling and filtering need (lengths, CRCs, packaging and DC/OS versions). Every
 * stored repository object is laid out from it, so offsets are computed, never stored.
 *
 * The order is (minDcosReleaseVersion ascending, entries without one first; name; releaseVersion
 * descending; version). Cosmos sorts what it reads (spec §9), so any order serves it; this one
 * makes every DC/OS-version view of a media type a prefix of that media type's object, and the
 * v4 and v3 objects subsequences of the v5 one, so no view needs bytes of its own.
 */
import { compareVersionParts, type RepoVersion } from '../index-document.ts';
import { KeptJsonArray } from '../../support/kept-json.ts';
import { mapInTurns } from '../../support/turns.ts';

export interface IndexRow {
  readonly name: string;
  readonly version: string;
  readonly releaseVersion: number;
  readonly packagingVersion: string;
  /** Canonical (see canonicalDcosVersion), or null when the entry sets none. */
  readonly minDcos: string | null;
  readonly rawLength: number;
  readonly deflatedLength: number;
  readonly crc: number;
  readonly shift: number;
}

/** Packaging versions each repository media type carries (spec §6.4). */
export const CARRIED_PACKAGING: Record<RepoVersion, ReadonlySet<string>> = {
  v3: new Set(['2.0', '3.0']),
  v4: new Set(['2.0', '3.0', '4.0']),
  v5: new Set(['2.0', '3.0', '4.0', '5.0']),
};

/** How many distinct minDcosReleaseVersion values one index may hold: each is a view. */
export const MAX_DCOS_THRESHOLDS = 200;

/**
 * One spelling per threshold: versions that compare equal (`1`, `1.0`, `1.0.0`; `1.9`, `1.9.0`)
 * are one view, so trailing zero parts are dropped (down to one part) and leading zeros with them.
 */
export function canonicalDcosVersion(version: string): string {
  const parts = version.split('.').map((part) => String(Number(part)));
  while (parts.length > 1 && parts[parts.length - 1] === '0') parts.pop();
  return parts.join('.');
}

const parsedVersions = new Map<string, readonly number[]>();

/** Numeric parts of a canonical version, parsed once: sorting ten thousand rows compares often. */
function versionParts(version: string): readonly number[] {
  let parts = parsedVersions.get(version);
  if (!parts) {
    parts = version.split('.').map(Number);
    if (parsedVersions.size < 10_000) parsedVersions.set(version, parts);
  }
  return parts;
}


const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareRows(a: IndexRow, b: IndexRow): number {
  if (a.minDcos !== b.minDcos) {
    if (a.minDcos === null) return -1;
    if (b.minDcos === null) return 1;
    const byDcos = compareVersionParts(versionParts(a.minDcos), versionParts(b.minDcos));
    if (byDcos !== 0) return byDcos;
  }
  return byCodeUnits(a.name, b.name) || b.releaseVersion - a.releaseVersion || byCodeUnits(a.version, b.version);
}

export const sameCoordinate = (row: { name: string; version: string }, name: string, version: string): boolean => row.name === name && row.version === version;

/** The table as stored: rows as arrays, so ten thousand of them stay near a megabyte. */
export interface StoredTable {
  readonly format: 1;
  readonly rows: readonly (readonly [string, string, number, string, string | null, number, number, number, number])[];
}

const storedRow = (row: IndexRow) => [row.name, row.version, row.releaseVersion, row.packagingVersion, row.minDcos, row.rawLength, row.deflatedLength, row.crc, row.shift] as const;

export function encodeTable(rows: readonly IndexRow[]): StoredTable {
  return { format: 1, rows: rows.map(storedRow) };
}

const tableDocument = new KeptJsonArray<IndexRow>('{"format":1,"rows":[', storedRow);

/** The bytes of `JSON.stringify(encodeTable(rows))`, each row serialised once and kept (support/kept-json.ts). */
export function serialiseTable(rows: readonly IndexRow[]): Promise<Buffer> {
  return tableDocument.serialise(rows);
}

/** The rows of a stored table, in slices of the event loop's time (ten thousand rows took 30 ms at once). */
export async function decodeTable(stored: StoredTable): Promise<IndexRow[]> {
  if (stored.format !== 1 || !Array.isArray(stored.rows)) throw new Error('unknown index table format');
  return mapInTurns(stored.rows, ([name, version, releaseVersion, packagingVersion, minDcos, rawLength, deflatedLength, crc, shift]) => ({
    name,
    version,
    releaseVersion,
    packagingVersion,
    minDcos: minDcos === null ? null : canonicalDcosVersion(minDcos),
    rawLength,
    deflatedLength,
    crc,
    shift,
  }));
}
