/**
 * The places in a package's metadata that name a file to download or an image to pull, in the
 * order the original `build` fetched them: assets.uris, images (icons, then screenshots), CLI
 * binaries. Each carries the JSON Pointer that the bundle manifest records.
 */
import { pointerOf } from './json-pointer.ts';
import type { CliPlatform, PackageMetadata } from './package-model.ts';

export type AssetKind = 'asset' | 'image' | 'cli';

export interface AssetReference {
  readonly kind: AssetKind;
  readonly pointer: string;
  readonly url: string;
  /** For CLI binaries: the sha256 the package promises (lower-case hex). */
  readonly expectedSha256?: string;
}

export interface DockerImageReference {
  readonly pointer: string;
  readonly alias: string;
  readonly image: string;
}

const ICON_KEYS = ['icon-small', 'icon-medium', 'icon-large'] as const;

export function assetReferences(metadata: Pick<PackageMetadata, 'resource'>): AssetReference[] {
  const resource = metadata.resource;
  if (!resource) return [];
  const references: AssetReference[] = [];
  for (const [alias, url] of Object.entries(resource.assets?.uris ?? {})) {
    references.push({ kind: 'asset', pointer: pointerOf(['resource', 'assets', 'uris', alias]), url });
  }
  const images = resource.images;
  if (images) {
    for (const key of ICON_KEYS) {
      const url = images[key];
      if (url !== undefined) references.push({ kind: 'image', pointer: pointerOf(['resource', 'images', key]), url });
    }
    (images.screenshots ?? []).forEach((url, index) => {
      references.push({ kind: 'image', pointer: pointerOf(['resource', 'images', 'screenshots', index]), url });
    });
  }
  for (const [platform, binary] of Object.entries(resource.cli?.binaries ?? {}) as [CliPlatform, { 'x86-64': { url: string; contentHash: readonly { algo: string; value: string }[] } }][]) {
    const cli = binary['x86-64'];
    const sha256 = cli.contentHash.find((hash) => hash.algo === 'sha256')?.value.toLowerCase();
    references.push({
      kind: 'cli',
      pointer: pointerOf(['resource', 'cli', 'binaries', platform, 'x86-64', 'url']),
      url: cli.url,
      ...(sha256 === undefined ? {} : { expectedSha256: sha256 }),
    });
  }
  return references;
}

export function dockerImageReferences(metadata: Pick<PackageMetadata, 'resource'>): DockerImageReference[] {
  return Object.entries(metadata.resource?.assets?.container?.docker ?? {}).map(([alias, image]) => ({
    pointer: pointerOf(['resource', 'assets', 'container', 'docker', alias]),
    alias,
    image,
  }));
}
