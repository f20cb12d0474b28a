/** Writes a bundle holding one image whose single layer has `layerBytes` bytes (for benchmarks). */
import { createHash, randomBytes } from 'node:crypto';
import { BundleWriter } from '../../lib/bundle/bundle-writer.ts';
import type { BundleManifest } from '../../lib/bundle/bundle-layout.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';

const MiB = 1024 * 1024;
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export async function writeImageBundle(path: string, layerBytes: number): Promise<void> {
  const writer = await BundleWriter.create(path, { overwrite: true });
  const layer = await writer.beginImageBlob();
  const block = randomBytes(MiB);
  for (let written = 0; written < layerBytes; written += MiB) {
    block.writeUInt32LE(written / MiB, 0);
    await layer.write(block.subarray(0, Math.min(MiB, layerBytes - written)));
  }
  const stored = await layer.complete();
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${stored.sha256}`] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${stored.sha256}`, size: layerBytes }],
    }),
  );
  for (const blob of [config, manifest]) {
    const upload = await writer.beginImageBlob();
    await upload.write(blob);
    await upload.complete();
  }
  const metadata: PackageMetadata = {
    packagingVersion: '4.0', name: 'bench-image', version: '1.0.0', maintainer: 'bench', description: 'benchmark', tags: ['bench'],
    resource: { assets: { container: { docker: { big: 'bench/big:1' } } } },
  };
  const bundleManifest: BundleManifest = {
    formatVersion: 1, builtBy: 'bench', package: { name: 'bench-image', version: '1.0.0' }, resources: [],
    images: [{ ref: '/resource/assets/container/docker/big', image: 'bench/big:1', repository: 'bench/big', tag: '1', digest: `sha256:${sha(manifest)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifest.length }],
  };
  await writer.finish(metadata, bundleManifest);
}
