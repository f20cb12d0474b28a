/**
 * Writes a bundle of one package whose only resource is one image (one layer unless said otherwise), with the
 * product's own BundleWriter: the benchmarks stream a large layer, the tag attacks a small seeded one.
 */
import { createHash } from 'node:crypto';
import { BundleWriter } from '../../lib/bundle/bundle-writer.ts';
import type { BundleManifest } from '../../lib/bundle/bundle-layout.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface SingleImageBundle {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly repository: string;
  /** Without a tag, the package pins the image by digest. */
  readonly tag?: string;
  readonly description: string;
  /** Writes a layer's bytes (the `index`th of `layers`); returns how many. */
  readonly writeLayer: (write: (bytes: Uint8Array) => Promise<void>, index: number) => Promise<number>;
  /** How many layers the image has (1 unless said). */
  readonly layers?: number;
}

/** The config and the OCI manifest of an image of these layers (uncompressed tar, in order). */
export function imageDocuments(layers: readonly { readonly sha256: string; readonly size: number }[]): { config: Buffer; manifest: Buffer } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((layer) => `sha256:${layer.sha256}`) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: layers.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layer.sha256}`, size: layer.size })),
    }),
  );
  return { config, manifest };
}

export async function writeSingleImageBundle(options: SingleImageBundle): Promise<{ manifestDigest: string; layerDigest: string }> {
  const writer = await BundleWriter.create(options.path, { overwrite: true });
  const layers: { sha256: string; size: number }[] = [];
  for (let index = 0; index < (options.layers ?? 1); index++) {
    const layer = await writer.beginImageBlob();
    const size = await options.writeLayer((bytes) => layer.write(bytes), index);
    layers.push({ sha256: (await layer.complete()).sha256, size });
  }
  const { config, manifest } = imageDocuments(layers);
  for (const blob of [config, manifest]) {
    const upload = await writer.beginImageBlob();
    await upload.write(blob);
    await upload.complete();
  }
  const manifestDigest = `sha256:${sha(manifest)}`;
  const image = options.tag ? `${options.repository}:${options.tag}` : `${options.repository}@${manifestDigest}`;
  const metadata = {
    packagingVersion: '4.0', name: options.name, version: options.version, maintainer: 'tests', description: options.description, tags: ['test'],
    resource: { assets: { container: { docker: { main: image } } } },
  } as PackageMetadata;
  const bundleManifest: BundleManifest = {
    formatVersion: 1, builtBy: 'tests', package: { name: options.name, version: options.version }, resources: [],
    images: [{ ref: '/resource/assets/container/docker/main', image, repository: options.repository, ...(options.tag ? { tag: options.tag } : {}), digest: manifestDigest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifest.length }],
  };
  await writer.finish(metadata, bundleManifest);
  return { manifestDigest, layerDigest: layers[0]!.sha256 };
}
