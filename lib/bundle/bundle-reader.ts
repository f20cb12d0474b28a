/**
 * Opens and validates a `.dcos` bundle over any ByteSource.
 *
 * `openBundle` checks the structure and the documents (a handful of small reads, whatever the
 * bundle's size); `verifyContents` then streams every resource once and checks its sha256. Nothing
 * is written anywhere: a bundle either passes or is refused with an InvalidBundleError saying why.
 */
import { createHash } from 'node:crypto';
import { assetReferences, dockerImageReferences } from '../universe/asset-references.ts';
import { resolvePointer } from '../universe/json-pointer.ts';
import type { JsonValue, PackageMetadata } from '../universe/package-model.ts';
import { compileSchema, schemaErrors } from '../universe/schema-registry.ts';
import { InvalidBundleError } from './bundle-errors.ts';
import {
  BUNDLE_FORMAT_VERSION,
  BUNDLE_MANIFEST_SCHEMA,
  MANIFEST_ENTRY,
  METADATA_ENTRY,
  resourceEntryDigest,
  resourceEntryName,
  type BundleManifest,
} from './bundle-layout.ts';
import type { ByteSource } from './byte-source.ts';
import { METHOD_STORED } from './zip/zip-format.ts';
import { DEFAULT_ZIP_LIMITS, ZipArchive, type ZipEntry, type ZipLimits } from './zip/zip-reader.ts';

export interface BundleLimits extends ZipLimits {
  /** Largest metadata.json or manifest.json, uncompressed. */
  readonly maxDocumentBytes: number;
}

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = { ...DEFAULT_ZIP_LIMITS, maxDocumentBytes: 64 * 1024 * 1024 };

export interface BundleResourceContent {
  readonly sha256: string;
  readonly size: number;
  readonly entry: ZipEntry;
}

export interface VerifyProgress {
  (verifiedBytes: number, totalBytes: number): void;
}

let manifestErrors: ((document: unknown) => string[]) | undefined;

export class Bundle {
  private constructor(
    readonly archive: ZipArchive,
    readonly metadata: PackageMetadata,
    readonly manifest: BundleManifest,
    /** Distinct stored resources by sha256. */
    readonly resources: ReadonlyMap<string, BundleResourceContent>,
  ) {}

  static async open(source: ByteSource, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS): Promise<Bundle> {
    const archive = await ZipArchive.open(source, limits);
    const metadata = await readMetadata(archive, limits);
    const manifest = await readManifest(archive, limits);
    const resources = checkManifestAgainstArchive(archive, metadata, manifest);
    return new Bundle(archive, metadata, manifest, resources);
  }

  get contentBytes(): number {
    let total = 0;
    for (const resource of this.resources.values()) total += resource.size;
    return total;
  }

  /** Streams one stored resource (checked against its CRC-32 as it goes). */
  resourceStream(sha256: string): AsyncGenerator<Uint8Array> {
    const resource = this.resources.get(sha256);
    if (!resource) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${resourceEntryName(sha256)}`, { sha256 });
    return this.archive.streamEntry(resource.entry);
  }

  /** Hashes every stored resource and refuses the bundle if one differs from its name. */
  async verifyContents(onProgress?: VerifyProgress): Promise<void> {
    const total = this.contentBytes;
    let verified = 0;
    for (const resource of this.resources.values()) {
      const hash = createHash('sha256');
      for await (const chunk of this.archive.streamEntry(resource.entry)) {
        hash.update(chunk);
        verified += chunk.length;
        onProgress?.(verified, total);
      }
      const actual = hash.digest('hex');
      if (actual !== resource.sha256) {
        throw new InvalidBundleError('DigestMismatch', `entry ${resource.entry.name} has sha256 ${actual}, not the one its name claims`, {
          entry: resource.entry.name,
          expected: resource.sha256,
          actual,
        });
      }
    }
  }
}

/** Opens a bundle and verifies every byte of it: what the service does before publishing. */
export async function readAndVerifyBundle(source: ByteSource, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS): Promise<Bundle> {
  const bundle = await Bundle.open(source, limits);
  await bundle.verifyContents();
  return bundle;
}

async function readJsonEntry(archive: ZipArchive, name: string, limits: BundleLimits): Promise<unknown> {
  const entry = archive.get(name);
  if (!entry) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${name}`, { entry: name });
  const bytes = await archive.readEntry(entry, limits.maxDocumentBytes);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new InvalidBundleError('InvalidEntry', `Package entry was not JSON or did not match the expected schema: ${name}`, {
      entry: name,
      errors: [String((cause as Error).message)],
    }, { cause });
  }
}

async function readMetadata(archive: ZipArchive, limits: BundleLimits): Promise<PackageMetadata> {
  const metadata = await readJsonEntry(archive, METADATA_ENTRY, limits);
  const errors = schemaErrors('metadata', metadata);
  if (errors.length > 0) {
    throw new InvalidBundleError('InvalidEntry', `Package entry was not JSON or did not match the expected schema: ${METADATA_ENTRY}`, {
      entry: METADATA_ENTRY,
      errors,
    });
  }
  return metadata as PackageMetadata;
}

async function readManifest(archive: ZipArchive, limits: BundleLimits): Promise<BundleManifest> {
  const manifest = await readJsonEntry(archive, MANIFEST_ENTRY, limits);
  const formatVersion = (manifest as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof formatVersion === 'number' && formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw new InvalidBundleError('UnsupportedEntry', `bundle format version ${formatVersion} is not supported (this registry reads version ${BUNDLE_FORMAT_VERSION})`, {
      entry: MANIFEST_ENTRY,
      formatVersion,
    });
  }
  manifestErrors ??= compileSchema(BUNDLE_MANIFEST_SCHEMA);
  const errors = manifestErrors(manifest);
  if (errors.length > 0) {
    throw new InvalidBundleError('InvalidEntry', `Package entry was not JSON or did not match the expected schema: ${MANIFEST_ENTRY}`, {
      entry: MANIFEST_ENTRY,
      errors,
    });
  }
  return manifest as BundleManifest;
}

function checkManifestAgainstArchive(
  archive: ZipArchive,
  metadata: PackageMetadata,
  manifest: BundleManifest,
): Map<string, BundleResourceContent> {
  if (manifest.package.name !== metadata.name || manifest.package.version !== metadata.version) {
    throw new InvalidBundleError(
      'ManifestMismatch',
      `manifest.json is for ${manifest.package.name} ${manifest.package.version} but metadata.json is for ${metadata.name} ${metadata.version}`,
      { manifest: manifest.package, metadata: { name: metadata.name, version: metadata.version } },
    );
  }
  if (manifest.images.length > 0 || dockerImageReferences(metadata).length > 0) {
    throw new InvalidBundleError('UnsupportedEntry', 'bundles with Docker images are not supported yet', {
      package: { name: metadata.name, version: metadata.version },
    });
  }
  const resources = new Map<string, BundleResourceContent>();
  const covered = new Set<string>();
  for (const resource of manifest.resources) {
    const value = resolvePointer(metadata as unknown as JsonValue, resource.ref);
    if (value !== resource.url) {
      throw new InvalidBundleError('ManifestMismatch', `manifest reference ${resource.ref} does not resolve to ${resource.url} in metadata.json`, {
        ref: resource.ref,
        url: resource.url,
      });
    }
    if (covered.has(resource.ref)) {
      throw new InvalidBundleError('ManifestMismatch', `manifest lists ${resource.ref} twice`, { ref: resource.ref });
    }
    covered.add(resource.ref);
    const name = resourceEntryName(resource.sha256);
    const entry = archive.get(name);
    if (!entry) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${name}`, { entry: name, ref: resource.ref });
    if (entry.method !== METHOD_STORED) {
      throw new InvalidBundleError('UnsupportedEntry', `resource entry ${name} is compressed; resources must be stored`, { entry: name });
    }
    if (entry.size !== resource.size) {
      throw new InvalidBundleError('EntrySizeMismatch', `resource entry ${name} holds ${entry.size} bytes but the manifest says ${resource.size}`, {
        entry: name,
      });
    }
    resources.set(resource.sha256, { sha256: resource.sha256, size: entry.size, entry });
  }
  // Every file the metadata points at must travel in the bundle, or the registry would publish a
  // URL that leads outside the air-gapped site.
  for (const reference of assetReferences(metadata)) {
    if (!covered.has(reference.pointer)) {
      throw new InvalidBundleError('ManifestMismatch', `metadata.json references ${reference.url} at ${reference.pointer} but the bundle does not contain it`, {
        ref: reference.pointer,
        url: reference.url,
      });
    }
  }
  for (const entry of archive.entries.values()) {
    if (entry.name === METADATA_ENTRY || entry.name === MANIFEST_ENTRY || entry.isDirectory) continue;
    const digest = resourceEntryDigest(entry.name);
    if (digest === undefined || !resources.has(digest)) {
      throw new InvalidBundleError('UnsupportedEntry', `entry ${entry.name} is not part of bundle format v${BUNDLE_FORMAT_VERSION}`, {
        entry: entry.name,
      });
    }
  }
  return resources;
}
