/**
 * Ingest (the unpack function): a stored `.dcos` → validated, content copied, package staged for
 * publication, and a publish job queued for the single index writer.
 *
 * Events arrive twice, late or never, and the process may die at any line:
 * - An attempt claims the upload (its record goes Validating with the attempt's id) and keeps the
 *   claim alive with a heartbeat; an event for the same bundle while a live attempt holds it is
 *   dropped, and one for a bundle already ended is a no-op. A claim whose heartbeat stopped is
 *   taken over (by a later event or by the reconciler).
 * - A bad bundle changes nothing but its upload's status (and the package's, when that is not
 *   already published): structure and documents are checked before anything is written, and each
 *   file's sha256 as it is copied; a file is committed only once its digest holds (the check ends
 *   the stream the store is writing), so a digest key never holds other bytes.
 * - A storage or queue failure is not the bundle's fault: the bundle is kept, the attempt is
 *   counted and the error re-thrown so the event is retried; after `maxAttempts` the upload is
 *   Rejected with the internal error. Any other exception ends the same way: no upload stays
 *   Validating.
 * - The bundle is deleted only after the outcome is recorded (and the publish job queued).
 * Files in use before the package record exists are covered by a lease (maintenance/leases.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Bundle } from '../bundle/bundle-reader.ts';
import { checkBundleSignature } from '../signing/bundle-signature.ts';
import { InvalidBundleError } from '../bundle/bundle-errors.ts';
import { isRegistryError, RegistryError, type ErrorEnvelope } from '../domain/errors.ts';
import { copyStoredRange, invalidKeyReason, ObjectStoreError, PreconditionFailedError, type RangeSource } from '../ports/object-store.ts';
import { METHOD_STORED } from '../bundle/zip/zip-format.ts';
import { MIN_APART_BYTES } from '../bundle/zip/stored-member-segments.ts';
import { encodeCoordinate } from '../universe/coordinate.ts';
import type { RegistryContext } from './context.ts';
import { readJson, updateJson, writeJsonIf } from './json-objects.ts';
import {
  fragmentKey,
  imageBlobKey,
  packageManifestKey,
  packageMetadataKey,
  packageRecordKey,
  omittedManifestKey,
  resourceKey,
  tagOwnerKey,
  UPLOADS_PREFIX,
  uploadIdForBundleKey,
  uploadRecordKey,
} from './layout.ts';
import { PackageAlreadyExistsError, PackageCoordinateTooLongError } from './registry-errors.ts';
import { recordAudit } from './audit.ts';
import { isReplaceableRecord, type IngestProgress, type PackageRecord, type PublishedImage, type UploadRecord } from './records.ts';
import type { ManifestImage } from '../bundle/bundle-layout.ts';
import { openStoredObject } from './store-byte-source.ts';
import { releaseIngestLease, runningGcRuns, waitForGcRuns, writeIngestLease, type IngestLease } from './maintenance/leases.ts';
import { heartbeatMs, staleAfterMs } from './maintenance/timing.ts';
import { noteInCatalog } from './catalog/package-catalog.ts';
import { servedImages, type OmittedManifest } from './served-images.ts';
import { contentDigestOf } from './content-digest.ts';

export type IngestOutcome =
  | { readonly outcome: 'accepted'; readonly name: string; readonly version: string; readonly unchanged: boolean; readonly contentDigest?: string }
  | { readonly outcome: 'rejected'; readonly error: ErrorEnvelope }
  | { readonly outcome: 'ignored'; readonly reason: string };

/** How often an attempt's progress is written into its upload's record, at most. */
const PROGRESS_INTERVAL_MS = 1000;

const sha256 = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex');

/** The envelope recorded when an ingest keeps failing for a reason that is not the bundle's. */
export function internalFailure(error: unknown, attempts: number): ErrorEnvelope {
  const detail = isRegistryError(error) ? `${error.type}: ${error.message}` : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    type: 'InternalError',
    message: `The registry could not process this bundle (${attempts} attempt${attempts === 1 ? '' : 's'}): ${detail}. The bundle itself may be fine: add it again, and tell the operator if this persists.`,
    data: { attempts },
  };
}

/** Whether an error is the bundle's (refuse it) rather than the system's (retry). */
function isBundlesFault(error: unknown): error is RegistryError {
  return isRegistryError(error) && error.source === 'user';
}

export async function ingestBundle(context: RegistryContext, bundleKey: string): Promise<IngestOutcome> {
  const uploadId = uploadIdForBundleKey(bundleKey, sha256);
  if (uploadId === undefined || invalidKeyReason(bundleKey) !== undefined) return { outcome: 'ignored', reason: `${bundleKey} is not a bundle location` };
  const log = context.log.child({ uploadId, bundleKey });
  const info = await context.store.head(bundleKey);
  if (!info) return { outcome: 'ignored', reason: `${bundleKey} no longer exists` };
  const identity = `${info.etag}|${info.size}|${info.lastModified.toISOString()}`;

  const attemptId = randomUUID();
  const claim = await claimUpload(context, uploadId, bundleKey, identity, attemptId);
  if (claim.kind === 'ended') {
    // A repeated event for a bundle whose outcome is recorded: finish what a crash may have left.
    await context.store.delete(bundleKey);
    const record = claim.record;
    return record.status === 'Accepted'
      ? { outcome: 'accepted', name: record.packages[0]?.name ?? '', version: record.packages[0]?.version ?? '', unchanged: true }
      : { outcome: 'rejected', error: record.error ?? { type: 'Unknown', message: 'rejected', data: {} } };
  }
  if (claim.kind === 'used') {
    log.warn('a second bundle PUT to an upload that already has one: removed, the upload keeps its own', { status: claim.record.status });
    await context.store.delete(bundleKey);
    return { outcome: 'ignored', reason: `upload ${uploadId} already took a bundle; this one is not ingested` };
  }
  if (claim.kind === 'busy') return { outcome: 'ignored', reason: `${bundleKey} is being ingested by attempt ${claim.record.attemptId}` };
  const attempts = claim.record.attempts ?? 1;

  const actor = claim.record.uploadedBy ?? (bundleKey.startsWith('drop/') ? 'drop' : 'storage-event');
  const startedAt = Date.now();
  const measure = (outcome: string): void => {
    context.metrics?.count('registry_ingest_total', { outcome });
    context.metrics?.observe('registry_ingest_duration_seconds', (Date.now() - startedAt) / 1000, { outcome });
  };
  const heartbeat = startHeartbeat(context, uploadId, attemptId);
  const staged: Staged = {};
  let bundle: Bundle | undefined;
  const opened = openStoredObject(context.store, bundleKey, info);
  try {
    try {
      const candidate = await Bundle.open(opened);
      // Before anything is written, and before the bundle counts as opened: a bundle refused for
      // its signature names no package (none is marked Failed on its word).
      const signedBy = context.settings.trustedKeys ? checkBundleSignature(candidate.signatureEnvelope, candidate.signedContent, context.settings.trustedKeys, candidate).keyId : undefined;
      // Where signatures are required, a tampered file is refused before anything is written
      // too (one more read of the bundle): otherwise it is found as it is copied.
      if (context.settings.trustedKeys) await candidate.verifyContents();
      bundle = candidate;
      const outcome = await stagePackage(context, bundle, { key: bundleKey, etag: info.etag }, uploadId, attemptId, heartbeat, staged, signedBy);
      await finishUpload(context, uploadId, attemptId, {
        status: 'Accepted',
        packages: [{ name: outcome.name, version: outcome.version }],
        error: null,
      });
      log.info('bundle accepted', { package: outcome.name, version: outcome.version, unchanged: outcome.unchanged });
      measure(outcome.unchanged ? 'unchanged' : 'accepted');
      await recordAudit(context, {
        actor,
        action: 'bundle.add',
        outcome: 'ok',
        uploadId,
        package: { name: outcome.name, version: outcome.version },
        ...(outcome.contentDigest ? { contentDigest: outcome.contentDigest } : {}),
      });
      await context.store.delete(bundleKey);
      return outcome;
    } catch (error) {
      const metadata = bundle?.metadata;
      if (!isBundlesFault(error)) {
        if (attempts < context.settings.maxAttempts) {
          // Not the bundle's fault: keep it, count the attempt, let the event be retried.
          const envelope = internalFailure(error, attempts);
          log.error('ingest attempt failed; it will be retried', { attempts, error });
          // The claim is let go, so the retried event can take it at once.
          await updateJson<UploadRecord>(context.store, uploadRecordKey(uploadId), (current) => {
            if (!current || current.attemptId !== attemptId || current.status !== 'Validating') return undefined;
            const { attemptId: _released, progress: _progress, ...rest } = current;
            return { ...rest, lastError: envelope, updatedAt: context.now().toISOString() };
          });
          measure('retried');
          throw error;
        }
        log.error('ingest failed for good', { attempts, error });
        if (staged.record && (await stillStaged(context, staged.record))) {
          // Its record was written before the failure (say the queue refused the publish job):
          // the package is on its way, the reconciler queues its publication. Tell the truth.
          await releaseIngestLease(context, uploadId);
          await finishUpload(context, uploadId, attemptId, { status: 'Accepted', packages: [{ name: bundle!.metadata.name, version: bundle!.metadata.version }], error: null });
          await context.store.delete(bundleKey);
          return { outcome: 'accepted', name: bundle!.metadata.name, version: bundle!.metadata.version, unchanged: false, contentDigest: staged.record.contentDigest };
        }
      }
      const envelope = isBundlesFault(error) ? error.toEnvelope() : internalFailure(error, attempts);
      if (isBundlesFault(error)) log.warn('bundle rejected', { type: envelope.type, reason: envelope.message });
      // Where the bundle opened (its metadata is valid) the package it claims to be is marked
      // Failed, unless that package is published; a bundle that does not open names no package.
      if (metadata) await markFailedUnlessPublished(context, metadata.name, metadata.version, metadata.packagingVersion, uploadId, envelope);
      heartbeat.lease = undefined;
      await releaseIngestLease(context, uploadId);
      if (metadata) {
        // What it copied before it was refused is valid content no package uses: collect it
        // (now when there is no grace window, else once the window has passed).
        await context.queue.send({ kind: 'collect-garbage' }, { deduplicationId: `gc-after-${uploadId}-${attempts}` }).catch((queueError: unknown) =>
          log.warn('collection after a refused bundle not queued', { error: queueError }),
        );
      }
      await finishUpload(context, uploadId, attemptId, {
        status: 'Rejected',
        packages: metadata ? [{ name: metadata.name, version: metadata.version }] : [],
        error: envelope,
      });
      measure(isBundlesFault(error) ? 'rejected' : 'failed');
      await recordAudit(context, {
        actor,
        action: 'bundle.add',
        outcome: 'failed',
        uploadId,
        ...(metadata ? { package: { name: metadata.name, version: metadata.version } } : {}),
        reason: `${envelope.type}: ${envelope.message}`,
      });
      await context.store.delete(bundleKey);
      return { outcome: 'rejected', error: envelope };
    }
  } finally {
    heartbeat.stop();
    await opened.close();
  }
}

/** What an attempt has staged so far: its package record, once written. */
interface Staged {
  record?: { readonly coordinate: string; readonly contentDigest: string };
}

async function stillStaged(context: RegistryContext, staged: NonNullable<Staged['record']>): Promise<boolean> {
  const record = (await readJson<PackageRecord>(context.store, packageRecordKey(staged.coordinate)))?.value;
  return record !== undefined && record.contentDigest === staged.contentDigest && (record.status === 'Processing' || record.status === 'Added');
}

type Claim =
  | { readonly kind: 'claimed'; readonly record: UploadRecord }
  | { readonly kind: 'busy'; readonly record: UploadRecord }
  | { readonly kind: 'ended'; readonly record: UploadRecord }
  | { readonly kind: 'used'; readonly record: UploadRecord };

/** Takes the upload for this attempt, unless its outcome is recorded or a live attempt holds it. */
async function claimUpload(context: RegistryContext, uploadId: string, bundleKey: string, identity: string, attemptId: string): Promise<Claim> {
  let claim: Claim | undefined;
  const now = context.now();
  await updateJson<UploadRecord>(context.store, uploadRecordKey(uploadId), (current) => {
    const sameBundle = current?.bundleIdentity === identity;
    // An upload URL serves one bundle: another one PUT to it once a bundle was taken (a reused
    // URL, a second PUT) is not this upload's. (A drop/ name may be dropped again: not these.)
    if (current && !sameBundle && current.bundleIdentity !== undefined && bundleKey.startsWith(UPLOADS_PREFIX)) {
      claim = { kind: 'used', record: current };
      return undefined;
    }
    if (current && sameBundle && (current.status === 'Accepted' || current.status === 'Rejected')) {
      claim = { kind: 'ended', record: current };
      return undefined;
    }
    if (current && sameBundle && current.status === 'Validating' && current.attemptId !== undefined && now.getTime() - Date.parse(current.updatedAt) < staleAfterMs(context.settings)) {
      claim = { kind: 'busy', record: current };
      return undefined;
    }
    // A new attempt starts with no progress (a taken-over attempt's is not this one's).
    const { progress: _progress, ...previous } = current ?? { uploadId, bundleKey, packages: [], createdAt: now.toISOString() };
    const next: UploadRecord = {
      ...previous,
      status: 'Validating',
      bundleKey,
      bundleIdentity: identity,
      attemptId,
      attempts: sameBundle ? (current?.attempts ?? 0) + 1 : 1,
      error: null,
      updatedAt: now.toISOString(),
    } as UploadRecord;
    claim = { kind: 'claimed', record: next };
    return next;
  });
  return claim!;
}

interface Heartbeat {
  /** Called as work progresses: writes a heartbeat if one is due. */
  beat(): void;
  /** Says how far the attempt has got: written into the upload's record within a second. */
  report(progress: IngestProgress): void;
  /** The lease to keep fresh too, while the attempt holds one, and when it was last written. */
  lease: IngestLease | undefined;
  leaseWrittenAt: number;
  /** Set when the lease went unrefreshed for half the stale age at any time: a collection may not have seen it. */
  leaseLapsed: boolean;
  stop(): void;
}

/**
 * Keeps the claim (the upload record's updatedAt) and the lease fresh while the attempt makes
 * progress. Only progress counts: an attempt hung on a storage call stops beating and is taken
 * over, as one that died is.
 */
function startHeartbeat(context: RegistryContext, uploadId: string, attemptId: string): Heartbeat {
  let last = Date.now();
  let progressed = false;
  let writing: Promise<unknown> | undefined;
  let progress: IngestProgress | undefined;
  let progressWritten: IngestProgress | undefined;
  // When the attempt last showed a sign of life: what a heartbeat records, even when it is
  // written later (by the timer), so a write never makes a stalled attempt look alive for longer
  // (test/fault/adversarial-errors.test.ts, D1b).
  let signOfLife = context.now();
  const interval = heartbeatMs(context.settings);
  // Progress is for a person watching (add --wait): once a second is enough, and bounds the writes.
  const progressInterval = Math.min(interval, PROGRESS_INTERVAL_MS);
  const write = (): void => {
    const elapsed = Date.now() - last;
    const progressDue = progress !== progressWritten && elapsed >= progressInterval;
    if (writing || !((progressed && elapsed >= interval) || progressDue)) return;
    last = Date.now();
    progressed = false;
    const lease = heartbeat.lease;
    const reported = progress;
    progressWritten = reported;
    writing = updateJson<UploadRecord>(context.store, uploadRecordKey(uploadId), (current) =>
      current && current.attemptId === attemptId && current.status === 'Validating'
        ? { ...current, ...(reported ? { progress: reported } : {}), updatedAt: signOfLife.toISOString() }
        : undefined,
    )
      .then(async () => {
        if (!lease || heartbeat.lease !== lease) return;
        const startedAt = Date.now();
        await writeIngestLease(context, lease);
        if (startedAt - heartbeat.leaseWrittenAt > staleAfterMs(context.settings) / 2) heartbeat.leaseLapsed = true;
        heartbeat.leaseWrittenAt = startedAt;
      })
      .catch((error: unknown) => context.log.warn('ingest heartbeat not written', { uploadId, error }))
      .finally(() => (writing = undefined));
  };
  const beat = (): void => {
    progressed = true;
    signOfLife = context.now();
    write();
  };
  const timer = setInterval(write, Math.max(50, Math.floor(interval / 4)));
  timer.unref();
  const report = (next: IngestProgress): void => {
    progress = next;
    signOfLife = context.now();
    write();
  };
  const heartbeat: Heartbeat = { beat, report, lease: undefined, leaseWrittenAt: 0, leaseLapsed: false, stop: () => clearInterval(timer) };
  return heartbeat;
}

async function finishUpload(
  context: RegistryContext,
  uploadId: string,
  attemptId: string,
  outcome: Pick<UploadRecord, 'status' | 'packages' | 'error'>,
): Promise<void> {
  await updateJson<UploadRecord>(context.store, uploadRecordKey(uploadId), (current) => {
    // The first outcome recorded stands: an attempt taken for dead that finishes after another
    // one (or the reverse) never flips Accepted and Rejected.
    if (!current || current.status !== 'Validating') return undefined;
    const { lastError: _lastError, progress: _progress, ...rest } = current;
    return { ...rest, ...outcome, updatedAt: context.now().toISOString() };
  });
}

/** Every key the package's coordinate goes into must fit the store's key limit. */
function checkCoordinateFits(name: string, version: string, coordinate: string, images: readonly PublishedImage[]): void {
  const keys = [packageMetadataKey(coordinate, '0'.repeat(64)), fragmentKey(coordinate, '0'.repeat(64)), ...images.filter((image) => image.tag).map((image) => tagOwnerKey(image.repository, image.tag!, coordinate))];
  for (const key of keys) {
    const reason = invalidKeyReason(key);
    if (reason !== undefined) throw new PackageCoordinateTooLongError(name, version, key.length, reason);
  }
}

async function stagePackage(
  context: RegistryContext,
  bundle: Bundle,
  bundleAt: StoredBundle,
  uploadId: string,
  attemptId: string,
  heartbeat: Heartbeat,
  staged: Staged,
  signedBy: string | undefined,
): Promise<Extract<IngestOutcome, { outcome: 'accepted' }>> {
  const { metadata } = bundle;
  // The images as served: an index missing some platforms is reduced to those the bundle holds.
  const served = await servedImages(bundle);
  const manifest = { ...bundle.manifest, images: served.images };
  const coordinate = encodeCoordinate(metadata);
  const images = uniqueImages(manifest.images);
  checkCoordinateFits(metadata.name, metadata.version, coordinate, images);
  const contentDigest = contentDigestOf(metadata, manifest);
  const metadataBytes = Buffer.from(JSON.stringify(metadata));
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const resources = [...bundle.resources.keys()].sort();
  const imageBlobs = [...new Set([...[...bundle.imageBlobs.keys()].filter((digest) => !served.replaced.has(digest)), ...served.reduced.keys()])].sort();
  const copyImageBlob = async (digest: string): Promise<void> => {
    const made = served.reduced.get(digest);
    if (made) await putMadeBlob(context, digest, made.bytes, made.mediaType);
    else await copyContent(context, bundle, bundleAt, 'image-blob', digest, alive);
  };
  const accepted = (unchanged: boolean) => ({ outcome: 'accepted' as const, name: metadata.name, version: metadata.version, unchanged, contentDigest });

  const existing = await readJson<PackageRecord>(context.store, packageRecordKey(coordinate));
  if (existing && !isReplaceableRecord(existing.value)) {
    if (existing.value.contentDigest === contentDigest && existing.value.status !== 'Removing') {
      // The same content again: nothing to do (but make sure a publish is under way).
      staged.record = { coordinate, contentDigest };
      if (existing.value.status === 'Processing') await queuePublish(context, metadata.name, metadata.version, contentDigest, uploadId);
      return accepted(true);
    }
    throw new PackageAlreadyExistsError(metadata.name, metadata.version);
  }

  // The lease before any file is looked at; the running collections after it (leases.ts).
  const lease: IngestLease = { uploadId, attemptId, resources, imageBlobs, document: `${coordinate}/${contentDigest}` };
  await writeIngestLease(context, lease);
  heartbeat.lease = lease;
  heartbeat.leaseWrittenAt = Date.now();
  const release = async (): Promise<void> => {
    heartbeat.lease = undefined;
    await releaseIngestLease(context, uploadId);
  };
  let collections = await runningGcRuns(context);
  const sizeOf = (digest: string): number => bundle.resources.get(digest)?.size ?? bundle.imageBlobs.get(digest)?.size ?? served.reduced.get(digest)?.bytes.length ?? 0;
  const files = [...resources, ...imageBlobs];
  const counted = { filesDone: 0, filesTotal: files.length, bytesDone: 0, bytesTotal: files.reduce((sum, digest) => sum + sizeOf(digest), 0) };
  const alive = (bytes = 0): void => {
    // (Files put back after a collection are checked again: never past the whole.)
    counted.bytesDone = Math.min(counted.bytesDone + bytes, counted.bytesTotal);
    heartbeat.report({ phase: 'verifying', ...counted });
    heartbeat.beat();
  };
  alive();
  for (const digest of resources) {
    await copyContent(context, bundle, bundleAt, 'resource', digest, alive);
    counted.filesDone++;
    alive();
  }
  for (const digest of imageBlobs) {
    await copyImageBlob(digest);
    counted.filesDone++;
    alive();
  }
  heartbeat.report({ phase: 'recording', ...counted, bytesDone: counted.bytesTotal });
  for (const [digest, omitted] of served.omitted) await noteOmittedManifest(context, digest, omitted);
  const writeDocuments = async (): Promise<void> => {
    await context.store.put(packageMetadataKey(coordinate, contentDigest), metadataBytes, { contentType: 'application/json' });
    await context.store.put(packageManifestKey(coordinate, contentDigest), manifestBytes, { contentType: 'application/json' });
  };
  await writeDocuments();
  // Until the record is written, the lease alone keeps these files. Put back what a collection may
  // have deleted: one already under way when the lease was written (it did not see it), or any
  // that ran while this attempt stalled so long that its lease looked expired.
  let mustCheck = collections.length > 0;
  for (let round = 0; ; round++) {
    if (heartbeat.leaseLapsed || Date.now() - heartbeat.leaseWrittenAt > staleAfterMs(context.settings) / 2) {
      await writeIngestLease(context, lease);
      heartbeat.leaseWrittenAt = Date.now();
      heartbeat.leaseLapsed = false;
      collections = await runningGcRuns(context);
      mustCheck = true;
    }
    if (!mustCheck) break;
    if (round >= 10) throw new ObjectStoreError(context.store.name, 'the lease of this ingest kept lapsing: the store is too slow');
    await waitForGcRuns(context, collections, staleAfterMs(context.settings));
    await writeDocuments();
    for (const digest of resources) if (!(await context.store.head(resourceKey(digest)))) await copyContent(context, bundle, bundleAt, 'resource', digest, alive);
    for (const digest of imageBlobs) if (!(await context.store.head(imageBlobKey(digest)))) await copyImageBlob(digest);
    collections = [];
    mustCheck = false;
  }

  const now = context.now().toISOString();
  const record: PackageRecord = {
    name: metadata.name,
    version: metadata.version,
    packagingVersion: metadata.packagingVersion,
    status: 'Processing',
    releaseVersion: null,
    contentDigest,
    uploadId,
    resources,
    imageBlobs,
    images,
    addedAt: now,
    updatedAt: now,
    error: null,
    ...(signedBy ? { signedBy } : {}),
  };
  let expected = existing?.etag;
  for (let attempt = 0; (await writeJsonIf(context.store, packageRecordKey(coordinate), record, expected)) === undefined; attempt++) {
    // Another upload of the same coordinate wrote first: judge again against what it wrote. A
    // Failed or Removed record (a damaged copy refused meanwhile) is replaced as before.
    const winner = await readJson<PackageRecord>(context.store, packageRecordKey(coordinate));
    if (winner && isReplaceableRecord(winner.value) && attempt < 10) {
      expected = winner.etag;
      continue;
    }
    await release();
    if (winner?.value.contentDigest === contentDigest && !isReplaceableRecord(winner.value) && winner.value.status !== 'Removing') return accepted(true);
    throw new PackageAlreadyExistsError(metadata.name, metadata.version);
  }
  staged.record = { coordinate, contentDigest };
  await noteInCatalog(context, metadata.name, metadata.version);
  await queuePublish(context, metadata.name, metadata.version, contentDigest, uploadId);
  // The record names every file now: the lease has done its work.
  await release();
  return accepted(false);
}

/** The tags a bundle publishes: one per repository and tag (an image referenced twice counts once). */
function uniqueImages(images: readonly ManifestImage[]): PublishedImage[] {
  const byName = new Map<string, PublishedImage>();
  for (const image of images) {
    byName.set(`${image.repository}:${image.tag ?? image.digest}`, {
      repository: image.repository,
      ...(image.tag ? { tag: image.tag } : {}),
      digest: image.digest,
      mediaType: image.mediaType,
    });
  }
  return [...byName.values()];
}

/** Where the bundle being ingested is stored: the version every read of it is held to. */
interface StoredBundle {
  readonly key: string;
  readonly etag: string;
}

/**
 * Copies one resource or image blob to its content address, checking its sha256 (and, through
 * the reader, its CRC-32) as it streams. Content already stored is still checked (read, or from
 * the store's checksums as below), so a damaged bundle is refused whatever the store holds.
 *
 * A large stored member, on a store that copies ranges itself, is checked first and then copied
 * inside the store from the very version checked (on a directory, a hard link to the segment the
 * upload wrote: each byte is written once). It is checked from the SHA-256 and CRC-32 the store
 * computed as it wrote the segment, when it did (one pass over the bytes, as they arrived), else
 * by reading it. Elsewhere it is written as it is read, the check ending the stream before the
 * store commits.
 */
async function copyContent(context: RegistryContext, bundle: Bundle, bundleAt: StoredBundle, kind: 'resource' | 'image-blob', digest: string, alive: (bytes?: number) => void): Promise<void> {
  const key = kind === 'resource' ? resourceKey(digest) : imageBlobKey(digest);
  const content = (kind === 'resource' ? bundle.resources : bundle.imageBlobs).get(digest)!;
  const entryName = content.entry.name;
  async function* checked(): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256');
    for await (const chunk of kind === 'resource' ? bundle.resourceStream(digest) : bundle.imageBlobStream(digest)) {
      hash.update(chunk);
      alive(chunk.length);
      yield chunk;
    }
    const actual = hash.digest('hex');
    // Thrown before the stream ends, so the store does not commit the object.
    if (actual !== digest) {
      throw new InvalidBundleError('DigestMismatch', `entry ${entryName} has sha256 ${actual}, not the one its name claims`, {
        entry: entryName,
        expected: digest,
        actual,
      });
    }
  }
  const { entry } = content;
  const source = { key: bundleAt.key, etag: bundleAt.etag, offset: entry.dataOffset, length: entry.size };
  const inStore = entry.method === METHOD_STORED && entry.size >= MIN_APART_BYTES;
  /** Checks the member without writing it: from the checksums the store took as it wrote those bytes, else by reading them. */
  const verify = async (): Promise<void> => {
    const known = inStore ? await context.store.checksumsOfRange?.(source) : undefined;
    if (known && known.sha256 === digest && known.crc32 >>> 0 === entry.crc32 >>> 0) {
      alive(entry.size);
      return;
    }
    // Unknown, or not what the bundle says: read, and the reader says what is wrong.
    for await (const chunk of checked()) void chunk;
  };
  const present = await context.store.head(key);
  if (present && present.size === content.size) {
    await verify();
    return;
  }
  const contentType =
    kind === 'resource'
      ? bundle.manifest.resources.find((resource) => resource.sha256 === digest)!.contentType
      : (bundle.manifestTypes.get(digest) ?? 'application/octet-stream');
  if (context.store.copyRange && inStore) {
    await verify();
    const copied = await createContent(context, key, { copyOf: source }, { contentType });
    // The bundle's version went away since it was read (another attempt finished with it): read
    // it again, as any other member, which fails as a storage error and is retried.
    if (copied) return;
  }
  await createContent(context, key, checked(), { contentType, contentLength: content.size });
}

/**
 * Stores content at its address unless it is there: another ingest may write the same bytes at
 * once. The content is bytes, or a range of the stored bundle copied inside the store; false when
 * that range's version is gone (nothing written).
 */
async function createContent(
  context: RegistryContext,
  key: string,
  body: Uint8Array | AsyncIterable<Uint8Array> | { readonly copyOf: RangeSource },
  options: { contentType: string; contentLength?: number },
): Promise<boolean> {
  try {
    if ('copyOf' in body) return (await copyStoredRange(context.store, key, body.copyOf, { ...options, ifNoneMatch: '*' })) !== undefined;
    await context.store.put(key, body, { ...options, ifNoneMatch: '*' });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    // Written meanwhile by another ingest, if the store says so: a refused create proves nothing
    // by itself.
    if (!(await context.store.head(key))) throw new ObjectStoreError(context.store.name, `create-only write of ${key} was refused, yet nothing is stored there`);
  }
  return true;
}

/**
 * Says what a manifest left out of a reduced index is, so a client that asks for it by digest is
 * told which platform the bundle was built without. Only an explanation, never served: written
 * once, kept (a few hundred bytes per platform ever left out), stale ones harmless since a stored
 * manifest is found first.
 */
async function noteOmittedManifest(context: RegistryContext, digest: string, omitted: OmittedManifest): Promise<void> {
  try {
    await context.store.put(omittedManifestKey(digest), Buffer.from(JSON.stringify(omitted)), { contentType: 'application/json', ifNoneMatch: '*' });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
}

/** A blob made at ingest (a reduced index), stored at its content address like a copied one. */
async function putMadeBlob(context: RegistryContext, digest: string, bytes: Buffer, contentType: string): Promise<void> {
  if ((await context.store.head(imageBlobKey(digest)))?.size === bytes.length) return;
  await createContent(context, imageBlobKey(digest), bytes, { contentType });
}

async function queuePublish(context: RegistryContext, name: string, version: string, contentDigest: string, uploadId: string): Promise<void> {
  // One id per upload: a repeated event for the same upload is dropped by the queue, while the
  // same content uploaded again later (say after a removal) is published again.
  await context.queue.send({ kind: 'publish', name, version, bundleDigest: contentDigest }, {
    deduplicationId: `publish-${sha256(`${name}\n${version}\n${contentDigest}\n${uploadId}`)}`,
  });
}

export async function markFailedUnlessPublished(
  context: RegistryContext,
  name: string,
  version: string,
  packagingVersion: string,
  uploadId: string,
  error: ErrorEnvelope,
): Promise<void> {
  if (error.type === 'PackageAlreadyExists' || error.type === 'PackageCoordinateTooLong') return;
  const now = context.now().toISOString();
  await updateJson<PackageRecord>(context.store, packageRecordKey(encodeCoordinate({ name, version })), (current) => {
    if (current && !isReplaceableRecord(current)) return undefined;
    return {
      name,
      version,
      packagingVersion,
      status: 'Failed',
      releaseVersion: null,
      contentDigest: '',
      uploadId,
      resources: [],
      addedAt: current?.addedAt ?? now,
      updatedAt: now,
      error,
    };
  });
  await noteInCatalog(context, name, version);
}
