/**
 * What is live, derived from the published state every time it is needed, never from bookkeeping:
 * every file a package record in Processing, Added or Removing names, every file a live ingest
 * lease names. Reading every record is O(versions); collections and fsck run on a timer, never
 * on a request path.
 */
import type { RegistryContext } from '../context.ts';
import { listAllKeys, readJson } from '../json-objects.ts';
import { PACKAGES_PREFIX } from '../layout.ts';
import { isLiveRecord, type PackageRecord } from '../records.ts';
import type { IngestLease } from './leases.ts';

export interface StoredRecord {
  readonly key: string;
  readonly coordinate: string;
  readonly record: PackageRecord;
}

export interface LiveSet {
  readonly resources: ReadonlySet<string>;
  readonly imageBlobs: ReadonlySet<string>;
  /** `<coord>/<contentDigest>` of every live record: its metadata and manifest are live. */
  readonly documents: ReadonlySet<string>;
}

/** Every package record, read in small parallel batches. */
export async function readAllRecords(context: RegistryContext): Promise<StoredRecord[]> {
  const keys = (await listAllKeys(context.store, PACKAGES_PREFIX)).filter((key) => /^packages\/[^/]+\/record\.json$/.test(key));
  const records: StoredRecord[] = [];
  for (let start = 0; start < keys.length; start += 32) {
    const batch = await Promise.all(
      keys.slice(start, start + 32).map(async (key) => {
        const value = await readJson<PackageRecord>(context.store, key);
        return value ? { key, coordinate: key.split('/')[1]!, record: value.value } : undefined;
      }),
    );
    for (const entry of batch) if (entry) records.push(entry);
  }
  return records;
}

export function liveSetOf(records: readonly StoredRecord[], leases: readonly IngestLease[]): LiveSet {
  const resources = new Set<string>();
  const imageBlobs = new Set<string>();
  const documents = new Set<string>();
  for (const { coordinate, record } of records) {
    if (!isLiveRecord(record)) continue;
    for (const digest of record.resources) resources.add(digest);
    for (const digest of record.imageBlobs ?? []) imageBlobs.add(digest);
    documents.add(`${coordinate}/${record.contentDigest}`);
  }
  for (const lease of leases) {
    for (const digest of lease.resources) resources.add(digest);
    for (const digest of lease.imageBlobs) imageBlobs.add(digest);
    documents.add(lease.document);
  }
  return { resources, imageBlobs, documents };
}
