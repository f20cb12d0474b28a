/**
 * fsck: checks every invariant of the stored state against what is derived from the records, and
 * with `repair` fixes what can be fixed. The invariants:
 *
 *   IndexEntryOrphaned   every /repo entry has a record (Added or Processing) and its fragment
 *   PackageNotPublished  every Added record is in /repo
 *   IndexObjectMismatch  the v4 and v3 objects hold exactly the v5 one's entries they carry
 *   IndexLayoutMissing   the table the index names is stored, and so is every view it must store apart
 *   ContentMissing       every file, image blob and document a live record names is stored
 *   ContentUnreachable   every stored file is live, or inside the grace window
 *   RecordStuck          no upload or package record stays transient past the stale age
 *   TagMismatch, TagStray, TagListMismatch, CatalogMismatch
 *                        tags name the manifest of their latest publisher; lists and catalog agree
 *   PackageCatalogOutOfDate
 *                        the package catalog `list` reads holds what describe answers for every record
 *   FragmentOrphaned, LeaseExpired, BundleLeftOver
 *                        nothing is left behind by work that died
 *
 * Repairs: a package whose content is lost leaves /repo and is marked Failed (its bundle must be
 * added again); tags, tag lists, catalog and owner markers, and the package catalog (by the
 * reconciler's pass), are derived again from the records;
 * the index is derived again (reindex); stuck records are reconciled; leftovers are collected.
 */
import type { RegistryContext } from '../context.ts';
import { expectedDockerState, rederiveTags, storedTags, type Catalog } from '../image-tags.ts';
import { listAllKeys, listAllObjects, readJson, updateJson } from '../json-objects.ts';
import {
  CATALOG_KEY,
  FRAGMENTS_PREFIX,
  INDEX_KEY,
  indexTableKey,
  fragmentOf,
  IMAGE_BLOBS_PREFIX,
  imageBlobKey,
  legacyPackageManifestKey,
  legacyPackageMetadataKey,
  packageManifestKey,
  packageMetadataKey,
  packageRecordKey,
  RESOURCES_PREFIX,
  resourceKey,
  UPLOADS_PREFIX,
} from '../layout.ts';
import { isLiveRecord, TRANSIENT_PACKAGE_STATES, TRANSIENT_UPLOAD_STATES, type PackageRecord, type UploadRecord } from '../records.ts';
import { INDEX_METADATA, readPublishedIndex } from '../repository-index.ts';
import { readPublishedDocument, viewsMissing } from '../index-store/index-writer.ts';
import { repositoryVariant } from '../index-document.ts';
import { isDeepStrictEqual } from 'node:util';
import { encodeCoordinate } from '../../universe/coordinate.ts';
import { collectGarbage } from './garbage-collector.ts';
import { liveIngestLeases } from './leases.ts';
import { liveSetOf, readAllRecords, type StoredRecord } from './live-set.ts';
import { reconcile } from './reconciler.ts';
import { catalogDifferences } from '../catalog/package-catalog.ts';
import { hostsOf, readFragment, reindex } from '../publisher.ts';
import { isLeftOverBundle, isStuckUpload, staleAfterMs } from './timing.ts';

export type ViolationType =
  | 'IndexEntryOrphaned'
  | 'PackageNotPublished'
  | 'IndexObjectMismatch'
  | 'IndexLayoutMissing'
  | 'ContentMissing'
  | 'ContentUnreachable'
  | 'RecordStuck'
  | 'TagMismatch'
  | 'TagStray'
  | 'TagListMismatch'
  | 'CatalogMismatch'
  | 'PackageCatalogOutOfDate'
  | 'FragmentOrphaned'
  | 'LeaseExpired'
  | 'BundleLeftOver';

export interface Violation {
  readonly type: ViolationType;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface FsckReport {
  /** No violation was found (before any repair). */
  readonly clean: boolean;
  readonly repaired: boolean;
  readonly checked: { readonly records: number; readonly indexEntries: number; readonly files: number; readonly tags: number };
  readonly violations: readonly Violation[];
  /** After `repair`: what a second check still finds (only what cannot be fixed here). */
  readonly remaining?: readonly Violation[];
}

const HEX = /^[0-9a-f]{64}$/;

interface Findings {
  readonly violations: Violation[];
  readonly checked: FsckReport['checked'];
  /** Live records with content missing: to be taken out of /repo and marked Failed. */
  readonly damaged: StoredRecord[];
}

export async function fsck(context: RegistryContext, options: { repair?: boolean } = {}): Promise<FsckReport> {
  const first = await inspect(context);
  if (!options.repair || first.violations.length === 0) {
    return { clean: first.violations.length === 0, repaired: false, checked: first.checked, violations: first.violations };
  }
  await repair(context, first);
  const second = await inspect(context);
  return { clean: false, repaired: true, checked: first.checked, violations: first.violations, remaining: second.violations };
}

async function inspect(context: RegistryContext): Promise<Findings> {
  const violations: Violation[] = [];
  const add = (type: ViolationType, message: string, data: Record<string, unknown>): void => void violations.push({ type, message, data });
  const now = context.now().getTime();
  const stale = staleAfterMs(context.settings);
  const leases = await liveIngestLeases(context, stale);
  const records = await readAllRecords(context);
  const byCoordinate = new Map(records.map((entry) => [entry.coordinate, entry]));
  const live = liveSetOf(records, leases.live);
  const damaged: StoredRecord[] = [];

  // Records: their content is stored, they are not stuck.
  for (const entry of records) {
    const { record, coordinate } = entry;
    const name = `${record.name} ${record.version}`;
    if (TRANSIENT_PACKAGE_STATES.has(record.status) && now - Date.parse(record.updatedAt) >= stale) {
      add('RecordStuck', `package ${name} has been ${record.status} since ${record.updatedAt}`, { package: record.name, version: record.version, status: record.status });
    }
    if (!isLiveRecord(record)) continue;
    const missing: string[] = [];
    for (const digest of record.resources) if (!(await context.store.head(resourceKey(digest)))) missing.push(`resources/sha256/${digest}`);
    for (const digest of record.imageBlobs ?? []) if (!(await context.store.head(imageBlobKey(digest)))) missing.push(`docker/blobs/sha256/${digest}`);
    const metadata = (await context.store.head(packageMetadataKey(coordinate, record.contentDigest))) ?? (await context.store.head(legacyPackageMetadataKey(coordinate)));
    const manifest = (await context.store.head(packageManifestKey(coordinate, record.contentDigest))) ?? (await context.store.head(legacyPackageManifestKey(coordinate)));
    if (!metadata && record.status !== 'Added') missing.push('metadata.json');
    if (!manifest && record.status !== 'Added') missing.push('manifest.json');
    if (missing.length > 0) {
      add('ContentMissing', `package ${name} (${record.status}) names ${missing.length} file(s) that are not stored`, { package: record.name, version: record.version, missing });
      damaged.push(entry);
    }
  }

  // The index against the records and fragments.
  const index = await readPublishedIndex(context.store);
  const indexed = new Set<string>();
  for (const entry of index?.document.packages ?? []) {
    const coordinate = encodeCoordinate({ name: String(entry.name), version: String(entry.version) });
    indexed.add(coordinate);
    const owner = byCoordinate.get(coordinate)?.record;
    const fragment = owner ? await readFragment(context, coordinate, owner.contentDigest) : undefined;
    if (!owner || (owner.status !== 'Added' && owner.status !== 'Processing') || !fragment) {
      add('IndexEntryOrphaned', `/repo lists ${String(entry.name)} ${String(entry.version)}, which ${owner ? `is ${owner.status}` : 'has no record'}${fragment ? '' : ' and no fragment'}`, {
        package: entry.name,
        version: entry.version,
      });
    }
  }
  if (index) {
    const table = (await context.store.head(INDEX_KEY))?.metadata[INDEX_METADATA.table];
    if (table && !(await context.store.head(indexTableKey(table)))) add('IndexLayoutMissing', `the table ${table} the index is laid out from is not stored`, { table });
    const limit = hostsOf(context).materializeViewsAbove;
    if (limit !== undefined && (await viewsMissing(context.store, limit))) add('IndexLayoutMissing', 'a view too large to send inline is not stored on its own', {});
    for (const media of ['v4', 'v3'] as const) {
      const derived = await readPublishedDocument(context.store, media);
      if (!derived || !isDeepStrictEqual(derived.document, repositoryVariant(index.document, media, undefined))) {
        add('IndexObjectMismatch', `the ${media} repository object ${derived ? 'does not hold' : 'is missing, not'} the v5 entries it carries`, { media });
      }
    }
  }
  for (const { coordinate, record } of records) {
    if (record.status === 'Added' && !indexed.has(coordinate)) {
      add('PackageNotPublished', `package ${record.name} ${record.version} is Added but not in /repo`, { package: record.name, version: record.version });
    }
  }
  for (const { key, lastModified } of await listAllObjects(context.store, FRAGMENTS_PREFIX)) {
    const named = fragmentOf(key);
    const owner = named ? byCoordinate.get(named.coordinate)?.record : undefined;
    const live = owner !== undefined && isLiveRecord(owner) && (named?.contentDigest === undefined || named.contentDigest === owner.contentDigest);
    // Left for collection after a removal: a leftover only once the grace window has passed.
    if (!live && now - lastModified.getTime() >= context.settings.gcGraceSeconds * 1000) add('FragmentOrphaned', `fragment ${key} belongs to no live package`, { key });
  }

  // Stored files: live, or young enough to be an upload's or an ingest's.
  let files = 0;
  for (const [prefix, liveDigests] of [
    [RESOURCES_PREFIX, live.resources],
    [IMAGE_BLOBS_PREFIX, live.imageBlobs],
  ] as const) {
    for (const { key, lastModified } of await listAllObjects(context.store, prefix)) {
      files++;
      const digest = key.slice(prefix.length);
      if (!HEX.test(digest) || liveDigests.has(digest)) continue;
      if (now - lastModified.getTime() >= context.settings.gcGraceSeconds * 1000) {
        add('ContentUnreachable', `${key} is used by no package and older than the grace window`, { key });
      }
    }
  }

  // Tags, derived from the records: the latest publisher of each repository:tag.
  const expected = expectedDockerState(records);
  const stored = await storedTags(context);
  for (const [repositoryTag, owner] of expected.tags) {
    const digest = stored.tags.get(repositoryTag);
    if (digest !== owner.digest) {
      add('TagMismatch', `tag ${repositoryTag} ${digest ? `names ${digest}` : 'is missing'}; its latest publisher has ${owner.digest}`, { tag: repositoryTag, stored: digest ?? null, expected: owner.digest });
    }
  }
  for (const repositoryTag of stored.tags.keys()) {
    if (!expected.tags.has(repositoryTag)) add('TagStray', `tag ${repositoryTag} is published by no package`, { tag: repositoryTag });
  }
  for (const [repository, tagSet] of expected.lists) {
    const listed = stored.lists.get(repository);
    const tags = [...tagSet].sort();
    if (!listed || [...listed].sort().join(',') !== tags.join(',')) {
      add('TagListMismatch', `the tag list of ${repository} is ${listed ? `[${listed.join(', ')}]` : 'missing'}, not [${tags.join(', ')}]`, { repository });
    }
  }
  for (const repository of stored.lists.keys()) {
    if (!expected.lists.has(repository)) add('TagListMismatch', `repository ${repository} has a tag list but no package publishes a tag of it`, { repository });
  }
  const catalog = (await readJson<Catalog>(context.store, CATALOG_KEY))?.value.repositories ?? [];
  const expectedCatalog = [...expected.lists.keys()].sort();
  if ([...catalog].sort().join(',') !== expectedCatalog.join(',')) {
    add('CatalogMismatch', `the catalog lists [${catalog.join(', ')}], not [${expectedCatalog.join(', ')}]`, { stored: catalog, expected: expectedCatalog });
  }

  const packageCatalog = await catalogDifferences(context.store, records.map((entry) => entry.record));
  if (packageCatalog.missing || packageCatalog.rows > 0) {
    add('PackageCatalogOutOfDate', packageCatalog.missing ? 'the package catalog is not stored' : `${packageCatalog.rows} row(s) of the package catalog differ from their records`, { rows: packageCatalog.rows });
  }

  // Leftovers of work that died.
  for (const key of leases.expired) add('LeaseExpired', `${key} was not refreshed within the stale age`, { key });
  for (const key of await listAllKeys(context.store, UPLOADS_PREFIX)) {
    if (!key.endsWith('.json')) continue;
    const upload = (await readJson<UploadRecord>(context.store, key))?.value;
    if (!upload) continue;
    if (isStuckUpload(upload, now, context.settings)) {
      add('RecordStuck', `upload ${upload.uploadId} has been ${upload.status} since ${upload.updatedAt}`, { uploadId: upload.uploadId, status: upload.status });
    } else if (!TRANSIENT_UPLOAD_STATES.has(upload.status) && isLeftOverBundle(upload, await context.store.head(upload.bundleKey), now, context.settings)) {
      add('BundleLeftOver', `${upload.bundleKey} is still stored though its upload ended (${upload.status})`, { key: upload.bundleKey });
    }
  }
  return { violations, damaged, checked: { records: records.length, indexEntries: indexed.size, files, tags: stored.tags.size } };
}

async function repair(context: RegistryContext, findings: Findings): Promise<void> {
  // Packages whose content is lost cannot be served: out of /repo, Failed with the reason.
  for (const { coordinate, record } of findings.damaged) {
    await updateJson<PackageRecord>(context.store, packageRecordKey(coordinate), (current) =>
      // The very staging fsck saw damaged: a copy of the same bundle added again since is not it.
      current && current.contentDigest === record.contentDigest && current.uploadId === record.uploadId && current.addedAt === record.addedAt && isLiveRecord(current)
        ? {
            ...current,
            status: current.status === 'Removing' ? 'Removing' : 'Failed',
            error: { type: 'ContentMissing', message: `Stored files of ${record.name} ${record.version} are missing: add the bundle again`, data: {} },
            updatedAt: context.now().toISOString(),
          }
        : undefined,
    );
  }
  // Tags, lists and catalog derived again; each record read afresh (the registry may be live).
  await rederiveTags(context, await readAllRecords(context));
  for (const key of await listAllKeys(context.store, FRAGMENTS_PREFIX)) {
    const named = fragmentOf(key);
    if (!named) continue;
    const owner = (await readJson<PackageRecord>(context.store, packageRecordKey(named.coordinate)))?.value;
    const live = owner !== undefined && isLiveRecord(owner) && (named.contentDigest === undefined || named.contentDigest === owner.contentDigest);
    if (!live) await context.store.delete(key);
  }
  await reindex(context);
  // Added records whose fragment is gone cannot be indexed from it: publish them again.
  for (const { coordinate, record } of await readAllRecords(context)) {
    if (record.status !== 'Added' || (await readFragment(context, coordinate, record.contentDigest))) continue;
    await updateJson<PackageRecord>(context.store, packageRecordKey(coordinate), (current) =>
      current && current.contentDigest === record.contentDigest && current.status === 'Added' ? { ...current, status: 'Processing', updatedAt: context.now().toISOString() } : undefined,
    );
    await context.queue.send({ kind: 'publish', name: record.name, version: record.version, bundleDigest: record.contentDigest }, { deduplicationId: `fsck-${coordinate.slice(0, 60)}-${Date.now()}` });
  }
  await reconcile(context);
  await collectGarbage(context);
}
