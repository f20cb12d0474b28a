/**
 * Level-triggered reconciliation: the queue and the storage events are an optimisation, the
 * records are the truth. Every record left in a transient state for longer than the stale age
 * (its work died: a killed process, a lost event, a job that never ran) is driven on:
 *
 *   upload Uploading past its URL's lifetime  bundle there → ingest it; none → Rejected (UploadAbandoned)
 *   upload Validating, no heartbeat           bundle there → ingest again (bounded attempts, then Rejected);
 *                                             gone → Accepted if its package was staged, else Rejected
 *   package Processing / Removing             its job queued again, waiting twice as long each time (a job
 *                                             that fails records its own failure; a slow queue is no failure)
 *
 * It runs at start-up and on a timer on the embedded server, and on a schedule on AWS. A pass
 * reads every record (and derives the catalog from them again) at start-up, when asked for by an
 * operator, and when the last such pass is an hour old; the passes between (scope `transient`)
 * read the records the catalog shows in a transient state, one read instead of ten thousand
 * (6.5 s of CPU a minute at 10,000 versions). A record whose catalog note was lost waits for the
 * next full pass, at most an hour. Running
 * it twice, or on two instances at once, is harmless: each step is a compare-and-swap on the record
 * it read, and the jobs it queues again re-check the record themselves (a removal it duplicates
 * stops at the first step the other already took: test/fault/adversarial-maintenance.test.ts).
 */
import type { RegistryContext } from '../context.ts';
import { ensureMediaObjectsCurrent } from '../repository-index.ts';
import { hostsOf } from '../publisher.ts';
import { ingestBundle, internalFailure, markFailedUnlessPublished } from '../ingest.ts';
import { listAllKeys, readJson, updateJson, writeJson } from '../json-objects.ts';
import { FULL_RECONCILE_KEY, packageRecordKey, UPLOADS_PREFIX, uploadRecordKey } from '../layout.ts';
import { encodeCoordinate } from '../../universe/coordinate.ts';
import { isReplaceableRecord, type PackageRecord, type UploadRecord } from '../records.ts';
import { liveIngestLeases } from './leases.ts';
import { readAllRecords, type StoredRecord } from './live-set.ts';
import { isStuckUpload, staleAfterMs } from './timing.ts';
import { noteInCatalog, syncCatalog, transientInCatalog } from '../catalog/package-catalog.ts';

export interface ReconcileReport {
  /** Uploads whose bundle was handed to ingest again. */
  readonly uploadsRetried: number;
  /** Uploads given their final state here. */
  readonly uploadsEnded: number;
  /** Packages whose publish or removal was queued again. */
  readonly packagesRequeued: number;
  /** Leases of ingests that died, deleted. */
  readonly leasesExpired: number;
  /** 1 when the v4/v3 index objects were behind the committed v5 one (a writer died between) and were derived again. */
  readonly indexObjectsDerived: number;
  /** 1 when the package catalog differed from the records (a note was lost) and was written again. */
  readonly catalogRewritten: number;
  /** Whether this pass read every record (else those the catalog shows in a transient state). */
  readonly everyRecord: boolean;
}

/** How old the last pass that read every record may get before a `transient` pass reads every record again. */
export const FULL_RECONCILE_INTERVAL_MS = 60 * 60 * 1000;

/** Whether a pass asked to look at transient records only must read every record anyway. */
async function fullPassDue(context: RegistryContext, now: number): Promise<boolean> {
  const last = await readJson<{ at: string }>(context.store, FULL_RECONCILE_KEY).catch(() => undefined);
  const at = last ? Date.parse(last.value.at) : Number.NaN;
  return !(now - at < FULL_RECONCILE_INTERVAL_MS && at <= now);
}

/** The records of the package versions the catalog shows in a transient state; undefined without a catalog. */
async function transientRecords(context: RegistryContext): Promise<StoredRecord[] | undefined> {
  const rows = await transientInCatalog(context.store);
  if (!rows) return undefined;
  const records: StoredRecord[] = [];
  for (const row of rows) {
    const coordinate = encodeCoordinate(row);
    const key = packageRecordKey(coordinate);
    const record = (await readJson<PackageRecord>(context.store, key))?.value;
    if (record) records.push({ key, coordinate, record });
  }
  return records;
}

/** The longest wait between two requeues of one record, in stale ages (2^6 = 64). */
const MAX_BACKOFF_DOUBLINGS = 6;

export async function reconcile(context: RegistryContext, options: { staleAfterMs?: number; scope?: 'all' | 'transient' } = {}): Promise<ReconcileReport> {
  const stale = options.staleAfterMs ?? staleAfterMs(context.settings);
  const now = context.now().getTime();
  let records: readonly StoredRecord[] = [];
  let everyRecord = options.scope !== 'transient' || (await fullPassDue(context, now));
  let catalogWritten = false;
  if (!everyRecord) {
    const transient = await transientRecords(context);
    if (transient) records = transient;
    else everyRecord = true;
  }
  if (everyRecord) {
    // The catalog is derived again from the records this pass reads (read before them: see syncCatalog).
    catalogWritten = (await syncCatalog(context, async () => (records = await readAllRecords(context)))).written;
  }
  // What an upload's outcome is judged by: every record (a pass that read only the transient ones reads them all, rarely: an upload stuck while validating).
  let allRecords: readonly StoredRecord[] | undefined = everyRecord ? records : undefined;
  const everyRecordNow = async (): Promise<readonly StoredRecord[]> => (allRecords ??= await readAllRecords(context));
  const report = { uploadsRetried: 0, uploadsEnded: 0, packagesRequeued: 0, leasesExpired: 0, indexObjectsDerived: 0, catalogRewritten: catalogWritten ? 1 : 0, everyRecord };

  for (const key of await listAllKeys(context.store, UPLOADS_PREFIX)) {
    if (!key.endsWith('.json')) continue;
    const upload = (await readJson<UploadRecord>(context.store, key))?.value;
    if (!upload) continue;
    const stuck = isStuckUpload(upload, now, { ...context.settings, staleAfterSeconds: stale / 1000 });
    if (upload.status === 'Uploading' && stuck) {
      if (await context.store.head(upload.bundleKey)) {
        await retriggerIngest(context, upload.bundleKey);
        report.uploadsRetried++;
      } else {
        if (upload.multipart) await context.store.multipart?.abort(upload.bundleKey, upload.multipart.uploadId);
        await endUpload(context, upload, [], {
          type: 'UploadAbandoned',
          message: `No bundle arrived for upload [${upload.uploadId}] while its upload URL was valid: add the bundle again`,
          data: { uploadId: upload.uploadId },
        });
        report.uploadsEnded++;
      }
    } else if (upload.status === 'Validating' && stuck) {
      const bundle = await context.store.head(upload.bundleKey);
      const stagedByIt = (await everyRecordNow()).find((entry) => entry.record.uploadId === upload.uploadId && !isReplaceableRecord(entry.record));
      if (stagedByIt && (upload.attempts ?? 0) >= context.settings.maxAttempts) {
        // Its last attempt died after writing the package record: the package is on its way.
        await endUpload(context, upload, [{ name: stagedByIt.record.name, version: stagedByIt.record.version }], null);
        if (bundle) await context.store.delete(upload.bundleKey);
        report.uploadsEnded++;
      } else if (bundle && (upload.attempts ?? 0) < context.settings.maxAttempts) {
        await retriggerIngest(context, upload.bundleKey);
        report.uploadsRetried++;
      } else if (bundle) {
        // Out of attempts and no attempt alive to record it: record it here.
        const envelope = internalFailure(upload.lastError ?? new Error('the ingest stopped without a trace'), upload.attempts ?? 0);
        const pkg = upload.packages[0];
        if (pkg) await markFailedUnlessPublished(context, pkg.name, pkg.version, '', upload.uploadId, envelope);
        await endUpload(context, upload, upload.packages, envelope);
        await context.store.delete(upload.bundleKey);
        report.uploadsEnded++;
      } else {
        const staged = (await everyRecordNow()).find((entry) => entry.record.uploadId === upload.uploadId && !isReplaceableRecord(entry.record));
        if (staged) {
          await endUpload(context, upload, [{ name: staged.record.name, version: staged.record.version }], null);
        } else {
          await endUpload(context, upload, upload.packages, {
            type: 'IngestInterrupted',
            message: `The registry stopped while validating upload [${upload.uploadId}] and its bundle is gone: add the bundle again`,
            data: { uploadId: upload.uploadId },
          });
        }
        report.uploadsEnded++;
      }
    }
  }

  for (const entry of records) {
    if (entry.record.status !== 'Processing' && entry.record.status !== 'Removing') continue;
    // Backoff: a job waiting in a long queue is queued again ever more rarely, never given up on.
    const due = stale * 2 ** Math.min(entry.record.requeues ?? 0, MAX_BACKOFF_DOUBLINGS);
    if (now - Date.parse(entry.record.updatedAt) < due) continue;
    if (await requeue(context, entry)) report.packagesRequeued++;
  }

  const leases = await liveIngestLeases(context, stale);
  for (const key of leases.expired) await context.store.delete(key);
  report.leasesExpired = leases.expired.length;
  // Three HEADs when all is well; also moves an index of an older layout into the current one.
  if (await ensureMediaObjectsCurrent(context.store, hostsOf(context))) report.indexObjectsDerived = 1;

  // Written last: a pass that died before here is done again in full by the next one.
  if (everyRecord) await writeJson(context.store, FULL_RECONCILE_KEY, { at: new Date(now).toISOString() });
  const { everyRecord: _full, ...counts } = report;
  if (Object.values(counts).some((count) => count > 0)) context.log.info('reconciled', { ...report });
  return report;
}

async function retriggerIngest(context: RegistryContext, bundleKey: string): Promise<void> {
  if (context.triggerIngest) {
    await context.triggerIngest(bundleKey);
    return;
  }
  // No way to start an ingest elsewhere (on Lambda the reconciler runs in the indexer): do it here.
  try {
    await ingestBundle(context, bundleKey);
  } catch (error) {
    context.log.warn('reconciler: ingest attempt failed; the next pass tries again', { bundleKey, error });
  }
}

async function endUpload(context: RegistryContext, upload: UploadRecord, packages: UploadRecord['packages'], error: UploadRecord['error']): Promise<void> {
  await updateJson<UploadRecord>(context.store, uploadRecordKey(upload.uploadId), (current) => {
    if (!current || current.updatedAt !== upload.updatedAt || current.status !== upload.status) return undefined;
    // An ended upload carries no progress (that of its last attempt, which stalled).
    const { progress: _progress, ...rest } = current;
    return { ...rest, status: error ? 'Rejected' : 'Accepted', packages, error, updatedAt: context.now().toISOString() };
  });
}

async function requeue(context: RegistryContext, entry: StoredRecord): Promise<boolean> {
  const { record } = entry;
  const requeues = (record.requeues ?? 0) + 1;
  let requeued = false;
  await updateJson<PackageRecord>(context.store, packageRecordKey(entry.coordinate), (current) => {
    if (!current || current.updatedAt !== record.updatedAt || current.status !== record.status) return undefined;
    requeued = true;
    return { ...current, requeues, updatedAt: context.now().toISOString() };
  });
  if (!requeued) return false;
  await noteInCatalog(context, record.name, record.version);
  const job =
    record.status === 'Processing'
      ? ({ kind: 'publish', name: record.name, version: record.version, bundleDigest: record.contentDigest } as const)
      : ({ kind: 'remove', name: record.name, version: record.version } as const);
  await context.queue.send(job, { deduplicationId: `requeue-${entry.coordinate.slice(0, 40)}-${record.contentDigest.slice(0, 16)}-${requeues}-${Date.now()}` });
  return true;
}
