/**
 * Bundle format v1: entry names and the manifest model (docs/bundle-format.md is the prose).
 */
import type { PackageCoordinate } from '../universe/coordinate.ts';

export const BUNDLE_FORMAT_VERSION = 1;
export const METADATA_ENTRY = 'metadata.json';
export const MANIFEST_ENTRY = 'manifest.json';
export const RESOURCE_ENTRY_PREFIX = 'resources/sha256/';
/** Every resource entry name has this length, which lets the writer reserve its header. */
export const RESOURCE_ENTRY_NAME_LENGTH = RESOURCE_ENTRY_PREFIX.length + 64;

/** Docker images: an OCI image layout under images/ (blobs content-addressed, stored). */
export const IMAGES_LAYOUT_ENTRY = 'images/oci-layout';
export const IMAGES_INDEX_ENTRY = 'images/index.json';
export const IMAGE_BLOB_PREFIX = 'images/blobs/sha256/';
export const IMAGE_BLOB_NAME_LENGTH = IMAGE_BLOB_PREFIX.length + 64;
export const OCI_LAYOUT_DOCUMENT = { imageLayoutVersion: '1.0.0' } as const;

export type ContentKind = 'resource' | 'image-blob';

export function contentEntryName(kind: ContentKind, sha256: string): string {
  if (!isSha256Hex(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
  return `${kind === 'resource' ? RESOURCE_ENTRY_PREFIX : IMAGE_BLOB_PREFIX}${sha256}`;
}

/** The digest named by an image blob entry, or undefined when the name is not one. */
export function imageBlobDigest(name: string): string | undefined {
  if (!name.startsWith(IMAGE_BLOB_PREFIX)) return undefined;
  const digest = name.slice(IMAGE_BLOB_PREFIX.length);
  return isSha256Hex(digest) ? digest : undefined;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

export function resourceEntryName(sha256: string): string {
  return contentEntryName('resource', sha256);
}

/** The digest named by a resource entry, or undefined when the name is not one. */
export function resourceEntryDigest(name: string): string | undefined {
  if (!name.startsWith(RESOURCE_ENTRY_PREFIX)) return undefined;
  const digest = name.slice(RESOURCE_ENTRY_PREFIX.length);
  return isSha256Hex(digest) ? digest : undefined;
}

/** One downloaded file, as referenced from one place in metadata.json. */
export interface ManifestResource {
  /** RFC 6901 pointer into metadata.json to the string that was downloaded. */
  readonly ref: string;
  /** That string, exactly: the original URL (or relative path) as the build definition wrote it. */
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
  readonly filename: string;
  readonly contentType: string;
}

/** One Docker image, as referenced from one place in metadata.json. */
export interface ManifestImage {
  /** RFC 6901 pointer into metadata.json to the image string (resource.assets.container.docker.<alias>). */
  readonly ref: string;
  /** That string, exactly; for a template literal, the reference it names with the config defaults filled in. */
  readonly image: string;
  /**
   * Present when `ref` is the Marathon template (`/marathon/v2AppMustacheTemplate`): the value of
   * its `"image"` field as written there, `{{…}}` parts included (universe/image-locations.ts).
   */
  readonly template?: string;
  /** The name this registry serves it under (spec §4.4). */
  readonly repository: string;
  readonly tag?: string;
  /** Digest, media type and size of the top manifest (an image manifest, or a list/index as pulled). */
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

export interface BundleManifest {
  readonly formatVersion: typeof BUNDLE_FORMAT_VERSION;
  readonly builtBy: string;
  readonly package: PackageCoordinate;
  readonly resources: readonly ManifestResource[];
  readonly images: readonly ManifestImage[];
}

export const BUNDLE_MANIFEST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['formatVersion', 'builtBy', 'package', 'resources', 'images'],
  properties: {
    formatVersion: { type: 'integer', minimum: 1 },
    builtBy: { type: 'string', minLength: 1, maxLength: 200 },
    package: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version'],
      properties: { name: { type: 'string' }, version: { type: 'string' } },
    },
    resources: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ref', 'url', 'sha256', 'size', 'filename', 'contentType'],
        properties: {
          ref: { type: 'string', pattern: '^/' },
          url: { type: 'string', minLength: 1 },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          size: { type: 'integer', minimum: 0 },
          filename: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\u0000-\\u001f]+$', not: { enum: ['.', '..'] } },
          contentType: { type: 'string', minLength: 1, maxLength: 255 },
        },
      },
    },
    images: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ref', 'image', 'repository', 'digest', 'mediaType', 'size'],
        properties: {
          ref: { type: 'string', pattern: '^/' },
          image: { type: 'string', minLength: 1, maxLength: 512 },
          template: { type: 'string', minLength: 1, maxLength: 512 },
          repository: { type: 'string', minLength: 1, maxLength: 255 },
          tag: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' },
          digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
          mediaType: { type: 'string', minLength: 1, maxLength: 255 },
          size: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;
