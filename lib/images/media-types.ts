/** The manifest and layer media types of the Docker Registry v2 and OCI specifications. */
import { createHash } from 'node:crypto';

/** A content digest as registries write it: `sha256:<hex>`. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
/** The hex of a `sha256:<hex>` digest, as content is stored under it. */
export const digestHex = (digest: string): string => digest.replace(/^sha256:/, '');

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

export const IMAGE_MANIFESTS: ReadonlySet<string> = new Set([DOCKER_MANIFEST, OCI_MANIFEST]);
export const MANIFEST_LISTS: ReadonlySet<string> = new Set([DOCKER_MANIFEST_LIST, OCI_INDEX]);
export const ALL_MANIFESTS: readonly string[] = [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX];

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { readonly architecture?: string; readonly os?: string; readonly variant?: string };
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export interface ManifestList {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
}

/** A manifest's media type: the field, or (OCI allows omitting it) what its shape says. */
export function manifestMediaType(document: unknown, declared?: string): string | undefined {
  const object = document as { mediaType?: unknown; manifests?: unknown; config?: unknown } | null;
  if (object && typeof object.mediaType === 'string') return object.mediaType;
  if (declared && ALL_MANIFESTS.includes(declared.split(';')[0]!.trim())) return declared.split(';')[0]!.trim();
  if (object && Array.isArray(object.manifests)) return OCI_INDEX;
  if (object && object.config) return OCI_MANIFEST;
  return undefined;
}
