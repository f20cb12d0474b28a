/**
 * Garbage collection, mark and sweep from the published state, online (no freeze of uploads).
 *
 * Mark: the live set is derived at each run from the package records and the ingest leases (see
 * live-set.ts, and leases.ts for why an ingest that reuses a file during a run never loses it).
 * Sweep: a stored file outside the live set is deleted only once it is older than the grace
 * window (`gcGraceSeconds`) by its last write, measured from the run's start; a file an ingest
 * reuses is in that ingest's lease while the ingest keeps it fresh, and in its record after (an
 * ingest whose lease lapsed re-checks its files before it commits: leases.ts), so reuse needs no
 * timestamp of its own. No delete happens once the run could not keep its own marker fresh.
 * Also swept: the documents and fragments no live record uses, index tables and views no index
 * object names, bundles whose upload has ended,
 * upload records past their retention, expired leases, and what interrupted writes left in the
 * store. Each run ends by deriving the tags again from the records.
 */
import type { RegistryContext } from '../context.ts';
import { listAllKeys, listAllObjects, readJson } from '../json-objects.ts';
import { CAPABILITY_VIEWS_PREFIX, FRAGMENTS_PREFIX, fragmentOf, IMAGE_BLOBS_PREFIX, INDEX_TABLES_PREFIX, INDEX_VIEWS_PREFIX, mediaObjectKey, PACKAGES_PREFIX, packageRecordKey, RESOURCES_PREFIX, UPLOADS_PREFIX } from '../layout.ts';
import { INDEX_METADATA } from '../repository-index.ts';
import { isLiveRecord, TRANSIENT_UPLOAD_STATES, type PackageRecord, type UploadRecord } from '../records.ts';
import { liveIngestLeases, startGcRun } from './leases.ts';
import { rederiveTags } from '../image-tags.ts';
import { liveSetOf, readAllRecords, type LiveSet } from './live-set.ts';
import { isLeftOverBundle, staleAfterMs } from './timing.ts';

export interface CollectionReport {
  /** Content files (resources, image blobs) deleted. */
  readonly deleted: number;
  /** Unused content files still inside the grace window. */
  readonly waiting: number;
  /** Documents, fragments, finished bundles, old upload records and expired leases deleted. */
  readonly leftovers: number;
  /** Pieces of interrupted writes removed by the store (temporary files, incomplete multipart uploads). */
  readonly abandonedWrites: number;
}

const HEX = /^[0-9a-f]{64}$/;

export async function collectGarbage(context: RegistryContext): Promise<CollectionReport> {
  // Ages are measured from the start of the run: nothing written while it runs is ever swept
  // (as long as the store's clock agrees with ours; leases.ts covers the rest).
  const now = context.now().getTime();
  const gc = await startGcRun(context);
  // Every delete of this run goes through here: none once the run may have been taken for dead.
  const remove = async (key: string): Promise<void> => {
    gc.assertAlive();
    await context.store.delete(key);
  };
  try {
    // Leases first, then records: see leases.ts for why the order matters.
    const leases = await liveIngestLeases(context, staleAfterMs(context.settings));
    const records = await readAllRecords(context);
    const live = liveSetOf(records, leases.live);
    const graceMs = context.settings.gcGraceSeconds * 1000;
    const pastGrace = (lastModified: Date): boolean => now - lastModified.getTime() >= graceMs;
    let deleted = 0;
    let waiting = 0;
    let leftovers = 0;

    for (const [prefix, liveDigests] of [
      [RESOURCES_PREFIX, live.resources],
      [IMAGE_BLOBS_PREFIX, live.imageBlobs],
    ] as const) {
      for (const object of await listAllObjects(context.store, prefix)) {
        const digest = object.key.slice(prefix.length);
        if (!HEX.test(digest) || liveDigests.has(digest)) continue;
        if (!pastGrace(object.lastModified)) {
          waiting++;
          continue;
        }
        await remove(object.key);
        deleted++;
      }
    }
    leftovers += await sweepPackageDocuments(context, remove, live, new Set(records.filter((entry) => isLiveRecord(entry.record)).map((entry) => entry.coordinate)), pastGrace);
    for (const key of leases.expired) {
      await remove(key);
      leftovers++;
    }
    leftovers += await sweepUploads(context, remove, now);
    leftovers += await sweepIndexLayouts(context, remove, now);
    // The Docker side derived again from the records: heals what a failed or raced publication left.
    await rederiveTags(context, records);
    const abandoned = await context.store.sweepAbandonedWrites?.(abandonedWriteAgeMs(context));
    const report = { deleted, waiting, leftovers, abandonedWrites: abandoned?.removed ?? 0 };
    context.log.info('garbage collected', { ...report });
    context.metrics?.count('registry_gc_deleted_total', {}, deleted);
    return report;
  } finally {
    await gc.end();
  }
}

/** A write untouched this long is dead: longer than an upload URL lives, and than the grace window. */
export function abandonedWriteAgeMs(context: RegistryContext): number {
  return Math.max(context.settings.gcGraceSeconds, context.settings.uploadUrlLifetimeSeconds) * 1000 + staleAfterMs(context.settings);
}

/** Metadata and manifests of content no record or lease uses; fragments of packages with no record. */
async function sweepPackageDocuments(
  context: RegistryContext,
  remove: (key: string) => Promise<void>,
  live: LiveSet,
  coordinatesWithRecords: ReadonlySet<string>,
  pastGrace: (lastModified: Date) => boolean,
): Promise<number> {
  let removed = 0;
  for (const object of await listAllObjects(context.store, PACKAGES_PREFIX)) {
    const parts = object.key.split('/');
    const coordinate = parts[1] ?? '';
    const isContentDocument = parts.length === 5 && parts[2] === 'content';
    const isLegacyDocument = parts.length === 3 && (parts[2] === 'metadata.json' || parts[2] === 'manifest.json');
    const unused = isContentDocument ? !live.documents.has(`${coordinate}/${parts[3]}`) : isLegacyDocument && !coordinatesWithRecords.has(coordinate);
    if (unused && pastGrace(object.lastModified)) {
      await remove(object.key);
      removed++;
    }
  }
  for (const object of await listAllObjects(context.store, FRAGMENTS_PREFIX)) {
    const named = fragmentOf(object.key);
    if (!named || !pastGrace(object.lastModified) || live.documents.has(`${named.coordinate}/${named.contentDigest}`)) continue;
    if (named.contentDigest === undefined && coordinatesWithRecords.has(named.coordinate)) continue;
    // A package staged after the records were listed writes its record before its fragment: ask again.
    const record = (await readJson<PackageRecord>(context.store, packageRecordKey(named.coordinate)))?.value;
    if (record && isLiveRecord(record) && (named.contentDigest === undefined || record.contentDigest === named.contentDigest)) continue;
    await remove(object.key);
    removed++;
  }
  return removed;
}

/**
 * Tables and stored views of index layouts no index object names any more, and stored capability views. A writer writes its
 * table (and views) before its commit, again even when they exist (index-writer.ts), so only
 * those older than the stale age (and the grace window) go: a commit still under way is younger.
 * Losing a table is not fatal anyway (a writer that finds none decodes the index once instead),
 * and fsck reports a missing one (IndexLayoutMissing).
 */
async function sweepIndexLayouts(context: RegistryContext, remove: (key: string) => Promise<void>, now: number): Promise<number> {
  const current = new Set<string>();
  for (const media of ['v5', 'v4', 'v3'] as const) {
    const table = (await context.store.head(mediaObjectKey(media)))?.metadata[INDEX_METADATA.table];
    if (table) current.add(table);
  }
  const minimumAge = Math.max(context.settings.gcGraceSeconds * 1000, staleAfterMs(context.settings));
  let removed = 0;
  for (const prefix of [INDEX_TABLES_PREFIX, INDEX_VIEWS_PREFIX]) {
    for (const object of await listAllObjects(context.store, prefix)) {
      const table = object.key.slice(prefix.length).split(/[/.]/)[0] ?? '';
      if (current.has(table) || now - object.lastModified.getTime() < minimumAge) continue;
      await remove(object.key);
      removed++;
    }
  }
  // Capability views a Lambda stored (registry/capability/): caches of one index version for one
  // token, made again on the next request; each goes once it is older than the window (a client
  // may still be following a redirect to it), whatever version or token it is of.
  for (const object of await listAllObjects(context.store, CAPABILITY_VIEWS_PREFIX)) {
    if (now - object.lastModified.getTime() < minimumAge) continue;
    await remove(object.key);
    removed++;
  }
  return removed;
}

/**
 * Bundles whose upload has ended (the registry deletes them itself; a crash between the outcome
 * and the delete leaves one), and upload records past `uploadRecordRetentionSeconds`.
 * Bundles of uploads still under way are the reconciler's, never deleted here.
 */
async function sweepUploads(context: RegistryContext, remove: (key: string) => Promise<void>, now: number): Promise<number> {
  let removed = 0;
  for (const key of await listAllKeys(context.store, UPLOADS_PREFIX)) {
    if (!key.endsWith('.json')) continue;
    const upload = await readJson<UploadRecord>(context.store, key);
    if (!upload || TRANSIENT_UPLOAD_STATES.has(upload.value.status)) continue;
    const bundleKey = upload.value.bundleKey;
    if (isLeftOverBundle(upload.value, await context.store.head(bundleKey), now, context.settings)) {
      await remove(bundleKey);
      removed++;
    }
    if (now - Date.parse(upload.value.updatedAt) > context.settings.uploadRecordRetentionSeconds * 1000) {
      await remove(key);
      removed++;
    }
  }
  return removed;
}
