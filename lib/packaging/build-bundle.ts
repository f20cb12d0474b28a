/**
 * `build`: a build definition → a self-contained `<name>-<version>.dcos` bundle (spec §2.4).
 *
 * Every asset, icon, screenshot and CLI binary is downloaded once, straight into the bundle
 * (content-addressed, stored uncompressed), and recorded in the manifest with the JSON Pointer of
 * the metadata string it came from. Every Docker image is pulled from its registry (no Docker
 * daemon) into an OCI image layout inside the bundle. CLI binaries are checked against their `contentHash`. Any
 * failure removes the partial bundle: a `.dcos` exists only if it is complete.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { PackagingError, DownloadError } from '../domain/errors.ts';
import { BUNDLE_FORMAT_VERSION, type BundleManifest, type ManifestImage, type ManifestResource } from '../bundle/bundle-layout.ts';
import { parseImageReference, type ImageReference } from '../images/image-reference.ts';
import { LocalImageSource } from '../images/local-image-source.ts';
import { DEFAULT_PLATFORMS } from '../images/platforms.ts';
import type { Descriptor } from '../images/media-types.ts';
import { RegistryPuller, type PullOptions, type ResolvedImage } from '../images/registry-puller.ts';
import { BundleWriter, type ResourceUpload } from '../bundle/bundle-writer.ts';
import { assetReferences } from '../universe/asset-references.ts';
import { describeUnresolvedImage, imageLocations, type UnresolvedImage } from '../universe/image-locations.ts';
import { BUILT_BY } from '../version.ts';
import { ensureDirectory, fileExists } from '../support/files.ts';
import { loadBuildDefinition } from './build-definition.ts';
import { describeLocation, locateAsset } from './fetch/asset-location.ts';
import { contentTypeFor, filenameOf } from './fetch/content-type.ts';
import { DEFAULT_DOWNLOAD_OPTIONS, downloadAsset, type DownloadOptions } from './fetch/download.ts';
import type { UrlRewriteRule } from './fetch/url-rewrite.ts';

export interface ImageSourceOptions extends PullOptions {
  /** Image reference (as the metadata writes it) → a docker save archive or OCI layout to take it from. */
  readonly localSources: ReadonlyMap<string, string>;
}

/** Where an image's manifests and blobs come from: its registry, or a local file. */
interface ImageSource {
  resolve(image: ImageReference): Promise<ResolvedImage>;
  pullBlob(image: ImageReference, descriptor: Descriptor, write: (chunk: Uint8Array) => Promise<void>, onBytes?: (bytes: number) => void): Promise<void>;
}

export interface BuildReporter {
  /** An image pull starts (`Pulling <image>`); progress() follows in bytes of its blobs. */
  pulling(image: string, totalBytes: number | undefined): void;
  /** A download starts (`Fetching <url>`). */
  fetching(url: string, index: number, count: number): void;
  progress(received: number, total: number | undefined): void;
  fetched(url: string, bytes: number): void;
  retrying(url: string, attempt: number, reason: string): void;
  /** Something that looks like an image cannot be bundled (universe/image-locations.ts). */
  unresolvedImage?(unresolved: UnresolvedImage): void;
}

export interface BuildOptions {
  readonly buildDefinitionFile: string;
  readonly outputDirectory: string;
  readonly overwrite: boolean;
  readonly rewrites: readonly UrlRewriteRule[];
  readonly download?: Partial<DownloadOptions>;
  readonly reporter?: BuildReporter;
  readonly signal?: AbortSignal;
  /** Where and how images are pulled; linux/amd64 from the registries named, when not given. */
  readonly images?: Partial<ImageSourceOptions>;
  /** Refuse the package when an image it may run cannot be bundled (`--strict-images`). */
  readonly strictImages?: boolean;
  /** An Ed25519 private key: the bundle carries its signature (`--sign-key`, lib/signing). */
  readonly signingKey?: KeyObject;
}

export interface BuildOutcome {
  readonly path: string;
  readonly manifest: BundleManifest;
  readonly bytes: number;
}

interface FetchedContent {
  readonly sha256: string;
  readonly size: number;
  /** What the server declared, if anything. */
  readonly servedContentType: string | undefined;
}

export async function buildBundle(options: BuildOptions): Promise<BuildOutcome> {
  const { metadata, baseDirectory } = await loadBuildDefinition(options.buildDefinitionFile);
  // Every image the rendered app may run, parsed before any download: a bad one fails at once.
  const found = imageLocations(metadata);
  for (const unresolved of found.unresolved) options.reporter?.unresolvedImage?.(unresolved);
  if (options.strictImages && found.unresolved.length > 0) {
    throw new PackagingError(
      'UnresolvedImage',
      `The package may run images that cannot be bundled (--strict-images):\n  ${found.unresolved.map(describeUnresolvedImage).join('\n  ')}`,
      { unresolved: found.unresolved },
    );
  }
  const imageReferences = found.locations.map((location) => ({
    pointer: location.pointer,
    image: location.image,
    ...(location.kind === 'template' ? { template: location.literal } : {}),
    parsed: parseImageReference(location.image),
  }));
  for (const image of options.images?.localSources?.keys() ?? []) {
    if (!imageReferences.some((reference) => reference.image === image)) {
      throw new PackagingError('InvalidOption', `--image-source names ${image}, which the package does not use (it uses: ${imageReferences.map((reference) => reference.image).join(', ') || 'no image'})`, { image });
    }
  }
  await ensureDirectory(options.outputDirectory);
  const path = join(options.outputDirectory, `${metadata.name}-${metadata.version}.dcos`);
  if (!options.overwrite && (await fileExists(path))) {
    throw new PackagingError('OutputExists', `Output file [${path}] already exists (use --force to replace it)`, { path });
  }

  const references = assetReferences(metadata);
  const downloadOptions: DownloadOptions = { ...DEFAULT_DOWNLOAD_OPTIONS, ...options.download };
  const writer = await BundleWriter.create(path, { overwrite: options.overwrite });
  try {
    const fetchedByUrl = new Map<string, FetchedContent>();
    const resources: ManifestResource[] = [];
    for (const [index, reference] of references.entries()) {
      options.reporter?.fetching(reference.url, index, references.length);
      const location = locateAsset(reference.url, { baseDirectory, rewrites: options.rewrites });
      const key = location.kind === 'http' ? location.url.href : `file:${location.path}`;
      let content = fetchedByUrl.get(key);
      if (content === undefined) {
        content = await fetchInto(writer, location, reference.url, downloadOptions, options);
        fetchedByUrl.set(key, content);
      }
      options.reporter?.fetched(reference.url, content.size);
      if (reference.expectedSha256 !== undefined && reference.expectedSha256 !== content.sha256) {
        throw new DownloadError(
          `The file ${describeLocation(location)} has sha256 ${content.sha256}, but the package's contentHash is ${reference.expectedSha256}`,
          { url: reference.url, expected: reference.expectedSha256, actual: content.sha256 },
        );
      }
      const filename = filenameOf(reference.url);
      resources.push({
        ref: reference.pointer,
        url: reference.url,
        sha256: content.sha256,
        size: content.size,
        filename,
        contentType: contentTypeFor(filename, content.servedContentType),
      });
    }
    const images: ManifestImage[] = [];
    if (imageReferences.length > 0) {
      const platforms = options.images?.platforms ?? DEFAULT_PLATFORMS;
      const puller = new RegistryPuller({
        mirrors: options.images?.mirrors ?? new Map(),
        insecure: options.images?.insecure ?? new Set(),
        credentials: options.images?.credentials ?? (() => undefined),
        platforms,
      });
      const pulled = new Map<string, Omit<ManifestImage, 'ref'>>();
      for (const reference of imageReferences) {
        let image = pulled.get(reference.image);
        if (!image) {
          const localPath = options.images?.localSources?.get(reference.image);
          let source: ImageSource = puller;
          if (localPath !== undefined) {
            const local = await LocalImageSource.open(localPath, reference.parsed, platforms);
            source = { resolve: async () => local.resolve(), pullBlob: (...args) => local.pullBlob(...args) };
          }
          image = await pullImage(writer, source, reference.parsed, options);
          pulled.set(reference.image, image);
        }
        images.push({ ref: reference.pointer, ...(reference.template !== undefined ? { template: reference.template } : {}), ...image, image: reference.image });
      }
    }
    const manifest: BundleManifest = {
      formatVersion: BUNDLE_FORMAT_VERSION,
      builtBy: BUILT_BY,
      package: { name: metadata.name, version: metadata.version },
      resources,
      images,
    };
    await writer.finish(metadata, manifest, options.signingKey ? { signingKey: options.signingKey } : {});
    return { path, manifest, bytes: writer.bytesWritten };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Pulls one image into the bundle's OCI layout: its manifests, config and layers, each once. */
async function pullImage(writer: BundleWriter, puller: ImageSource, image: ImageReference, options: BuildOptions): Promise<Omit<ManifestImage, 'ref'>> {
  const resolved = await puller.resolve(image);
  // Each blob once, even when two platforms share it.
  const blobs = [...new Map(resolved.images.flatMap((child) => [child.manifest.config, ...child.manifest.layers]).map((blob) => [blob.digest, blob])).values()];
  const total = blobs.reduce((sum, blob) => sum + blob.size, 0);
  options.reporter?.pulling(image.original, total);
  for (const manifest of [resolved.top, ...resolved.images]) await storeImageBlob(writer, manifest.digest, manifest.bytes);
  let done = 0;
  for (const blob of blobs) {
    const hex = blob.digest.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new PackagingError('ImagePullFailed', `Cannot pull the image ${image.original}: blob digest ${blob.digest} is not sha256`, {});
    if (writer.hasImageBlob(hex)) {
      done += blob.size;
      continue;
    }
    const upload = await writer.beginImageBlob();
    try {
      await puller.pullBlob(image, blob, (chunk) => {
        if (options.signal?.aborted) throw new PackagingError('Interrupted', 'The build was interrupted', {});
        return upload.write(chunk);
      }, (bytes) => {
        done += bytes;
        options.reporter?.progress(done, total);
      });
      await upload.complete();
    } catch (error) {
      await upload.discard();
      throw error;
    }
  }
  options.reporter?.fetched(image.original, total);
  return {
    image: image.original,
    repository: image.repository,
    ...(image.tag ? { tag: image.tag } : {}),
    digest: resolved.top.digest,
    mediaType: resolved.top.mediaType,
    size: resolved.top.bytes.length,
  };
}

async function storeImageBlob(writer: BundleWriter, digest: string, bytes: Buffer): Promise<void> {
  const hex = digest.replace(/^sha256:/, '');
  if (writer.hasImageBlob(hex)) return;
  const upload = await writer.beginImageBlob();
  await upload.write(bytes);
  await upload.complete();
}

async function fetchInto(
  writer: BundleWriter,
  location: ReturnType<typeof locateAsset>,
  url: string,
  downloadOptions: DownloadOptions,
  options: BuildOptions,
): Promise<FetchedContent> {
  let upload: ResourceUpload | undefined;
  const sink = {
    begin: async (): Promise<void> => {
      await upload?.discard();
      upload = await writer.beginResource();
    },
    write: (chunk: Uint8Array): Promise<void> => {
      if (options.signal?.aborted) throw new PackagingError('Interrupted', 'The build was interrupted', {});
      return upload!.write(chunk);
    },
  };
  try {
    const result = await downloadAsset(location, sink, {
      ...downloadOptions,
      onProgress: (received, total) => options.reporter?.progress(received, total),
      onRetry: (attempt, reason) => options.reporter?.retrying(url, attempt, reason),
    });
    const stored = await upload!.complete();
    upload = undefined;
    return { sha256: stored.sha256, size: stored.size, servedContentType: result.contentType };
  } finally {
    await upload?.discard();
  }
}
