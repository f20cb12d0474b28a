/**
 * Images from local files, for sites that already have them: a `docker save` archive (the
 * classic format, or the OCI layout newer Docker writes) or an OCI image layout (a directory or a
 * tar of one). Same contract as the registry puller: resolve a reference to its manifests, then
 * stream each blob with its digest checked.
 *
 * A classic `docker save` archive has no manifest to keep: one is made in the OCI format, with
 * the layers as the archive holds them (uncompressed tars, whose digests are the image's diff ids)
 * and the config as it is (so the image id stays the same).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PackagingError } from '../domain/errors.ts';
import type { ImageReference } from './image-reference.ts';
import { IMAGE_MANIFESTS, MANIFEST_LISTS, manifestMediaType, sha256Digest, OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST, type Descriptor, type ImageManifest, type ManifestList } from './media-types.ts';
import type { PulledManifest, ResolvedImage } from './registry-puller.ts';
import { indexTar, type TarEntry } from './tar-index.ts';
import { chooseChildren, type PlatformChoice } from './platforms.ts';

/** Where the bytes of a blob are: a file, or a range of the archive. */
type BlobLocation = { readonly path: string; readonly offset: number; readonly size: number };

export class LocalImageSource {
  private readonly blobs = new Map<string, BlobLocation>();
  /** Blobs made here rather than read (the config of a classic docker save archive). */
  private readonly generated = new Map<string, Buffer>();
  private resolved!: ResolvedImage;

  private constructor(private readonly path: string) {}

  /** Opens `path` for `image`; fails naming both if the file does not hold that image. */
  static async open(path: string, image: ImageReference, platforms: PlatformChoice): Promise<LocalImageSource> {
    const fail = (problem: string): never => {
      throw new PackagingError('InvalidImageArchive', `Cannot take the image ${image.original} from [${path}]: ${problem}`, { image: image.original, path });
    };
    let info;
    try {
      info = await stat(path);
    } catch {
      return fail('the file does not exist');
    }
    if (info.isDirectory()) return LocalImageSource.fromLayout(path, image, platforms, async (name) => ({ path: join(path, name), offset: 0, size: (await stat(join(path, name))).size }), fail);
    const handle = await open(path, 'r');
    try {
      const entries = await indexTar(handle, path);
      const locate = async (name: string): Promise<BlobLocation> => {
        const entry = entries.get(name);
        if (!entry) return fail(`the archive has no ${name}`);
        return { path, offset: entry.offset, size: entry.size };
      };
      if (entries.has('index.json') && entries.has('oci-layout')) return await LocalImageSource.fromLayout(path, image, platforms, locate, fail);
      if (entries.has('manifest.json')) return await LocalImageSource.fromDockerSave(path, image, handle, entries, fail);
      return fail('it is neither a docker save archive nor an OCI image layout');
    } finally {
      await handle.close();
    }
  }

  resolve(): ResolvedImage {
    return this.resolved;
  }

  async pullBlob(image: ImageReference, descriptor: Descriptor, write: (chunk: Uint8Array) => Promise<void>, onBytes?: (bytes: number) => void): Promise<void> {
    const generated = this.generated.get(descriptor.digest);
    const location = this.blobs.get(descriptor.digest);
    if (!generated && !location) throw new PackagingError('InvalidImageArchive', `Cannot take the image ${image.original} from [${this.path}]: blob ${descriptor.digest} is missing`, {});
    const hash = createHash('sha256');
    let size = 0;
    const chunks: AsyncIterable<Uint8Array> = (async function* () {
      if (generated) yield generated;
      else if (location!.size > 0) {
        yield* createReadStream(location!.path, { start: location!.offset, end: location!.offset + location!.size - 1, highWaterMark: 1 << 20 });
      }
    })();
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.length;
      await write(chunk);
      onBytes?.(chunk.length);
    }
    if (`sha256:${hash.digest('hex')}` !== descriptor.digest || size !== descriptor.size) {
      throw new PackagingError('ImagePullFailed', `Cannot take the image ${image.original} from [${this.path}]: digest mismatch for blob ${descriptor.digest}`, {});
    }
  }

  private static async fromLayout(
    path: string,
    image: ImageReference,
    platforms: PlatformChoice,
    locate: (name: string) => Promise<BlobLocation>,
    fail: (problem: string) => never,
  ): Promise<LocalImageSource> {
    const read = async (name: string): Promise<Buffer> => {
      const location = await locate(name);
      const handle = await open(location.path, 'r');
      try {
        const bytes = Buffer.alloc(location.size);
        await handle.read(bytes, 0, location.size, location.offset);
        return bytes;
      } finally {
        await handle.close();
      }
    };
    const blobName = (digest: string): string => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
    const index = JSON.parse((await read('index.json')).toString('utf8')) as ManifestList;
    const wanted = [image.original, `${image.repository}:${image.tag}`, image.tag].filter(Boolean);
    const named = index.manifests.filter((entry) => wanted.includes(entry.annotations?.['org.opencontainers.image.ref.name'] ?? ''));
    const top = named[0] ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
    if (!top) return fail(`the layout names no image ${wanted.join(' or ')}`);
    const manifestOf = async (descriptor: Descriptor): Promise<PulledManifest> => {
      const bytes = await read(blobName(descriptor.digest));
      if (sha256Digest(bytes) !== descriptor.digest) return fail(`digest mismatch for manifest ${descriptor.digest}`);
      const mediaType = manifestMediaType(JSON.parse(bytes.toString('utf8')), descriptor.mediaType);
      if (!mediaType) return fail(`manifest ${descriptor.digest} has no known media type`);
      return { digest: descriptor.digest, mediaType, bytes };
    };
    const topManifest = await manifestOf(top);
    let imageManifests = [topManifest];
    if (MANIFEST_LISTS.has(topManifest.mediaType)) {
      const list = JSON.parse(topManifest.bytes.toString('utf8')) as ManifestList;
      const chosen = chooseChildren(list, platforms, (problem) => new PackagingError('InvalidImageArchive', `Cannot take the image ${image.original} from [${path}]: it ${problem}`, { image: image.original, path }));
      imageManifests = [];
      for (const child of chosen) imageManifests.push(await manifestOf(child));
    }
    const source = new LocalImageSource(path);
    const images = [];
    for (const imageManifest of imageManifests) {
      if (!IMAGE_MANIFESTS.has(imageManifest.mediaType)) return fail('the image is not an image manifest');
      const manifest = JSON.parse(imageManifest.bytes.toString('utf8')) as ImageManifest;
      images.push({ ...imageManifest, manifest });
      for (const blob of [manifest.config, ...manifest.layers]) source.blobs.set(blob.digest, await locate(blobName(blob.digest)));
    }
    source.resolved = { top: topManifest, images };
    return source;
  }

  private static async fromDockerSave(
    path: string,
    image: ImageReference,
    handle: FileHandle,
    entries: Map<string, TarEntry>,
    fail: (problem: string) => never,
  ): Promise<LocalImageSource> {
    const readEntry = async (name: string): Promise<Buffer> => {
      const entry = entries.get(name.replace(/^\.\//, ''));
      if (!entry) return fail(`the archive has no ${name}`);
      const bytes = Buffer.alloc(entry.size);
      await handle.read(bytes, 0, entry.size, entry.offset);
      return bytes;
    };
    const saved = JSON.parse((await readEntry('manifest.json')).toString('utf8')) as { Config: string; RepoTags?: string[]; Layers: string[] }[];
    const wanted = new Set([image.original, `${image.repository}:${image.tag}`, `docker.io/${image.repository}:${image.tag}`, `${image.remoteName}:${image.tag}`]);
    const chosen = saved.find((entry) => (entry.RepoTags ?? []).some((tag) => wanted.has(tag))) ?? (saved.length === 1 ? saved[0] : undefined);
    if (!chosen) return fail(`the archive holds no image tagged ${image.original}`);
    const config = await readEntry(chosen.Config);
    const source = new LocalImageSource(path);
    const layers: Descriptor[] = [];
    for (const layer of chosen.Layers) {
      const entry = entries.get(layer.replace(/^\.\//, ''));
      if (!entry) return fail(`the archive has no layer ${layer}`);
      // The layer's digest is that of its uncompressed tar: hash it once, from the archive.
      const hash = createHash('sha256');
      if (entry.size > 0) {
        for await (const chunk of createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      }
      const digest = `sha256:${hash.digest('hex')}`;
      layers.push({ mediaType: OCI_LAYER_TAR, digest, size: entry.size });
      source.blobs.set(digest, { path, offset: entry.offset, size: entry.size });
    }
    const configDescriptor: Descriptor = { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length };
    source.generated.set(configDescriptor.digest, config);
    const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers }));
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as ImageManifest;
    const pulled = { digest: sha256Digest(manifestBytes), mediaType: OCI_MANIFEST, bytes: manifestBytes };
    source.resolved = { top: pulled, images: [{ ...pulled, manifest }] };
    return source;
  }
}
