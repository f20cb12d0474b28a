/** Real image bundles for the tag attacks: one image `repository:tag` whose layer depends on `seed`. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter } from '../../lib/bundle/bundle-writer.ts';
import type { BundleManifest } from '../../lib/bundle/bundle-layout.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export async function imageBundle(options: { name: string; version?: string; repository: string; tag?: string; seed: string }): Promise<{ bytes: Buffer; manifestDigest: string; layerDigest: string }> {
  const version = options.version ?? '1.0.0';
  const directory = await mkdtemp(join(tmpdir(), 'img-'));
  const path = join(directory, 'b.dcos');
  const writer = await BundleWriter.create(path, { overwrite: true });
  const layerBytes = Buffer.alloc(64 * 1024, 0);
  Buffer.from(`layer ${options.seed}`).copy(layerBytes);
  const layer = await writer.beginImageBlob();
  await layer.write(layerBytes);
  const stored = await layer.complete();
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${stored.sha256}`] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${stored.sha256}`, size: layerBytes.length }],
    }),
  );
  for (const blob of [config, manifest]) {
    const upload = await writer.beginImageBlob();
    await upload.write(blob);
    await upload.complete();
  }
  const image = options.tag ? `${options.repository}:${options.tag}` : `${options.repository}@sha256:${sha(manifest)}`;
  const metadata: PackageMetadata = {
    packagingVersion: '4.0', name: options.name, version, maintainer: 'review', description: `image ${options.seed}`, tags: ['review'],
    resource: { assets: { container: { docker: { main: image } } } },
  } as PackageMetadata;
  const bundleManifest: BundleManifest = {
    formatVersion: 1, builtBy: 'review', package: { name: options.name, version }, resources: [],
    images: [{ ref: '/resource/assets/container/docker/main', image, repository: options.repository, ...(options.tag ? { tag: options.tag } : {}), digest: `sha256:${sha(manifest)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifest.length }],
  };
  await writer.finish(metadata, bundleManifest);
  const bytes = await readFile(path);
  await rm(directory, { recursive: true, force: true });
  return { bytes, manifestDigest: `sha256:${sha(manifest)}`, layerDigest: stored.sha256 };
}
