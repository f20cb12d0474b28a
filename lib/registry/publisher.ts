/**
 * The index writer (the indexer function): the only code that changes the published repository.
 * Jobs arrive in one FIFO group, but every step is also safe if two writers run at once
 * (conditional writes on the release-version counter, the records and the index).
 *
 *   publish  Processing → releaseVersion allocated → fragment written → index updated → Added
 *   remove   Removing → out of the index → fragment and unshared files deleted → record deleted
 *   reindex  the whole index rebuilt from fragments (after a change of public URL, or a repair)
 */
import { isRegistryError, RegistryError } from '../domain/errors.ts';
import type { RegistryJob } from '../ports/job-queue.ts';
import { encodeCoordinate } from '../universe/coordinate.ts';
import type { JsonObject, PackageMetadata } from '../universe/package-model.ts';
import type { BundleManifest } from '../bundle/bundle-layout.ts';
import { dockerHostOf, type RegistryContext } from './context.ts';
import { collectGarbage, markIfUnreferenced } from './garbage-collector.ts';
import { publishTags, unpublishTags } from './image-tags.ts';
import { repositoryEntry, type IndexFragment } from './index-document.ts';
import { listAllKeys, readJson, updateJson, writeJson } from './json-objects.ts';
import {
  imageBlobKey,
  INDEX_KEY,
  FRAGMENTS_PREFIX,
  fragmentKey,
  packageManifestKey,
  packageMetadataKey,
  packageRecordKey,
  releaseCounterKey,
  resourceKey,
  resourceReferenceKey,
} from './layout.ts';
import type { PackageRecord } from './records.ts';
import { ResourceMissingError } from './registry-errors.ts';
import { INDEX_METADATA, updatePublishedIndex } from './repository-index.ts';

export async function handleJob(context: RegistryContext, job: RegistryJob): Promise<void> {
  switch (job.kind) {
    case 'publish':
      return publishPackage(context, job.name, job.version, job.bundleDigest);
    case 'remove':
      return removePackage(context, job.name, job.version);
    case 'reindex':
      return reindex(context);
    case 'collect-garbage':
      await collectGarbage(context);
      return;
  }
}

const sameEntry = (entry: JsonObject, name: string, version: string): boolean => entry.name === name && entry.version === version;

export async function publishPackage(context: RegistryContext, name: string, version: string, contentDigest: string): Promise<void> {
  const coordinate = encodeCoordinate({ name, version });
  const log = context.log.child({ package: name, version });
  const record = await readJson<PackageRecord>(context.store, packageRecordKey(coordinate));
  if (!record || record.value.contentDigest !== contentDigest || (record.value.status !== 'Processing' && record.value.status !== 'Added')) {
    log.info('publish skipped: the package changed since the job was queued', { status: record?.value.status });
    return;
  }
  try {
    for (const digest of record.value.resources) {
      if (!(await context.store.head(resourceKey(digest)))) throw new ResourceMissingError(digest);
    }
    for (const digest of record.value.imageBlobs ?? []) {
      if (!(await context.store.head(imageBlobKey(digest)))) throw new ResourceMissingError(digest);
    }
    const releaseVersion = record.value.releaseVersion ?? (await allocateReleaseVersion(context, name));
    const withRelease = await updateJson<PackageRecord>(context.store, packageRecordKey(coordinate), (current) =>
      current && current.contentDigest === contentDigest && current.releaseVersion === null ? { ...current, releaseVersion } : undefined,
    );
    const metadata = (await readJson<PackageMetadata>(context.store, packageMetadataKey(coordinate)))?.value;
    const manifest = (await readJson<BundleManifest>(context.store, packageManifestKey(coordinate)))?.value;
    if (!metadata || !manifest) throw new RegistryError('PackageDataMissing', `The stored data of ${name} ${version} is incomplete`, {}, { source: 'internal' });
    const fragment: IndexFragment = {
      name,
      version,
      releaseVersion: withRelease?.releaseVersion ?? releaseVersion,
      contentDigest,
      metadata,
      resources: manifest.resources.map(({ ref, sha256, filename }) => ({ ref, sha256, filename })),
      images: manifest.images.map(({ ref, repository, tag, digest }) => ({ ref, repository, ...(tag ? { tag } : {}), digest })),
    };
    await writeJson(context.store, fragmentKey(coordinate), fragment);
    // Tags before the index: /repo never names an image that /v2/ cannot serve.
    await publishTags(context, coordinate, record.value.images ?? []);
    const published = await context.store.head(INDEX_KEY);
    const hosts = hostsOf(context);
    if (published && (published.metadata[INDEX_METADATA.publicBaseUrl] !== hosts.publicBaseUrl || published.metadata[INDEX_METADATA.dockerHost] !== hosts.dockerHost)) {
      // The public URL or Docker host changed since the index was written: every entry needs new references.
      await reindex(context);
      await markAdded(context, coordinate, contentDigest);
      return;
    }
    const entry = repositoryEntry(fragment, hosts);
    const { entries, bytes } = await updatePublishedIndex(
      context.store,
      hosts,
      (current) => [...current.filter((existing) => !sameEntry(existing, name, version)), entry],
      // The other entries were validated when they were published; check the new one.
      { validate: () => [entry] },
    );
    await markAdded(context, coordinate, contentDigest);
    recordIndexMetrics(context, entries, bytes);
    log.info('package published', { releaseVersion: fragment.releaseVersion, indexEntries: entries });
  } catch (error) {
    if (!isRegistryError(error) || error.source === 'internal') throw error;
    // The package cannot be published as it is: say why, and leave the index as it was.
    await updateJson<PackageRecord>(context.store, packageRecordKey(coordinate), (current) =>
      current && current.contentDigest === contentDigest
        ? { ...current, status: 'Failed', error: error.toEnvelope(), updatedAt: context.now().toISOString() }
        : undefined,
    );
    log.warn('package failed to publish', { type: error.type, reason: error.message });
  }
}

function recordIndexMetrics(context: RegistryContext, entries: number, bytes: number): void {
  context.metrics?.gauge('registry_index_entries', entries);
  context.metrics?.gauge('registry_index_bytes', bytes);
  context.metrics?.gauge('registry_index_published_timestamp_seconds', Math.floor(context.now().getTime() / 1000));
}

function hostsOf(context: RegistryContext): { publicBaseUrl: string; dockerHost: string } {
  return { publicBaseUrl: context.settings.publicBaseUrl, dockerHost: dockerHostOf(context.settings) };
}

async function markAdded(context: RegistryContext, coordinate: string, contentDigest: string): Promise<void> {
  await updateJson<PackageRecord>(context.store, packageRecordKey(coordinate), (current) =>
    current && current.contentDigest === contentDigest && current.status === 'Processing'
      ? { ...current, status: 'Added', updatedAt: context.now().toISOString() }
      : undefined,
  );
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
  const record = await readJson<PackageRecord>(context.store, packageRecordKey(coordinate));
  if (!record || record.value.status !== 'Removing') return;
  // Out of the index first: from here on no client is sent to the files about to go.
  const index = await updatePublishedIndex(context.store, hostsOf(context), (current) =>
    current.filter((entry) => !sameEntry(entry, name, version)), { validate: () => [] });
  recordIndexMetrics(context, index.entries, index.bytes);
  await context.store.delete(fragmentKey(coordinate));
  await unpublishTags(context, coordinate, record.value.images ?? []);
  const contents = [
    ...record.value.resources.map((digest) => ({ digest, kind: 'resources' as const })),
    ...(record.value.imageBlobs ?? []).map((digest) => ({ digest, kind: 'image-blobs' as const })),
  ];
  for (const { digest } of contents) await context.store.delete(resourceReferenceKey(digest, coordinate));
  // Files no other package uses become candidates; they go once the grace window has passed.
  for (const { digest, kind } of contents) await markIfUnreferenced(context, kind, digest);
  if (context.settings.gcGraceSeconds === 0) await collectGarbage(context);
  await context.store.delete(packageMetadataKey(coordinate));
  await context.store.delete(packageManifestKey(coordinate));
  await context.store.delete(packageRecordKey(coordinate));
  context.log.info('package removed', { package: name, version });
}

/** Rebuilds the whole index from the fragments: O(number of versions), never O(bundle bytes). */
export async function reindex(context: RegistryContext): Promise<void> {
  const keys = await listAllKeys(context.store, FRAGMENTS_PREFIX);
  const fragments: IndexFragment[] = [];
  for (let start = 0; start < keys.length; start += 32) {
    const batch = await Promise.all(keys.slice(start, start + 32).map((key) => readJson<IndexFragment>(context.store, key)));
    for (const fragment of batch) if (fragment) fragments.push(fragment.value);
  }
  const { entries, bytes } = await updatePublishedIndex(context.store, hostsOf(context), () =>
    fragments.map((fragment) => repositoryEntry(fragment, hostsOf(context))));
  recordIndexMetrics(context, entries, bytes);
  context.log.info('index rebuilt', { entries });
}
