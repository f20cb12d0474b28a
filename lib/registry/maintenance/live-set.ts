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

/**
 * Every package record, a batch of `batchSize` read in parallel at a time and handed to `visit`
 * before the next is read: what walks every record without holding them all (a reindex at ten
 * thousand versions must fit a 256 MB Lambda).
 */
export async function forEachRecordBatch(context: RegistryContext, batchSize: number, visit: (batch: readonly StoredRecord[]) => Promise<void>): Promise<void> {
  const keys = (await listAllKeys(context.store, PACKAGES_PREFIX)).filter((key) => /^packages\/[^/]+\/record\.json$/.test(key));
  for (let start = 0; start < keys.length; start += batchSize) {
    const batch = await Promise.all(
      keys.slice(start, start + batchSize).map(async (key) => {
        const value = await readJson<PackageRecord>(context.store, key);
        return value ? { key, coordinate: key.split('/')[1]!, record: value.value } : undefined;
      }),
    );
    await visit(batch.filter((entry): entry is StoredRecord => entry !== undefined));
  }
}

/** Every package record, read in small parallel batches. */
export async function readAllRecords(context: RegistryContext): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  await forEachRecordBatch(context, 32, async (batch) => void records.push(...batch));
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
