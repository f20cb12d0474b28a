/**
 * Where everything lives in the object store (one place, so no module invents a key).
 *
 *   uploads/<id>.dcos                     an uploaded bundle (expired by a lifecycle rule)
 *   uploads/<id>.json                     its upload record
 *   drop/<file>.dcos                      bundles dropped straight into storage (ingested too)
 *   packages/<coord>/record.json          package record: status, releaseVersion, digests (the root of what is live;
 *                                         a removed version keeps a `Removed` tombstone)
 *   packages/<coord>/content/<digest>/metadata.json  canonical metadata (original URLs), per bundle content
 *   packages/<coord>/content/<digest>/manifest.json  the bundle manifest, per bundle content
 *                                         (keyed by content so two ingests of one coordinate never
 *                                         overwrite each other's documents; older data directories
 *                                         have them at packages/<coord>/{metadata,manifest}.json)
 *   resources/sha256/<hex>                content-addressed files
 *   index/fragments/<coord>/<digest>.json index fragment per bundle content: entry + releaseVersion +
 *                                         resource map (older data: index/fragments/<coord>.json)
 *   index/release-versions/<name>.json    highest releaseVersion given to a package name
 *   index/repo.json.gz                    the published repository (v5, gzip): the commit point of
 *                                         every index change (compare-and-swap)
 *   index/repo-v4.json.gz, repo-v3.json.gz  the v4 and v3 media types, derived from it after each commit
 *   index/tables/<sha256>.json            the row table an index object was laid out from (named in
 *                                         its gzip comment; index-store/index-table.ts)
 *   index/views/<table>/<media>-<view>.json.gz  a DC/OS-version view as its own object, where responses
 *                                         are size-limited (Lambda): a presigned URL hands it out
 *   docker/blobs/sha256/<hex>             image layers, configs and manifests (content-addressed)
 *   docker/repositories/<repo>/_tags/<tag> a copy of the manifest the tag names (one read per pull)
 *   docker/repositories/<repo>/_tags.json  the repository's tag list, precomputed
 *                                         (no repository component starts with '_': no clash)
 *   docker/catalog.json                   the repository list, precomputed
 *   refs/tags/<repo>/@<tag>/<coord>       "published package <coord> names this tag" (derived from
 *                                         the records, re-derived by fsck; never a GC root)
 *   leases/ingest/<uploadId>.json         the files an ingest attempt is using before its record exists
 *   leases/gc/<runId>.json                a garbage collection under way
 *
 * What is live is derived, never trusted from markers: the package records (Processing, Added,
 * Removing) name every file they use, and leases cover ingests that have no record yet.
 * `<coord>` is the base32 package coordinate of spec §4.4: file- and URL-safe.
 */
export const UPLOADS_PREFIX = 'uploads/';
export const DROP_PREFIX = 'drop/';
export const PACKAGES_PREFIX = 'packages/';
export const FRAGMENTS_PREFIX = 'index/fragments/';
export const INDEX_KEY = 'index/repo.json.gz';
/** The object each repository media type is served from (v5 is the commit point itself). */
export const mediaObjectKey = (media: 'v3' | 'v4' | 'v5'): string => (media === 'v5' ? INDEX_KEY : `index/repo-${media}.json.gz`);
export const INDEX_TABLES_PREFIX = 'index/tables/';
export const indexTableKey = (digest: string): string => `${INDEX_TABLES_PREFIX}${digest}.json`;
export const INDEX_VIEWS_PREFIX = 'index/views/';
/** Views through capability URLs, stored by a Lambda that cannot send them inline (capability/). */
export const CAPABILITY_VIEWS_PREFIX = 'index/capability/';
/** A DC/OS-version view stored as an object of its own, for hosts that hand large bodies out by presigned URL. */
export const indexViewKey = (table: string, media: 'v3' | 'v4' | 'v5', view: string): string => `${INDEX_VIEWS_PREFIX}${table}/${media}-${view}.json.gz`;

const UPLOAD_ID = /^[A-Za-z0-9-]{8,80}$/;

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

export const uploadBundleKey = (uploadId: string): string => `${UPLOADS_PREFIX}${uploadId}.dcos`;
export const uploadRecordKey = (uploadId: string): string => `${UPLOADS_PREFIX}${uploadId}.json`;
export const packageRecordKey = (coordinate: string): string => `${PACKAGES_PREFIX}${coordinate}/record.json`;
/** Where a bundle's canonical metadata and manifest are kept, per content digest. */
export const packageMetadataKey = (coordinate: string, contentDigest: string): string => `${PACKAGES_PREFIX}${coordinate}/content/${contentDigest}/metadata.json`;
export const packageManifestKey = (coordinate: string, contentDigest: string): string => `${PACKAGES_PREFIX}${coordinate}/content/${contentDigest}/manifest.json`;
/** Data directories written before documents were keyed by content keep them here. */
export const legacyPackageMetadataKey = (coordinate: string): string => `${PACKAGES_PREFIX}${coordinate}/metadata.json`;
export const legacyPackageManifestKey = (coordinate: string): string => `${PACKAGES_PREFIX}${coordinate}/manifest.json`;
export const resourceKey = (sha256: string): string => `resources/sha256/${sha256}`;
export const imageBlobKey = (sha256: string): string => `docker/blobs/sha256/${sha256}`;
export const RESOURCES_PREFIX = 'resources/sha256/';
export const IMAGE_BLOBS_PREFIX = 'docker/blobs/sha256/';
export const tagKey = (repository: string, tag: string): string => `docker/repositories/${repository}/_tags/${tag}`;
export const tagListKey = (repository: string): string => `docker/repositories/${repository}/_tags.json`;
export const DOCKER_REPOSITORIES_PREFIX = 'docker/repositories/';
export const CATALOG_KEY = 'docker/catalog.json';
/** What a manifest some bundle was built without is (served-images.ts): only read to explain a 404. */
export const omittedManifestKey = (hex: string): string => `docker/omitted/sha256/${hex}.json`;
/** The package catalog `list` pages through (catalog/package-catalog.ts). */
export const PACKAGE_CATALOG_KEY = 'catalog/packages.json';
/** When the reconciler last read every record (maintenance/reconciler.ts). */
export const FULL_RECONCILE_KEY = 'catalog/reconciled-all.json';
/** The key that signs pull tokens (lib/auth/bearer-tokens.ts): made on first use, shared by every instance. */
export const TOKEN_SIGNING_KEY = 'keys/pull-token-signing.key';
export const TAG_OWNERS_PREFIX = 'refs/tags/';
export const tagOwnersPrefix = (repository: string, tag: string): string => `${TAG_OWNERS_PREFIX}${repository}/@${tag}/`;
export const tagOwnerKey = (repository: string, tag: string, coordinate: string): string => `${tagOwnersPrefix(repository, tag)}${coordinate}`;
export type StoredContentKind = 'resources' | 'image-blobs';
export const contentKey = (kind: StoredContentKind, sha256: string): string => (kind === 'resources' ? resourceKey(sha256) : imageBlobKey(sha256));
export const INGEST_LEASES_PREFIX = 'leases/ingest/';
export const ingestLeaseKey = (uploadId: string): string => `${INGEST_LEASES_PREFIX}${uploadId}.json`;
export const GC_RUNS_PREFIX = 'leases/gc/';
export const gcRunKey = (runId: string): string => `${GC_RUNS_PREFIX}${runId}.json`;
/** Keyed by content, as the documents are: a late publish of other content never overwrites this one. */
export const fragmentKey = (coordinate: string, contentDigest: string): string => `${FRAGMENTS_PREFIX}${coordinate}/${contentDigest}.json`;
export const legacyFragmentKey = (coordinate: string): string => `${FRAGMENTS_PREFIX}${coordinate}.json`;
/** The coordinate and content digest a fragment key names (undefined for legacy keys' digest). */
export function fragmentOf(key: string): { coordinate: string; contentDigest?: string } | undefined {
  const rest = key.startsWith(FRAGMENTS_PREFIX) ? key.slice(FRAGMENTS_PREFIX.length) : undefined;
  if (!rest?.endsWith('.json')) return undefined;
  const parts = rest.slice(0, -'.json'.length).split('/');
  if (parts.length === 1) return { coordinate: parts[0]! };
  return parts.length === 2 ? { coordinate: parts[0]!, contentDigest: parts[1]! } : undefined;
}
export const releaseCounterKey = (name: string): string => `index/release-versions/${name}.json`;

/** The upload a stored bundle key belongs to: `uploads/<id>.dcos` → id; `drop/<file>` → a stable id. */
export function uploadIdForBundleKey(key: string, hash: (text: string) => string): string | undefined {
  if (key.startsWith(UPLOADS_PREFIX) && key.endsWith('.dcos')) {
    const id = key.slice(UPLOADS_PREFIX.length, -'.dcos'.length);
    return isUploadId(id) ? id : undefined;
  }
  if (key.startsWith(DROP_PREFIX) && key.endsWith('.dcos')) return `drop-${hash(key).slice(0, 32)}`;
  return undefined;
}
