/**
 * Where everything lives in the object store (one place, so no module invents a key).
 *
 *   uploads/<id>.dcos                     an uploaded bundle (expired by a lifecycle rule)
 *   uploads/<id>.json                     its upload record
 *   drop/<file>.dcos                      bundles dropped straight into storage (ingested too)
 *   packages/<coord>/record.json          package record: status, releaseVersion, digests
 *   packages/<coord>/metadata.json        canonical metadata (original URLs)
 *   packages/<coord>/manifest.json        the bundle manifest
 *   resources/sha256/<hex>                content-addressed files
 *   refs/sha256/<hex>/<coord>             "package <coord> uses this file" markers
 *   index/fragments/<coord>.json          index fragment: entry + releaseVersion + resource map
 *   index/release-versions/<name>.json    highest releaseVersion given to a package name
 *   index/repo.json.gz                    the published repository (v5, gzip)
 *   docker/blobs/sha256/<hex>             image layers, configs and manifests (content-addressed)
 *   docker/repositories/<repo>/_tags/<tag> a copy of the manifest the tag names (one read per pull)
 *   docker/repositories/<repo>/_tags.json  the repository's tag list, precomputed
 *                                         (no repository component starts with '_': no clash)
 *   docker/catalog.json                   the repository list, precomputed
 *   refs/tags/<repo>/@<tag>/<coord>       "package <coord> publishes this tag" markers
 *   gc/resources/<hex>, gc/image-blobs/<hex>  content no package used when it was last looked at
 *
 * `<coord>` is the base32 package coordinate of spec §4.4: file- and URL-safe.
 */
export const UPLOADS_PREFIX = 'uploads/';
export const DROP_PREFIX = 'drop/';
export const PACKAGES_PREFIX = 'packages/';
export const FRAGMENTS_PREFIX = 'index/fragments/';
export const INDEX_KEY = 'index/repo.json.gz';

const UPLOAD_ID = /^[A-Za-z0-9-]{8,80}$/;

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

export const uploadBundleKey = (uploadId: string): string => `${UPLOADS_PREFIX}${uploadId}.dcos`;
export const uploadRecordKey = (uploadId: string): string => `${UPLOADS_PREFIX}${uploadId}.json`;
export const packageRecordKey = (coordinate: string): string => `${PACKAGES_PREFIX}${coordinate}/record.json`;
export const packageMetadataKey = (coordinate: string): string => `${PACKAGES_PREFIX}${coordinate}/metadata.json`;
export const packageManifestKey = (coordinate: string): string => `${PACKAGES_PREFIX}${coordinate}/manifest.json`;
export const resourceKey = (sha256: string): string => `resources/sha256/${sha256}`;
export const resourceReferencePrefix = (sha256: string): string => `refs/sha256/${sha256}/`;
export const resourceReferenceKey = (sha256: string, coordinate: string): string => `${resourceReferencePrefix(sha256)}${coordinate}`;
export const imageBlobKey = (sha256: string): string => `docker/blobs/sha256/${sha256}`;
export const tagKey = (repository: string, tag: string): string => `docker/repositories/${repository}/_tags/${tag}`;
export const tagListKey = (repository: string): string => `docker/repositories/${repository}/_tags.json`;
export const CATALOG_KEY = 'docker/catalog.json';
export const tagOwnersPrefix = (repository: string, tag: string): string => `refs/tags/${repository}/@${tag}/`;
export const tagOwnerKey = (repository: string, tag: string, coordinate: string): string => `${tagOwnersPrefix(repository, tag)}${coordinate}`;
export const GC_PREFIX = 'gc/';
export type StoredContentKind = 'resources' | 'image-blobs';
export const gcCandidateKey = (kind: StoredContentKind, sha256: string): string => `${GC_PREFIX}${kind}/${sha256}`;
export const contentKey = (kind: StoredContentKind, sha256: string): string => (kind === 'resources' ? resourceKey(sha256) : imageBlobKey(sha256));
export const fragmentKey = (coordinate: string): string => `${FRAGMENTS_PREFIX}${coordinate}.json`;
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
