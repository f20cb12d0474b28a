/**
 * Ingest (the unpack function): a stored `.dcos` → validated, content copied, package staged for
 * publication, and a publish job queued for the single index writer.
 *
 * Runs once per S3 event, and S3 events arrive at least once, sometimes late: everything here is
 * idempotent. A bad bundle changes nothing but its upload's status (and the package's, when the
 * package is not already published): its structure and documents are checked before anything is
 * written, and its content is checked as it is copied, in one pass. A file is committed only once
 * its sha256 has been checked (the check ends the stream the store is writing), so a digest key
 * never holds other bytes; files of a bundle refused half-way are valid content that no package
 * uses, left to garbage collection.
 */
import { createHash } from 'node:crypto';
import { Bundle } from '../bundle/bundle-reader.ts';
import { InvalidBundleError } from '../bundle/bundle-errors.ts';
import { isRegistryError, type ErrorEnvelope } from '../domain/errors.ts';
import { PreconditionFailedError } from '../ports/object-store.ts';
import { encodeCoordinate } from '../universe/coordinate.ts';
import type { RegistryContext } from './context.ts';
import { readJson, updateJson, writeJsonIf } from './json-objects.ts';
import {
  imageBlobKey,
  packageManifestKey,
  packageMetadataKey,
  packageRecordKey,
  resourceKey,
  resourceReferenceKey,
  uploadIdForBundleKey,
  uploadRecordKey,
} from './layout.ts';
import { PackageAlreadyExistsError } from './registry-errors.ts';
import { markIfUnreferenced } from './garbage-collector.ts';
import { recordAudit } from './audit.ts';
import type { PackageRecord, PublishedImage, UploadRecord } from './records.ts';
import type { ManifestImage } from '../bundle/bundle-layout.ts';
import { openStoredObject } from './store-byte-source.ts';

export type IngestOutcome =
  | { readonly outcome: 'accepted'; readonly name: string; readonly version: string; readonly unchanged: boolean; readonly contentDigest?: string }
  | { readonly outcome: 'rejected'; readonly error: ErrorEnvelope }
  | { readonly outcome: 'ignored'; readonly reason: string };

const sha256 = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex');

export async function ingestBundle(context: RegistryContext, bundleKey: string): Promise<IngestOutcome> {
  const uploadId = uploadIdForBundleKey(bundleKey, sha256);
  if (uploadId === undefined) return { outcome: 'ignored', reason: `${bundleKey} is not a bundle location` };
  const log = context.log.child({ uploadId, bundleKey });
  const opened = await openStoredObject(context.store, bundleKey);
  if (!opened) return { outcome: 'ignored', reason: `${bundleKey} no longer exists` };

  const upload = await readJson<UploadRecord>(context.store, uploadRecordKey(uploadId));
  if (upload && upload.value.bundleEtag === opened.etag && (upload.value.status === 'Accepted' || upload.value.status === 'Rejected')) {
    // A repeated event for a bundle already processed.
    return upload.value.status === 'Accepted'
      ? { outcome: 'accepted', name: upload.value.packages[0]?.name ?? '', version: upload.value.packages[0]?.version ?? '', unchanged: true }
      : { outcome: 'rejected', error: upload.value.error ?? { type: 'Unknown', message: 'rejected', data: {} } };
  }
  const started = context.now().toISOString();
  await updateUpload(context, uploadId, bundleKey, (current) => ({
    ...current,
    status: 'Validating',
    bundleEtag: opened.etag,
    error: null,
    updatedAt: started,
  }));

  let bundle: Bundle | undefined;
  const actor = upload?.value.uploadedBy ?? (bundleKey.startsWith('drop/') ? 'drop' : 'storage-event');
  const startedAt = Date.now();
  const measure = (outcome: string): void => {
    context.metrics?.count('registry_ingest_total', { outcome });
    context.metrics?.observe('registry_ingest_duration_seconds', (Date.now() - startedAt) / 1000, { outcome });
  };
  try {
    bundle = await Bundle.open(opened.source);
    const outcome = await stagePackage(context, bundle, uploadId);
    await updateUpload(context, uploadId, bundleKey, (current) => ({
      ...current,
      status: 'Accepted',
      packages: [{ name: outcome.name, version: outcome.version }],
      error: null,
      updatedAt: context.now().toISOString(),
    }));
    log.info('bundle accepted', { package: outcome.name, version: outcome.version, unchanged: outcome.unchanged });
    measure(outcome.unchanged ? 'unchanged' : 'accepted');
    await recordAudit(context, {
      actor,
      action: 'bundle.add',
      outcome: 'ok',
      uploadId,
      package: { name: outcome.name, version: outcome.version },
      contentDigest: outcome.contentDigest,
    });
    return outcome;
  } catch (error) {
    if (!isRegistryError(error)) throw error;
    const envelope = error.toEnvelope();
    log.warn('bundle rejected', { type: envelope.type, reason: envelope.message });
    // Where the bundle opened (its metadata is valid) but its content did not verify, the package
    // it claims to be is marked Failed; a bundle that does not open names no package.
    const metadata = bundle?.metadata;
    if (metadata) await markFailedUnlessPublished(context, metadata.name, metadata.version, metadata.packagingVersion, uploadId, envelope);
    await updateUpload(context, uploadId, bundleKey, (current) => ({
      ...current,
      status: 'Rejected',
      packages: metadata ? [{ name: metadata.name, version: metadata.version }] : [],
      error: envelope,
      updatedAt: context.now().toISOString(),
    }));
    measure('rejected');
    await recordAudit(context, {
      actor,
      action: 'bundle.add',
      outcome: 'failed',
      uploadId,
      ...(metadata ? { package: { name: metadata.name, version: metadata.version } } : {}),
      reason: `${envelope.type}: ${envelope.message}`,
    });
    return { outcome: 'rejected', error: envelope };
  } finally {
    await opened.source.close();
    // The bundle has served its purpose: its content is stored (or refused) and its record tells
    // what happened. A repeated event for it is then ignored.
    await context.store.delete(bundleKey);
  }
}

async function stagePackage(
  context: RegistryContext,
  bundle: Bundle,
  uploadId: string,
): Promise<Extract<IngestOutcome, { outcome: 'accepted' }>> {
  const { metadata, manifest } = bundle;
  const coordinate = encodeCoordinate(metadata);
  const metadataBytes = Buffer.from(JSON.stringify(metadata));
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const contentDigest = sha256(Buffer.concat([Buffer.from(sha256(metadataBytes)), Buffer.from(sha256(manifestBytes))]));
  const resources = [...bundle.resources.keys()].sort();
  const imageBlobs = [...bundle.imageBlobs.keys()].sort();
  const images = uniqueImages(manifest.images);

  const existing = await readJson<PackageRecord>(context.store, packageRecordKey(coordinate));
  if (existing && existing.value.status !== 'Failed') {
    if (existing.value.contentDigest === contentDigest && existing.value.status !== 'Removing') {
      // The same content again: nothing to do (but make sure a publish is under way).
      if (existing.value.status === 'Processing') await queuePublish(context, metadata.name, metadata.version, contentDigest, uploadId);
      return { outcome: 'accepted', name: metadata.name, version: metadata.version, unchanged: true, contentDigest };
    }
    throw new PackageAlreadyExistsError(metadata.name, metadata.version);
  }

  // Reference markers first: a concurrent removal of another package that shares a file sees
  // them and keeps the file.
  for (const digest of [...resources, ...imageBlobs]) await context.store.put(resourceReferenceKey(digest, coordinate), new Uint8Array(0));
  try {
    for (const digest of resources) await copyContent(context, bundle, 'resource', digest);
    for (const digest of imageBlobs) await copyContent(context, bundle, 'image-blob', digest);
  } catch (error) {
    // Refused half-way: drop this bundle's claims; what it copied (valid content) is left to
    // garbage collection, which the single writer runs now (and after its grace window).
    for (const digest of [...resources, ...imageBlobs]) await context.store.delete(resourceReferenceKey(digest, coordinate));
    for (const digest of resources) await markIfUnreferenced(context, 'resources', digest);
    for (const digest of imageBlobs) await markIfUnreferenced(context, 'image-blobs', digest);
    await context.queue.send({ kind: 'collect-garbage' }, { deduplicationId: `gc-after-${uploadId}` });
    throw error;
  }
  await context.store.put(packageMetadataKey(coordinate), metadataBytes, { contentType: 'application/json' });
  await context.store.put(packageManifestKey(coordinate), manifestBytes, { contentType: 'application/json' });

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
  };
  if ((await writeJsonIf(context.store, packageRecordKey(coordinate), record, existing?.etag)) === undefined) {
    // Another upload of the same coordinate got in first: judge again against what it wrote.
    const winner = await readJson<PackageRecord>(context.store, packageRecordKey(coordinate));
    if (winner?.value.contentDigest === contentDigest) {
      return { outcome: 'accepted', name: metadata.name, version: metadata.version, unchanged: true };
    }
    throw new PackageAlreadyExistsError(metadata.name, metadata.version);
  }
  await queuePublish(context, metadata.name, metadata.version, contentDigest, uploadId);
  return { outcome: 'accepted', name: metadata.name, version: metadata.version, unchanged: false, contentDigest };
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

/**
 * Copies one resource or image blob to its content address, checking its sha256 (and, through
 * the reader, its CRC-32) as it streams. Content already stored is still read and checked, so a
 * damaged bundle is refused whatever the store holds.
 */
async function copyContent(context: RegistryContext, bundle: Bundle, kind: 'resource' | 'image-blob', digest: string): Promise<void> {
  const key = kind === 'resource' ? resourceKey(digest) : imageBlobKey(digest);
  const content = (kind === 'resource' ? bundle.resources : bundle.imageBlobs).get(digest)!;
  const entryName = content.entry.name;
  async function* checked(): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256');
    for await (const chunk of kind === 'resource' ? bundle.resourceStream(digest) : bundle.imageBlobStream(digest)) {
      hash.update(chunk);
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
  const present = await context.store.head(key);
  if (present && present.size === content.size) {
    for await (const chunk of checked()) void chunk;
    return;
  }
  const contentType =
    kind === 'resource'
      ? bundle.manifest.resources.find((resource) => resource.sha256 === digest)!.contentType
      : (bundle.manifestTypes.get(digest) ?? 'application/octet-stream');
  try {
    await context.store.put(key, checked(), { contentType, contentLength: content.size, ifNoneMatch: '*' });
  } catch (error) {
    if (error instanceof PreconditionFailedError) return; // written meanwhile by another ingest
    throw error;
  }
}

async function queuePublish(context: RegistryContext, name: string, version: string, contentDigest: string, uploadId: string): Promise<void> {
  // One id per upload: a repeated event for the same upload is dropped by the queue, while the
  // same content uploaded again later (say after a removal) is published again.
  await context.queue.send({ kind: 'publish', name, version, bundleDigest: contentDigest }, {
    deduplicationId: `publish-${sha256(`${name}\n${version}\n${contentDigest}\n${uploadId}`)}`,
  });
}

async function markFailedUnlessPublished(
  context: RegistryContext,
  name: string,
  version: string,
  packagingVersion: string,
  uploadId: string,
  error: ErrorEnvelope,
): Promise<void> {
  if (error.type === 'PackageAlreadyExists') return;
  const now = context.now().toISOString();
  await updateJson<PackageRecord>(context.store, packageRecordKey(encodeCoordinate({ name, version })), (current) => {
    if (current && current.status !== 'Failed') return undefined;
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
}

async function updateUpload(
  context: RegistryContext,
  uploadId: string,
  bundleKey: string,
  change: (current: UploadRecord) => UploadRecord,
): Promise<void> {
  await updateJson<UploadRecord>(context.store, uploadRecordKey(uploadId), (current) =>
    change(
      current ?? {
        uploadId,
        status: 'Uploading',
        bundleKey,
        packages: [],
        error: null,
        createdAt: context.now().toISOString(),
        updatedAt: context.now().toISOString(),
      },
    ),
  );
}

