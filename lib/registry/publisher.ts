/**
 * The index writer (the indexer function): the only code that changes the published repository.
 * Jobs arrive in one FIFO group, but nothing here relies on that for correctness: two writers
 * (a redelivered job, a second self-hosted instance) stay safe because records, the index and
 * the tags change only by compare-and-swap, fragments and documents are keyed by content (never
 * overwritten by other content), and the index update re-checks the package record after each
 * read of the index (repository-index.ts). A removal always rewrites the index, so a publish that
 * read it before the record went Removing fails its compare-and-swap and gives up.
 * test/fault/adversarial-writers.test.ts pauses each writer at each of these steps.
 *
 *   publish  Processing → releaseVersion allocated → fragment → tags → index → Added
 *   remove   Removing → out of the index → tags → record Removed (a tombstone, by CAS)
 *            (its files, documents and fragment are then unreachable; collection deletes them)
 *   reindex  the whole index derived again from the records and fragments (Added, or Processing
 *            and already in the index)
 *
 * A job that fails for a reason retrying cannot fix (its data is missing, its entry would break the
 * index) is recorded at once; any other failure is retried `maxAttempts` times and then recorded
 * (package Failed with the reason, a metric, an audit line), so no job ever blocks the queue.
 */
import { isRegistryError, type ErrorEnvelope } from '../domain/errors.ts';
import type { RegistryJob } from '../ports/job-queue.ts';
import { encodeCoordinate } from '../universe/coordinate.ts';
import type { JsonObject, PackageMetadata } from '../universe/package-model.ts';
import type { BundleManifest } from '../bundle/bundle-layout.ts';
import { recordAudit } from './audit.ts';
import { dockerHostOf, type RegistryContext } from './context.ts';
import { collectGarbage } from './maintenance/garbage-collector.ts';
import { forEachRecordBatch } from './maintenance/live-set.ts';
import { reconcile } from './maintenance/reconciler.ts';
import { deriveTag, publishTags, unpublishTags } from './image-tags.ts';
import { repositoryEntry, type IndexFragment } from './index-document.ts';
import { readJson, readJsonLater, updateJson, writeJson, writeJsonIf } from './json-objects.ts';
import { TurnBudget } from '../support/turns.ts';
import {
  fragmentKey,
  imageBlobKey,
  INDEX_KEY,
  legacyFragmentKey,
  legacyPackageManifestKey,
  legacyPackageMetadataKey,
  packageManifestKey,
  packageMetadataKey,
  packageRecordKey,
  releaseCounterKey,
  resourceKey,
} from './layout.ts';
import type { PackageRecord } from './records.ts';
import { PermanentJobError } from './registry-errors.ts';
import { entryPieceOf, entryPiecesOf, INDEX_METADATA, updatePublishedIndex } from './repository-index.ts';
import { sameCoordinate, type IndexRow } from './index-store/index-table.ts';
import type { EntryPiece } from './index-store/repository-object.ts';
import type { IndexHosts } from './index-store/index-writer.ts';
import { noteInCatalog } from './catalog/package-catalog.ts';

/**
 * Runs one job. `attempt` is its delivery count (SQS ApproximateReceiveCount): a failure is
 * re-thrown for the queue to retry while attempts remain, and recorded once they are used up.
 */
export async function handleJob(context: RegistryContext, job: RegistryJob, attempt = 1): Promise<void> {
  try {
    await runJob(context, job);
  } catch (error) {
    const permanent = error instanceof PermanentJobError || (isRegistryError(error) && error.source === 'user');
    if (!permanent && attempt < context.settings.maxAttempts) throw error;
    await recordJobFailure(context, job, error, attempt);
  }
}

async function runJob(context: RegistryContext, job: RegistryJob): Promise<void> {
  switch (job.kind) {
    case 'publish':
      return publishPackage(context, job.name, job.version, job.bundleDigest);
    case 'remove':
      return removePackage(context, job.name, job.version);
    case 'reindex':
      await reindex(context);
      return;
    case 'collect-garbage':
      await collectGarbage(context);
      return;
    case 'reconcile':
      await reconcile(context, job.scope ? { scope: job.scope } : {});
      return;
  }
}

function envelopeOf(error: unknown): ErrorEnvelope {
  if (isRegistryError(error)) return error.toEnvelope();
  return { type: 'InternalError', message: error instanceof Error ? error.message : String(error), data: {} };
}

/** The last word on a job that cannot be done: said where an operator and `describe` will see it. */
async function recordJobFailure(context: RegistryContext, job: RegistryJob, error: unknown, attempts: number): Promise<void> {
  const envelope = envelopeOf(error);
  context.log.error('job failed for good', { job, attempts, type: envelope.type, reason: envelope.message });
  context.metrics?.count('registry_job_failures_total', { kind: job.kind, type: envelope.type });
  if (job.kind === 'publish' || job.kind === 'remove') {
    const coordinate = encodeCoordinate({ name: job.name, version: job.version });
    if (job.kind === 'publish') {
      // A publish can fail after its entry reached the index (marking it Added failed): a Failed
      // package must not stay in /repo, where it would name files collection then deletes.
      const { name, version, bundleDigest } = job;
      await updatePublishedIndex(context.store, hostsOf(context), async (rows) => {
        const record = (await readJson<PackageRecord>(context.store, packageRecordKey(coordinate)))?.value;
        if (record?.contentDigest !== bundleDigest || record.status !== 'Processing' || !rows.some((row) => sameCoordinate(row, name, version))) return undefined;
        return { kind: 'edit', remove: (row) => sameCoordinate(row, name, version) };
      });
    }
    await updateJson<PackageRecord>(context.store, packageRecordKey(coordinate), (current) => {
      if (job.kind === 'publish') {
        return current && current.contentDigest === job.bundleDigest && current.status === 'Processing'
          ? { ...current, status: 'Failed', error: envelope, updatedAt: context.now().toISOString() }
          : undefined;
      }
      // A removal stays Removing (the package is on its way out); the reconciler tries again later.
      return current && current.status === 'Removing' ? { ...current, error: envelope, updatedAt: context.now().toISOString() } : undefined;
    });
    await noteInCatalog(context, job.name, job.version);
    if (job.kind === 'publish') {
      // Tags it may have taken go back to their other owners (a Failed package owns none). Its
      // fragment, if written, is collected: no live record names it.
      const record = (await readJson<PackageRecord>(context.store, packageRecordKey(coordinate)))?.value;
      for (const image of record?.images ?? []) if (image.tag) await deriveTag(context, image.repository, image.tag);
      await context.queue.send({ kind: 'collect-garbage' }, { deduplicationId: `gc-after-failed-${job.bundleDigest}` });
    }
    await recordAudit(context, {
      actor: 'registry',
      action: job.kind === 'publish' ? 'package.publish' : 'package.remove',
      outcome: 'failed',
      package: { name: job.name, version: job.version },
      reason: `${envelope.type}: ${envelope.message}`,
    });
  }
}

/** The record still says this content is to be published (or is). */
const stillPublishing = (record: PackageRecord | undefined, contentDigest: string): boolean =>
  record !== undefined && record.contentDigest === contentDigest && (record.status === 'Processing' || record.status === 'Added');

async function readPackageDocument<T>(context: RegistryContext, key: string, legacyKey: string): Promise<T | undefined> {
  return (await readJson<T>(context.store, key))?.value ?? (await readJson<T>(context.store, legacyKey))?.value;
}

/** The fragment of this content (or, in an older data directory, the one fragment of the version). */
export async function readFragment(context: RegistryContext, coordinate: string, contentDigest: string): Promise<IndexFragment | undefined> {
  const fragment = await readPackageDocument<IndexFragment>(context, fragmentKey(coordinate, contentDigest), legacyFragmentKey(coordinate));
  return fragment?.contentDigest === contentDigest ? fragment : undefined;
}

/**
 * The fragment's bytes now and its parse later (undefined from the parse when it is not of this
 * content): a reindex reads many at once and parses each in its own slice of the event loop.
 */
async function readFragmentLater(context: RegistryContext, coordinate: string, contentDigest: string): Promise<(() => IndexFragment | undefined) | undefined> {
  const stored = (await readJsonLater<IndexFragment>(context.store, fragmentKey(coordinate, contentDigest))) ?? (await readJsonLater<IndexFragment>(context.store, legacyFragmentKey(coordinate)));
  if (!stored) return undefined;
  return () => {
    const fragment = stored.parse();
    return fragment.contentDigest === contentDigest ? fragment : undefined;
  };
}

export async function publishPackage(context: RegistryContext, name: string, version: string, contentDigest: string): Promise<void> {
  const coordinate = encodeCoordinate({ name, version });
  const log = context.log.child({ package: name, version });
  const recordKey = packageRecordKey(coordinate);
  const record = await readJson<PackageRecord>(context.store, recordKey);
  if (!record || !stillPublishing(record.value, contentDigest)) {
    log.info('publish skipped: the package changed since the job was queued', { status: record?.value.status });
    return;
  }
  for (const digest of record.value.resources) {
    if (!(await context.store.head(resourceKey(digest)))) throw new PermanentJobError('ResourceMissing', `Stored resource sha256:${digest} of ${name} ${version} is missing: add the bundle again`, { sha256: digest });
  }
  for (const digest of record.value.imageBlobs ?? []) {
    if (!(await context.store.head(imageBlobKey(digest)))) throw new PermanentJobError('ResourceMissing', `Stored image blob sha256:${digest} of ${name} ${version} is missing: add the bundle again`, { sha256: digest });
  }
  const releaseVersion = record.value.releaseVersion ?? (await allocateReleaseVersion(context, name));
  const withRelease = await updateJson<PackageRecord>(context.store, recordKey, (current) =>
    // Only while it is being published: a late duplicate of this job must not mark a Failed record.
    current && current.contentDigest === contentDigest && current.status === 'Processing' && current.releaseVersion === null ? { ...current, releaseVersion } : undefined,
  );
  const metadata = await readPackageDocument<PackageMetadata>(context, packageMetadataKey(coordinate, contentDigest), legacyPackageMetadataKey(coordinate));
  const manifest = await readPackageDocument<BundleManifest>(context, packageManifestKey(coordinate, contentDigest), legacyPackageManifestKey(coordinate));
  if (!metadata || !manifest) throw new PermanentJobError('PackageDataMissing', `The stored data of ${name} ${version} is incomplete: add the bundle again`, {});
  const fragment: IndexFragment = {
    name,
    version,
    releaseVersion: withRelease?.releaseVersion ?? releaseVersion,
    contentDigest,
    metadata,
    resources: manifest.resources.map(({ ref, sha256, filename }) => ({ ref, sha256, filename })),
    images: manifest.images.map(({ ref, repository, tag, digest, template }) => ({ ref, repository, ...(tag ? { tag } : {}), digest, ...(template !== undefined ? { template } : {}) })),
  };
  await writeJson(context.store, fragmentKey(coordinate, contentDigest), fragment);
  // Tags are for people; /repo names images by digest, which /v2/ serves from the blobs alone.
  await publishTags(context, coordinate, withRelease ?? record.value, fragment.releaseVersion);
  const published = await context.store.head(INDEX_KEY);
  const hosts = hostsOf(context);
  if (published && (published.metadata[INDEX_METADATA.publicBaseUrl] !== hosts.publicBaseUrl || published.metadata[INDEX_METADATA.dockerHost] !== hosts.dockerHost)) {
    // The public URL or Docker host changed since the index was written: every entry needs new
    // references. The rebuild leaves this version out (it has not reached the index): it is added below.
    await reindex(context);
  }
  let result;
  try {
    let entry: JsonObject;
    try {
      entry = repositoryEntry(fragment, hosts);
    } catch (error) {
      throw new PermanentJobError('InvalidIndex', `The repository entry of ${name} ${version} cannot be made: ${(error as Error).message}`);
    }
    // Validated and compressed once, here: the other entries were when they were published.
    const piece = await entryPieceOf(entry);
    result = await updatePublishedIndex(context.store, hosts, async () => {
      // Re-checked after every read of the index: a removal that started meanwhile wins.
      if (!stillPublishing((await readJson<PackageRecord>(context.store, recordKey))?.value, contentDigest)) return undefined;
      return { kind: 'edit', remove: (row) => sameCoordinate(row, name, version), add: [piece] };
    });
  } catch (error) {
    if (isRegistryError(error) && error.type === 'InvalidIndex') throw new PermanentJobError('InvalidIndex', error.message, error.data as Record<string, unknown>);
    throw error;
  }
  if (!result.published) {
    await undoAbandonedPublish(context, record.value);
    log.info('publish abandoned: the package was removed or replaced meanwhile');
    return;
  }
  await markAdded(context, name, version, contentDigest);
  recordIndexMetrics(context, result.entries, result.bytes);
  log.info('package published', { releaseVersion: fragment.releaseVersion, indexEntries: result.entries });
}

/**
 * Takes back the tag ownership of a publish that lost to a removal. Its fragment stays for
 * collection: keyed by content, it can never stand for another publication of the version.
 */
async function undoAbandonedPublish(context: RegistryContext, record: PackageRecord): Promise<void> {
  for (const image of record.images ?? []) if (image.tag) await deriveTag(context, image.repository, image.tag);
}

function recordIndexMetrics(context: RegistryContext, entries: number, bytes: number): void {
  context.metrics?.gauge('registry_index_entries', entries);
  context.metrics?.gauge('registry_index_bytes', bytes);
  context.metrics?.gauge('registry_index_published_timestamp_seconds', Math.floor(context.now().getTime() / 1000));
}

export function hostsOf(context: RegistryContext): IndexHosts {
  return {
    publicBaseUrl: context.settings.publicBaseUrl,
    dockerHost: dockerHostOf(context.settings),
    // Lambda cannot send a large view inline: store it whole, for a presigned URL.
    ...(context.settings.streamResponses ? {} : { materializeViewsAbove: context.settings.maxInlineResponseBytes }),
  };
}

async function markAdded(context: RegistryContext, name: string, version: string, contentDigest: string): Promise<void> {
  await updateJson<PackageRecord>(context.store, packageRecordKey(encodeCoordinate({ name, version })), (current) =>
    current && current.contentDigest === contentDigest && current.status === 'Processing'
      ? { ...current, status: 'Added', error: null, updatedAt: context.now().toISOString() }
      : undefined,
  );
  await noteInCatalog(context, name, version);
}

/**
 * Release versions are epoch seconds at publication, strictly increasing per package name
 * (spec §6.7): the most recent upload is what Cosmos installs by default, as with the original.
 */
async function allocateReleaseVersion(context: RegistryContext, name: string): Promise<number> {
  const nowSeconds = Math.floor(context.now().getTime() / 1000);
  let allocated = 0;
  await updateJson<{ highest: number }>(context.store, releaseCounterKey(name), (current) => {
    allocated = Math.max(nowSeconds, (current?.highest ?? 0) + 1);
    return { highest: allocated };
  });
  return allocated;
}

export async function removePackage(context: RegistryContext, name: string, version: string): Promise<void> {
  const coordinate = encodeCoordinate({ name, version });
  const recordKey = packageRecordKey(coordinate);
  const read = await readJson<PackageRecord>(context.store, recordKey);
  if (!read || read.value.status !== 'Removing') return;
  const removing = read.value;
  // The very record this removal read, still Removing: a late duplicate of this job, or one that
  // was taken for dead, must never touch a version added again since.
  const stillThisRemoval = async (): Promise<boolean> => {
    const current = (await readJson<PackageRecord>(context.store, recordKey))?.value;
    return current?.status === 'Removing' && current.contentDigest === removing.contentDigest && current.updatedAt === removing.updatedAt;
  };
  // Out of the index first: from here on no client is sent to the files about to go. The index is
  // written even when the entry is not in it, so a publish that read it before the record went
  // Removing fails its compare-and-swap, reads the record again and gives up.
  const index = await updatePublishedIndex(context.store, hostsOf(context), async () =>
    (await stillThisRemoval()) ? { kind: 'edit', remove: (row) => sameCoordinate(row, name, version) } : undefined,
  );
  if (!index.published) return;
  recordIndexMetrics(context, index.entries, index.bytes);
  // The record is Removing: it owns none of its tags any more, each goes to its next latest owner.
  await unpublishTags(context, coordinate, removing.images ?? []);
  // A tombstone, by compare-and-swap, instead of a delete: a version added again meanwhile wins.
  const removed = await writeJsonIf<PackageRecord>(context.store, recordKey, { ...removing, status: 'Removed', error: null, updatedAt: context.now().toISOString() }, read.etag);
  if (removed === undefined) return;
  await noteInCatalog(context, name, version);
  // Its files, documents and fragment are now unreachable unless another record names them;
  // collection decides.
  if (context.settings.gcGraceSeconds === 0) await collectGarbage(context);
  context.log.info('package removed', { package: name, version });
}

/**
 * Derives the whole index again from the records (Added, or Processing and already in the index) and their
 * fragments, listing them afresh on every attempt so that a publish or a removal that lands in
 * between is never overwritten. O(number of versions), never O(bundle bytes); fragments are read
 * a batch at a time and kept only as compressed pieces, so memory grows with the index's
 * compressed size, not with its parsed one.
 */
export async function reindex(context: RegistryContext): Promise<{ entries: number }> {
  const hosts = hostsOf(context);
  // Every entry is validated and compressed again: a reindex is also the repair of a broken index.
  const { entries, bytes } = await updatePublishedIndex(context.store, hosts, async (rows) => ({ kind: 'replace', pieces: await publishablePieces(context, hosts, rows) }), {
    replacesAll: true,
  });
  recordIndexMetrics(context, entries, bytes);
  context.log.info('index rebuilt', { entries });
  return { entries };
}

/**
 * The entries that belong in the index, as pieces: each one's record is Added with that content,
 * or Processing and already in the index (`rows`: its publish reached the index and has not yet
 * marked it Added). A Processing version its publish has not reached the index with stays out: a
 * rebuild must not publish what may yet fail (the publish adds it itself).
 */
async function publishablePieces(context: RegistryContext, hosts: IndexHosts, rows: readonly IndexRow[]): Promise<EntryPiece[]> {
  const indexed = new Set(rows.map((row) => `${row.name}\n${row.version}`));
  const pieces: EntryPiece[] = [];
  // 16 at a time (their parses land together in one turn of the event loop), each batch made
  // into pieces before the next is read: only the pieces are held, never every record.
  await forEachRecordBatch(context, 16, async (batch) => {
    const fragments = await Promise.all(
      batch.map(async ({ coordinate, record }) => {
        const publishing = record.status === 'Processing' && indexed.has(`${record.name}\n${record.version}`);
        if (record.status !== 'Added' && !publishing) return undefined;
        return readFragmentLater(context, coordinate, record.contentDigest);
      }),
    );
    // Parsed one at a time, each in the slice that validates it (entry-pieces.ts).
    const present: IndexFragment[] = [];
    const budget = new TurnBudget();
    for (const parse of fragments) {
      if (!parse) continue;
      await budget.pause();
      const fragment = parse();
      if (fragment) present.push(fragment);
    }
    pieces.push(...(await entryPiecesOf(present, (fragment) => repositoryEntry(fragment, hosts))));
  });
  return pieces;
}
