/**
 * The package catalog: one object that `GET /v1/packages` and `list` read a page of, instead of
 * one record per package version. It is a projection of the package records (what `describe`
 * answers for each one not Removed, its release version once published: catalogRowOf), never a
 * second truth:
 *
 *  - after every change of a record, `noteInCatalog` writes that record's row again, by
 *    compare-and-swap, reading the catalog BEFORE the record. Whichever note commits last read
 *    the record after every earlier note committed, so it read the newest record of each of them:
 *    notes landing out of order cannot leave an older state in place
 *    (test/fault/catalog.test.ts);
 *  - a note that never ran (the process died between the record and its row, storage refused)
 *    is made good by the reconciler, whose every pass derives the catalog from all the records
 *    again (`syncCatalog`, the same read-catalog-first order), and by fsck (`CatalogOutOfDate`);
 *  - a registry that has no catalog yet (a fresh one, or one upgraded from before it existed)
 *    derives it from the records at the first read.
 *
 * Rows are kept in the order `list` shows them: by name, newest upload first, then version.
 */
import { encodeCoordinate } from '../../universe/coordinate.ts';
import type { RegistryContext } from '../context.ts';
import { readJson } from '../json-objects.ts';
import { PACKAGE_CATALOG_KEY, packageRecordKey } from '../layout.ts';
import { readAllRecords, type StoredRecord } from '../maintenance/live-set.ts';
import { describePackage, type PackageDescription, type PackageRecord } from '../records.ts';
import { InvalidRequestError } from '../registry-errors.ts';
import { PreconditionFailedError, type ObjectStore } from '../../ports/object-store.ts';
import { KeptJsonArray } from '../../support/kept-json.ts';

interface StoredCatalog {
  readonly formatVersion: 1;
  readonly packages: readonly PackageDescription[];
}

interface Catalog {
  /** Undefined when none is stored yet. */
  readonly etag: string | undefined;
  readonly rows: readonly PackageDescription[];
}

/** The most rows one page holds, and what a request that names no limit gets. */
export const MAX_PAGE_ROWS = 1000;
const NOTE_ATTEMPTS = 20;

/**
 * By name, the newest upload first, then version: fields a row keeps from its staging to its
 * removal, so a row never moves while a client pages (publication, which gives it a release
 * version, must not carry it from after a cursor to before it: review10-catalog-paging.test.ts).
 * A version removed and added again is a new row, the newest of its name.
 */
type SortKey = readonly [name: string, addedAt: string, version: string];

const sortKeyOf = (row: PackageDescription): SortKey => [row.name, row.addedAt, row.version];

/** Code-unit order (names are lower-case ASCII, addedAt ISO 8601), so every deployment pages alike. */
function compareKeys(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] > b[1] ? -1 : 1;
  return a[2] === b[2] ? 0 : a[2] < b[2] ? -1 : 1;
}

export const compareRows = (a: PackageDescription, b: PackageDescription): number => compareKeys(sortKeyOf(a), sortKeyOf(b));

/**
 * A record's row: what `describe` answers, but for the release version, shown once the version is
 * published (Added, or Removing). A publish writes it into the record before the index commit, to
 * reuse it when retried; noting that write too would cost every publish a second catalog write.
 */
export function catalogRowOf(record: PackageRecord): PackageDescription {
  const description = describePackage(record);
  return record.status === 'Added' || record.status === 'Removing' ? description : { ...description, releaseVersion: null };
}

/** What the catalog must hold for these records. */
export function catalogRowsOf(records: readonly PackageRecord[]): PackageDescription[] {
  return records.filter((record) => record.status !== 'Removed').map(catalogRowOf).sort(compareRows);
}

/**
 * The catalog this process read or wrote last, per store, used again while the stored object
 * still has its ETag (one HEAD instead of reading and parsing every row on each note and page).
 */
const lastSeen = new WeakMap<ObjectStore, { readonly etag: string; readonly rows: readonly PackageDescription[] }>();

async function readCatalog(store: ObjectStore): Promise<Catalog> {
  const seen = lastSeen.get(store);
  if (seen && (await store.head(PACKAGE_CATALOG_KEY))?.etag === seen.etag) return seen;
  const stored = await readJson<StoredCatalog>(store, PACKAGE_CATALOG_KEY);
  if (!stored) {
    lastSeen.delete(store);
    return { etag: undefined, rows: [] };
  }
  const catalog = { etag: stored.etag, rows: stored.value.packages };
  lastSeen.set(store, catalog);
  return catalog;
}

const catalogDocument = new KeptJsonArray<PackageDescription>('{"formatVersion":1,"packages":[', (row) => row);

/** The bytes of `JSON.stringify({ formatVersion: 1, packages: rows })`, each row serialised once and kept (support/kept-json.ts). */
export function serialiseCatalog(rows: readonly PackageDescription[]): Promise<Buffer> {
  return catalogDocument.serialise(rows);
}

/** Writes the rows by compare-and-swap on `expected`; false when another writer got in first. */
async function writeCatalog(store: ObjectStore, rows: readonly PackageDescription[], expected: string | undefined): Promise<boolean> {
  try {
    const { etag } = await store.put(PACKAGE_CATALOG_KEY, await serialiseCatalog(rows), {
      contentType: 'application/json',
      ...(expected === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: expected }),
    });
    lastSeen.set(store, { etag, rows });
    return true;
  } catch (error) {
    if (error instanceof PreconditionFailedError) return false;
    throw error;
  }
}

const sameRow = (a: PackageDescription | undefined, b: PackageDescription | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

const sameRows = (a: readonly PackageDescription[], b: readonly PackageDescription[]): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The rows with `name version` replaced by `row` (or taken out when `row` is undefined), in order. */
function withRow(rows: readonly PackageDescription[], name: string, version: string, row: PackageDescription | undefined): PackageDescription[] {
  const next = rows.filter((existing) => existing.name !== name || existing.version !== version);
  if (!row) return next;
  let low = 0;
  let high = next.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareRows(next[middle]!, row) <= 0) low = middle + 1;
    else high = middle;
  }
  next.splice(low, 0, row);
  return next;
}

/**
 * Brings the row of one package version in line with its record. Never fails its caller: the
 * record is what happened, the row follows; a note that cannot be written is left to the
 * reconciler's next pass (it logs why).
 */
export async function noteInCatalog(context: RegistryContext, name: string, version: string): Promise<void> {
  const recordKey = packageRecordKey(encodeCoordinate({ name, version }));
  try {
    for (let attempt = 0; attempt < NOTE_ATTEMPTS; attempt++) {
      // The catalog first, then the record: see the file comment.
      const catalog = await readCatalog(context.store);
      if (catalog.etag === undefined) {
        // None yet: derive it whole, or one row would hide every other package until a pass.
        if ((await syncCatalog(context)).matches) return;
        continue;
      }
      const record = (await readJson<PackageRecord>(context.store, recordKey))?.value;
      const row = record && record.status !== 'Removed' ? catalogRowOf(record) : undefined;
      const stored = catalog.rows.find((existing) => existing.name === name && existing.version === version);
      if (sameRow(stored, row)) return;
      if (await writeCatalog(context.store, withRow(catalog.rows, name, version, row), catalog.etag)) return;
    }
    context.log.warn('catalog row not written: too many concurrent changes; the reconciler writes it', { package: name, version });
  } catch (error) {
    context.log.warn('catalog row not written; the reconciler writes it', { package: name, version, error: (error as Error).message });
  }
}

/**
 * Derives the catalog from every record and stores it when it differs. Reads the catalog before
 * the records, and writes by compare-and-swap, so a note that committed meanwhile is never
 * overwritten by an older record (the write is then left to the next pass). `readRecords` lets a
 * caller that reads every record anyway (the reconciler) read them once.
 */
export async function syncCatalog(
  context: RegistryContext,
  readRecords: () => Promise<readonly StoredRecord[]> = () => readAllRecords(context),
): Promise<{ matches: boolean; written: boolean }> {
  const catalog = await readCatalog(context.store);
  const rows = catalogRowsOf((await readRecords()).map((entry) => entry.record));
  if (catalog.etag !== undefined && sameRows(rows, catalog.rows)) return { matches: true, written: false };
  const written = await writeCatalog(context.store, rows, catalog.etag);
  return { matches: written, written };
}

/**
 * The package versions the catalog shows in a transient state (Processing, Removing): what a
 * reconciler pass between full ones looks at, one read instead of one per record. Undefined when
 * there is no catalog (then only reading every record tells).
 */
export async function transientInCatalog(store: ObjectStore): Promise<readonly { readonly name: string; readonly version: string }[] | undefined> {
  const catalog = await readCatalog(store);
  if (catalog.etag === undefined) return undefined;
  return catalog.rows.filter((row) => row.status === 'Processing' || row.status === 'Removing');
}

/** Whether the stored catalog differs from what these records make it (fsck). */
export async function catalogDifferences(store: ObjectStore, records: readonly PackageRecord[]): Promise<{ missing: boolean; rows: number }> {
  const catalog = await readCatalog(store);
  const expected = catalogRowsOf(records);
  if (catalog.etag === undefined) return { missing: expected.length > 0, rows: expected.length };
  const stored = new Map(catalog.rows.map((row) => [`${row.name}\n${row.version}`, JSON.stringify(row)]));
  let differing = Math.max(0, stored.size - expected.length);
  for (const row of expected) if (stored.get(`${row.name}\n${row.version}`) !== JSON.stringify(row)) differing++;
  return { missing: false, rows: differing };
}

export interface CatalogPage {
  readonly packages: readonly PackageDescription[];
  /** Present when more rows follow: pass it as `cursor` for the next page. */
  readonly nextCursor?: string;
}

export interface PageRequest {
  readonly name?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

function encodeCursor(row: PackageDescription): string {
  return Buffer.from(JSON.stringify(sortKeyOf(row))).toString('base64url');
}

/** The position a cursor names; rows removed since it was given do not matter (it is a key, not an index). */
function decodeCursor(cursor: string): SortKey {
  const refused = (): InvalidRequestError => new InvalidRequestError('The cursor is not one this registry gave: pass nextCursor from the previous page as it was', { cursor: cursor.slice(0, 100) });
  if (cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw refused();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refused();
  }
  if (!Array.isArray(value) || value.length !== 3) throw refused();
  const [name, addedAt, version] = value as unknown[];
  if (typeof name !== 'string' || typeof addedAt !== 'string' || typeof version !== 'string') throw refused();
  return [name, addedAt, version];
}

/** Reads one page of the catalog: one read of one object (deriving it first when none is stored). */
export async function readCatalogPage(context: RegistryContext, request: PageRequest = {}): Promise<CatalogPage> {
  const limit = request.limit ?? MAX_PAGE_ROWS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_ROWS) {
    throw new InvalidRequestError(`limit must be a whole number from 1 to ${MAX_PAGE_ROWS}`, { limit: request.limit });
  }
  const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor);
  let catalog = await readCatalog(context.store);
  if (catalog.etag === undefined) {
    await syncCatalog(context);
    catalog = await readCatalog(context.store);
  }
  const selected: PackageDescription[] = [];
  let more = false;
  for (const row of catalog.rows) {
    if (request.name !== undefined && row.name !== request.name) continue;
    if (after && compareKeys(sortKeyOf(row), after) <= 0) continue;
    if (selected.length === limit) {
      more = true;
      break;
    }
    selected.push(row);
  }
  return more ? { packages: selected, nextCursor: encodeCursor(selected[selected.length - 1]!) } : { packages: selected };
}
