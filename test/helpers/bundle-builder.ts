/**
 * Small, valid bundles for reader tests, as lists of crafted entries that a test can change one
 * at a time before packing them with craftZip.
 */
import { createHash } from 'node:crypto';
import type { BundleManifest } from '../../lib/bundle/bundle-layout.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';
import type { CraftedEntry } from './zip-crafter.ts';

export const ICON_BYTES = Buffer.from('icon bytes '.repeat(50));
export const ASSET_BYTES = Buffer.from('asset bytes '.repeat(400));

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function sampleMetadata(): PackageMetadata {
  return {
    packagingVersion: '4.0',
    name: 'sample',
    version: '1.0.0',
    maintainer: 'ops@example.com',
    description: 'A package for reader tests',
    tags: ['test'],
    marathon: { v2AppMustacheTemplate: Buffer.from('{"id":"{{service.name}}"}').toString('base64') },
    config: { type: 'object', properties: {} },
    resource: {
      assets: { uris: { 'asset-tgz': 'https://example.com/files/asset.tgz' } },
      images: { 'icon-small': 'https://example.com/icons/small.png' },
    },
  };
}

export function sampleManifest(): BundleManifest {
  return {
    formatVersion: 1,
    builtBy: 'test',
    package: { name: 'sample', version: '1.0.0' },
    resources: [
      { ref: '/resource/assets/uris/asset-tgz', url: 'https://example.com/files/asset.tgz', sha256: sha256(ASSET_BYTES), size: ASSET_BYTES.length, filename: 'asset.tgz', contentType: 'application/gzip' },
      { ref: '/resource/images/icon-small', url: 'https://example.com/icons/small.png', sha256: sha256(ICON_BYTES), size: ICON_BYTES.length, filename: 'small.png', contentType: 'image/png' },
    ],
    images: [],
  };
}

export function sampleBundleEntries(
  metadata: unknown = sampleMetadata(),
  manifest: unknown = sampleManifest(),
): CraftedEntry[] {
  return [
    { name: `resources/sha256/${sha256(ASSET_BYTES)}`, content: ASSET_BYTES },
    { name: `resources/sha256/${sha256(ICON_BYTES)}`, content: ICON_BYTES },
    { name: 'metadata.json', content: Buffer.from(JSON.stringify(metadata)), method: 8 },
    { name: 'manifest.json', content: Buffer.from(JSON.stringify(manifest)), method: 8 },
  ];
}
