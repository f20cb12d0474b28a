/** Shared by the review10-* attack tests (an independent review of issue 10). */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter } from '../../lib/bundle/bundle-writer.ts';
import type { BundleManifest, ManifestImage } from '../../lib/bundle/bundle-layout.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';
import { serveDistribution } from '../../lib/registry/serve-images.ts';
import type { RegistryContext } from '../../lib/registry/context.ts';
import { readAllBytes } from '../../lib/ports/object-store.ts';

export const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface PlatformImage {
  readonly architecture: string;
  readonly manifest: Buffer;
  readonly manifestDigest: string;
  readonly config: Buffer;
  readonly layer: Buffer;
}

/** One image manifest of a platform, its layer seeded by `seed`. */
export function platformImage(architecture: string, seed: string): PlatformImage {
  const layer = Buffer.alloc(4096, 0);
  Buffer.from(`layer ${seed} ${architecture}`).copy(layer);
  const config = Buffer.from(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha(layer)}`, size: layer.length }],
    }),
  );
  return { architecture, manifest, manifestDigest: `sha256:${sha(manifest)}`, config, layer };
}

export function indexOf(children: readonly PlatformImage[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: children.map((child) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: child.manifestDigest,
        size: child.manifest.length,
        platform: { os: 'linux', architecture: child.architecture },
      })),
    }),
  );
}

/**
 * A bundle of one package whose one image is the multi-platform `index` (tagged), holding only
 * the children `include` names, written with the product's BundleWriter.
 */
export async function multiPlatformBundle(options: {
  name: string;
  version?: string;
  repository: string;
  tag: string;
  index: Buffer;
  include: readonly PlatformImage[];
  description?: string;
}): Promise<Buffer> {
  const directory = await mkdtemp(join(tmpdir(), 'r10-img-'));
  const path = join(directory, 'b.dcos');
  const version = options.version ?? '1.0.0';
  const writer = await BundleWriter.create(path, { overwrite: true });
  const blobs = [options.index, ...options.include.flatMap((child) => [child.manifest, child.config, child.layer])];
  const seen = new Set<string>();
  for (const blob of blobs) {
    if (seen.has(sha(blob))) continue;
    seen.add(sha(blob));
    const upload = await writer.beginImageBlob();
    await upload.write(blob);
    await upload.complete();
  }
  const image = `${options.repository}:${options.tag}`;
  const metadata = {
    packagingVersion: '4.0',
    name: options.name,
    version,
    maintainer: 'tests',
    description: options.description ?? `multi-platform ${options.name}`,
    tags: ['test'],
    resource: { assets: { container: { docker: { main: image } } } },
  } as PackageMetadata;
  const images: ManifestImage[] = [
    {
      ref: '/resource/assets/container/docker/main',
      image,
      repository: options.repository,
      tag: options.tag,
      digest: `sha256:${sha(options.index)}`,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      size: options.index.length,
    },
  ];
  const manifest: BundleManifest = { formatVersion: 1, builtBy: 'tests', package: { name: options.name, version }, resources: [], images };
  await writer.finish(metadata, manifest);
  const bytes = await readFile(path);
  await rm(directory, { recursive: true, force: true });
  return bytes;
}

/** GET (or HEAD) /v2/<path> through the real distribution handler. */
export async function v2(context: RegistryContext, path: string, options: { method?: string; range?: string; query?: Record<string, string> } = {}) {
  const reply = await serveDistribution(context, { method: options.method ?? 'GET', path, query: options.query ?? {}, ...(options.range !== undefined ? { range: options.range } : {}) });
  if (reply.kind === 'stream') return { status: reply.status, headers: reply.headers as Record<string, string>, body: await readAllBytes(reply.body), reply };
  if (reply.kind !== 'body') return { status: reply.kind === 'redirect' ? 307 : 0, headers: {} as Record<string, string>, body: Buffer.alloc(0), reply };
  return { status: reply.status, headers: reply.headers as Record<string, string>, body: reply.body, reply };
}

/**
 * A bundle of `metadata` holding the one single-platform image `image` (its manifest, config and
 * layer); `images` says what manifest.json claims about it (given the manifest's digest and size).
 */
export async function bundleWithImage(metadata: PackageMetadata, image: PlatformImage, images: (digest: string, size: number) => ManifestImage[]): Promise<Buffer> {
  const directory = await mkdtemp(join(tmpdir(), 'r10-img-'));
  const path = join(directory, 'b.dcos');
  const writer = await BundleWriter.create(path, { overwrite: true });
  for (const blob of [image.manifest, image.config, image.layer]) {
    const upload = await writer.beginImageBlob();
    await upload.write(blob);
    await upload.complete();
  }
  const manifest: BundleManifest = {
    formatVersion: 1,
    builtBy: 'tests',
    package: { name: metadata.name, version: metadata.version },
    resources: [],
    images: images(image.manifestDigest, image.manifest.length),
  };
  await writer.finish(metadata, manifest);
  const bytes = await readFile(path);
  await rm(directory, { recursive: true, force: true });
  return bytes;
}
