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
import { ALL_MANIFESTS, MANIFEST_LISTS, manifestMediaType } from '../images/media-types.ts';
import {
  BUNDLE_FORMAT_VERSION,
  BUNDLE_MANIFEST_SCHEMA,
  contentEntryName,
  imageBlobDigest,
  IMAGES_INDEX_ENTRY,
  IMAGES_LAYOUT_ENTRY,
  MANIFEST_ENTRY,
  METADATA_ENTRY,
  resourceEntryDigest,
  resourceEntryName,
  type BundleManifest,
  type ManifestImage,
} from './bundle-layout.ts';
import type { ByteSource } from './byte-source.ts';
import { DOS_DATE, DOS_TIME, METHOD_STORED, UNIX_FILE_ATTRIBUTES, VERSION_MADE_BY } from './zip/zip-format.ts';
import { DEFAULT_ZIP_LIMITS, ZipArchive, type ZipEntry, type ZipLimits } from './zip/zip-reader.ts';
import { MAX_ENVELOPE_BYTES, sha256Hex, SIGNATURE_ENTRY, type SignedContent } from '../signing/bundle-signature.ts';
import { imageLocations, TEMPLATE_POINTER } from '../universe/image-locations.ts';

export interface BundleLimits extends ZipLimits {
  /** Largest metadata.json or manifest.json, uncompressed. */
  readonly maxDocumentBytes: number;
}

/**
 * 4 MiB for metadata.json and manifest.json: the largest entry of the real Universe is 192 KB, and
 * the metadata becomes the package's entry in /repo, which every Cosmos fetches every minute (a
 * 50 MB one made /repo 52 MB). See docs/security.md for every bound.
 */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = { ...DEFAULT_ZIP_LIMITS, maxDocumentBytes: MAX_DOCUMENT_BYTES };

/** Image manifests and indexes are small JSON documents (the registry spec suggests 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

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
    /** Distinct Docker image blobs (layers, configs, manifests) by sha256. */
    readonly imageBlobs: ReadonlyMap<string, BundleResourceContent>,
    /** The media type of every image blob that is a manifest (or list/index), by sha256. */
    readonly manifestTypes: ReadonlyMap<string, string>,
    /** What a signature must cover: the package and the sha256 of its two documents as stored. */
    readonly signedContent: SignedContent,
    /** The signature envelope's bytes (signature.dsse.json), when the bundle is signed. */
    readonly signatureEnvelope: Uint8Array | undefined,
    /**
     * Whether every ZIP field no reading depends on has the value the bundle writer gives it
     * (lib/bundle/zip/zip-writer.ts), and every entry is stored (a deflate stream's padding
     * bits are ignored by inflate). The signature covers the content; this lets a signed
     * bundle's framing be held to its writer's too, so that no byte of it can change unseen.
     */
    readonly canonicalFraming: boolean,
  ) {}

  static async open(source: ByteSource, limits: BundleLimits = DEFAULT_BUNDLE_LIMITS): Promise<Bundle> {
    const archive = await ZipArchive.open(source, limits);
    const { metadata, sha256: metadataSha256 } = await readMetadata(archive, limits);
    const { manifest, sha256: manifestSha256 } = await readManifest(archive, limits);
    const resources = checkResources(archive, metadata, manifest);
    const { blobs, manifestTypes } = await checkImages(archive, metadata, manifest);
    checkNoStrayEntries(archive, resources, blobs, manifest.images.length > 0);
    const signatureEntry = archive.get(SIGNATURE_ENTRY);
    const signatureEnvelope = signatureEntry ? await archive.readEntry(signatureEntry, MAX_ENVELOPE_BYTES) : undefined;
    const signedContent = { name: metadata.name, version: metadata.version, metadataSha256, manifestSha256 };
    const canonicalFraming = [...archive.entries.values()].every(
      (entry) =>
        entry.method === METHOD_STORED &&
        entry.centralOnlyFields[0] === VERSION_MADE_BY && entry.centralOnlyFields[1] === 0 && entry.centralOnlyFields[2] === UNIX_FILE_ATTRIBUTES && entry.sharedFields[2] === DOS_TIME && entry.sharedFields[3] === DOS_DATE,
    );
    return new Bundle(archive, metadata, manifest, resources, blobs, manifestTypes, signedContent, signatureEnvelope, canonicalFraming);
  }

  get contentBytes(): number {
    let total = 0;
    for (const resource of this.resources.values()) total += resource.size;
    for (const blob of this.imageBlobs.values()) total += blob.size;
    return total;
  }

  /** Streams one stored image blob (checked against its CRC-32 as it goes). */
  imageBlobStream(sha256: string): AsyncGenerator<Uint8Array> {
    const blob = this.imageBlobs.get(sha256);
    if (!blob) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${contentEntryName('image-blob', sha256)}`, { sha256 });
    return this.archive.streamEntry(blob.entry);
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
    for (const resource of [...this.resources.values(), ...this.imageBlobs.values()]) {
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

/**
 * The deepest real Universe document nests about 12 levels; schema validation and the index
 * writer recurse, so a deeper document would overflow the stack instead of being refused.
 */
export const MAX_JSON_DEPTH = 64;

/** How deep arrays and objects nest in a JSON text, counted without parsing (strings skipped). */
export function jsonNestingDepth(bytes: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index]!;
    if (inString) {
      if (byte === 0x5c) index++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
      continue;
    }
    if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return deepest;
}

async function readJsonEntry(archive: ZipArchive, name: string, limits: BundleLimits): Promise<{ value: unknown; sha256: string }> {
  const entry = archive.get(name);
  if (!entry) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${name}`, { entry: name });
  if (entry.size > limits.maxDocumentBytes) {
    throw new InvalidBundleError('DocumentTooLarge', `Package entry ${name} is ${entry.size} bytes; at most ${limits.maxDocumentBytes} are accepted`, {
      entry: name,
      size: entry.size,
      maxBytes: limits.maxDocumentBytes,
    });
  }
  const bytes = await archive.readEntry(entry, limits.maxDocumentBytes);
  const depth = jsonNestingDepth(bytes);
  if (depth > MAX_JSON_DEPTH) {
    throw new InvalidBundleError('InvalidEntry', `Package entry ${name} nests JSON ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, {
      entry: name,
      depth,
      maxDepth: MAX_JSON_DEPTH,
    });
  }
  try {
    return { value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)), sha256: sha256Hex(bytes) };
  } catch (cause) {
    throw new InvalidBundleError('InvalidEntry', `Package entry was not JSON or did not match the expected schema: ${name}`, {
      entry: name,
      errors: [String((cause as Error).message)],
    }, { cause });
  }
}

async function readMetadata(archive: ZipArchive, limits: BundleLimits): Promise<{ metadata: PackageMetadata; sha256: string }> {
  const { value: metadata, sha256 } = await readJsonEntry(archive, METADATA_ENTRY, limits);
  const errors = schemaErrors('metadata', metadata);
  if (errors.length > 0) {
    throw new InvalidBundleError('InvalidEntry', `Package entry was not JSON or did not match the expected schema: ${METADATA_ENTRY}`, {
      entry: METADATA_ENTRY,
      errors,
    });
  }
  return { metadata: metadata as PackageMetadata, sha256 };
}

async function readManifest(archive: ZipArchive, limits: BundleLimits): Promise<{ manifest: BundleManifest; sha256: string }> {
  const { value: manifest, sha256 } = await readJsonEntry(archive, MANIFEST_ENTRY, limits);
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
  return { manifest: manifest as BundleManifest, sha256 };
}

function checkResources(archive: ZipArchive, metadata: PackageMetadata, manifest: BundleManifest): Map<string, BundleResourceContent> {
  if (manifest.package.name !== metadata.name || manifest.package.version !== metadata.version) {
    throw new InvalidBundleError(
      'ManifestMismatch',
      `manifest.json is for ${manifest.package.name} ${manifest.package.version} but metadata.json is for ${metadata.name} ${metadata.version}`,
      { manifest: manifest.package, metadata: { name: metadata.name, version: metadata.version } },
    );
  }
  const resources = new Map<string, BundleResourceContent>();
  const covered = new Set<string>();
  for (const resource of manifest.resources) {
    checkPointer(metadata, resource.ref, resource.url, covered);
    const entry = storedEntry(archive, 'resource', resource.sha256, resource.ref);
    if (entry.size !== resource.size) {
      throw new InvalidBundleError('EntrySizeMismatch', `resource entry ${entry.name} holds ${entry.size} bytes but the manifest says ${resource.size}`, {
        entry: entry.name,
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
  return resources;
}

/**
 * Every image the metadata names is in the bundle: its top manifest, and for each image manifest
 * reachable from it (all of them for a single image; those present for a list) the config and
 * every layer. Every image blob must be reachable from some image.
 */
async function checkImages(
  archive: ZipArchive,
  metadata: PackageMetadata,
  manifest: BundleManifest,
): Promise<{ blobs: Map<string, BundleResourceContent>; manifestTypes: Map<string, string> }> {
  const blobs = new Map<string, BundleResourceContent>();
  const manifestTypes = new Map<string, string>();
  const covered = new Set<string>();
  const take = (digest: string, context: string): ZipEntry => {
    const hex = digest.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new InvalidBundleError('InvalidEntry', `${context} names an invalid digest ${digest}`, { digest });
    const entry = storedEntry(archive, 'image-blob', hex, context);
    blobs.set(hex, { sha256: hex, size: entry.size, entry });
    return entry;
  };
  const readManifestBlob = async (digest: string, context: string): Promise<{ document: ManifestDocument; mediaType: string }> => {
    const entry = take(digest, context);
    // Read outside the try: a failure to read (storage, a cut stream) is not a manifest that is not JSON.
    const bytes = await archive.readEntry(entry, MAX_MANIFEST_BYTES);
    let document: ManifestDocument;
    try {
      document = JSON.parse(bytes.toString('utf8')) as ManifestDocument;
    } catch (cause) {
      throw new InvalidBundleError('InvalidEntry', `the manifest ${digest} of ${context} is not JSON`, { digest }, { cause });
    }
    const mediaType = manifestMediaType(document);
    if (!mediaType || !ALL_MANIFESTS.includes(mediaType)) {
      throw new InvalidBundleError('InvalidEntry', `the manifest ${digest} of ${context} is not an image manifest or index`, { digest });
    }
    manifestTypes.set(digest.replace(/^sha256:/, ''), mediaType);
    return { document, mediaType };
  };
  const takeImage = async (digest: string, context: string): Promise<void> => {
    const { document } = await readManifestBlob(digest, context);
    if (!document.config || !Array.isArray(document.layers)) {
      throw new InvalidBundleError('InvalidEntry', `the image manifest ${digest} of ${context} has no config or layers`, { digest });
    }
    take(document.config.digest, context);
    for (const layer of document.layers) take(layer.digest, context);
  };
  const locations = imageLocations(metadata).locations;
  const templateImages = new Map(locations.flatMap((location) => (location.kind === 'template' ? [[location.literal, location.image] as const] : [])));
  // Where an image may be named at all: a manifest that points elsewhere (the description, the
  // whole template) would have publication overwrite that with an image reference.
  const imagePointers = new Set(locations.filter((location) => location.kind !== 'template').map((location) => location.pointer));
  for (const image of manifest.images) {
    if (image.template !== undefined) {
      checkTemplateImage(image, templateImages, covered);
    } else if (!imagePointers.has(image.ref)) {
      throw new InvalidBundleError('ManifestMismatch', `manifest names an image at ${image.ref}, which is not a place metadata.json names an image (docs/bundle-format.md)`, { ref: image.ref });
    } else {
      checkPointer(metadata, image.ref, image.image, covered);
    }
    const context = `image ${image.image}`;
    const top = await readManifestBlob(image.digest, context);
    if (top.mediaType !== image.mediaType) {
      throw new InvalidBundleError('ManifestMismatch', `${context}: manifest.json says ${image.mediaType}, the manifest is ${top.mediaType}`, { image: image.image });
    }
    if (MANIFEST_LISTS.has(top.mediaType)) {
      const present = (top.document.manifests ?? []).filter((child) => archive.get(contentEntryName('image-blob', child.digest.replace(/^sha256:/, ''))));
      if (present.length === 0) throw new InvalidBundleError('MissingEntry', `${context}: none of the images of its list is in the bundle`, { image: image.image });
      for (const child of present) await takeImage(child.digest, context);
    } else {
      await takeImage(image.digest, context);
    }
  }
  for (const reference of dockerImageReferences(metadata)) {
    if (!covered.has(reference.pointer)) {
      throw new InvalidBundleError('ManifestMismatch', `metadata.json names the image ${reference.image} at ${reference.pointer} but the bundle does not contain it`, {
        ref: reference.pointer,
        image: reference.image,
      });
    }
  }
  if (manifest.images.length > 0) {
    for (const name of [IMAGES_LAYOUT_ENTRY, IMAGES_INDEX_ENTRY]) {
      if (!archive.get(name)) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${name}`, { entry: name });
    }
  }
  return { blobs, manifestTypes };
}

interface ManifestDocument {
  mediaType?: string;
  config?: { digest: string };
  layers?: { digest: string }[];
  manifests?: { digest: string }[];
}

/** A template literal: the template has that `"image"` field, and it names this image with the defaults filled in. */
function checkTemplateImage(image: ManifestImage, templateImages: ReadonlyMap<string, string>, covered: Set<string>): void {
  const literal = image.template!;
  if (image.ref !== TEMPLATE_POINTER || templateImages.get(literal) !== image.image) {
    throw new InvalidBundleError('ManifestMismatch', `manifest names the template image [${literal}] as ${image.image}, which the Marathon template of metadata.json does not`, { ref: image.ref, template: literal });
  }
  const key = `${image.ref}#${literal}`;
  if (covered.has(key)) throw new InvalidBundleError('ManifestMismatch', `manifest lists the template image [${literal}] twice`, { ref: image.ref });
  covered.add(key);
}

function checkPointer(metadata: PackageMetadata, ref: string, expected: string, covered: Set<string>): void {
  const value = resolvePointer(metadata as unknown as JsonValue, ref);
  if (value !== expected) {
    throw new InvalidBundleError('ManifestMismatch', `manifest reference ${ref} does not resolve to ${expected} in metadata.json`, { ref, url: expected });
  }
  if (covered.has(ref)) throw new InvalidBundleError('ManifestMismatch', `manifest lists ${ref} twice`, { ref });
  covered.add(ref);
}

function storedEntry(archive: ZipArchive, kind: 'resource' | 'image-blob', sha256: string, context: string): ZipEntry {
  const name = contentEntryName(kind, sha256);
  const entry = archive.get(name);
  if (!entry) throw new InvalidBundleError('MissingEntry', `Package entry not found: ${name}`, { entry: name, ref: context });
  if (entry.method !== METHOD_STORED) {
    throw new InvalidBundleError('UnsupportedEntry', `entry ${name} is compressed; content entries must be stored`, { entry: name });
  }
  return entry;
}

function checkNoStrayEntries(
  archive: ZipArchive,
  resources: ReadonlyMap<string, BundleResourceContent>,
  blobs: ReadonlyMap<string, BundleResourceContent>,
  hasImages: boolean,
): void {
  for (const entry of archive.entries.values()) {
    if (entry.name === METADATA_ENTRY || entry.name === MANIFEST_ENTRY || entry.name === SIGNATURE_ENTRY || entry.isDirectory) continue;
    if (hasImages && (entry.name === IMAGES_LAYOUT_ENTRY || entry.name === IMAGES_INDEX_ENTRY)) continue;
    const resource = resourceEntryDigest(entry.name);
    if (resource !== undefined && resources.has(resource)) continue;
    const blob = imageBlobDigest(entry.name);
    if (blob !== undefined && blobs.has(blob)) continue;
    throw new InvalidBundleError('UnsupportedEntry', `entry ${entry.name} is not part of bundle format v${BUNDLE_FORMAT_VERSION}`, { entry: entry.name });
  }
}
