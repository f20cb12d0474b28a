/**
 * A bundle's images as the registry serves them. A multi-platform index whose children are not
 * all in the bundle (a build for some platforms of an image that has more) is never served as it
 * is: a client on a missing platform would follow its digest into `manifest unknown`. It is
 * replaced, at ingest, by the index reduced to the children the bundle holds (images/platforms.ts),
 * stored under its own digest; the package's image references, tags and /repo entry then name
 * that digest. An index with all its children is served under the source's digest.
 */
import type { Bundle } from '../bundle/bundle-reader.ts';
import type { ManifestImage } from '../bundle/bundle-layout.ts';
import { digestHex, MANIFEST_LISTS } from '../images/media-types.ts';
import { reduceIndex } from '../images/platforms.ts';
import { readAllBytes } from '../ports/object-store.ts';

export interface ServedImages {
  readonly images: readonly ManifestImage[];
  /** Reduced indexes made here (sha256 hex → bytes and media type): stored beside the bundle's blobs. */
  readonly reduced: ReadonlyMap<string, { readonly bytes: Buffer; readonly mediaType: string }>;
  /** Source indexes a reduced one stands for (sha256 hex): not stored, so never served by digest either. */
  readonly replaced: ReadonlySet<string>;
  /** Manifests left out of a reduced index (sha256 hex → platform, image): for the error a pull of one gets. */
  readonly omitted: ReadonlyMap<string, OmittedManifest>;
}

/** What a pull of a manifest the bundle was built without is told (serve-images.ts). */
export interface OmittedManifest {
  readonly platform: string;
  readonly image: string;
}

export async function servedImages(bundle: Bundle): Promise<ServedImages> {
  const reduced = new Map<string, { bytes: Buffer; mediaType: string }>();
  const replaced = new Set<string>();
  const omitted = new Map<string, OmittedManifest>();
  const byTop = new Map<string, { digest: string; size: number }>();
  const images: ManifestImage[] = [];
  for (const image of bundle.manifest.images) {
    if (!MANIFEST_LISTS.has(image.mediaType)) {
      images.push(image);
      continue;
    }
    let served = byTop.get(image.digest);
    if (!served) {
      // Indexes are small (the bundle reader bounds manifests): read whole.
      const source = Buffer.from(await readAllBytes(bundle.imageBlobStream(digestHex(image.digest))));
      const index = reduceIndex(source, (digest) => bundle.imageBlobs.has(digestHex(digest)));
      served = index ? { digest: index.digest, size: index.bytes.length } : { digest: image.digest, size: image.size };
      if (index) {
        reduced.set(digestHex(index.digest), { bytes: index.bytes, mediaType: image.mediaType });
        replaced.add(digestHex(image.digest));
        for (const child of index.omitted) omitted.set(digestHex(child.digest), { platform: child.platform, image: image.image });
      }
      byTop.set(image.digest, served);
    }
    images.push({ ...image, digest: served.digest, size: served.size });
  }
  return { images, reduced, replaced, omitted };
}
