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

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

export function resourceEntryName(sha256: string): string {
  if (!isSha256Hex(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
  return `${RESOURCE_ENTRY_PREFIX}${sha256}`;
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

export interface BundleManifest {
  readonly formatVersion: typeof BUNDLE_FORMAT_VERSION;
  readonly builtBy: string;
  readonly package: PackageCoordinate;
  readonly resources: readonly ManifestResource[];
  /** Docker images: always empty until the image part of the format lands (see the doc). */
  readonly images: readonly unknown[];
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
    images: { type: 'array' },
  },
} as const;
