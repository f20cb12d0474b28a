/**
 * The Docker side of publication: tags, tag lists and the catalog, precomputed so that no /v2/
 * request ever lists storage.
 *
 * Tags are a convenience for people (`docker pull <host>/redis:5.0.5`); `/repo` names every image
 * by digest, so no package depends on a tag. Many packages may publish one `repository:tag` with
 * different manifests (built on different days): the tag is *derived* from the published packages
 * that name it, and names the manifest of the latest one (highest releaseVersion). An owner
 * marker per package (`refs/tags/<repo>/@<tag>/<coord>`) finds those packages without reading
 * every record; a marker is believed only when the package's record still says so, and one that
 * does not is deleted, so markers can be lost or stale and the tags still come out right.
 * `fsck --repair` re-derives them all from the records.
 */
import { ObjectNotFoundError, readAllBytes } from '../ports/object-store.ts';
import type { RegistryContext } from './context.ts';
import { listAllKeys, readJson, updateJson, writeJson } from './json-objects.ts';
import { CATALOG_KEY, imageBlobKey, packageRecordKey, tagKey, tagListKey, tagOwnerKey, tagOwnersPrefix } from './layout.ts';
import type { PackageRecord, PublishedImage } from './records.ts';

export interface TagList {
  readonly name: string;
  readonly tags: readonly string[];
}

export interface Catalog {
  readonly repositories: readonly string[];
}

/** What an owner marker says: this package version publishes the tag with this manifest. */
export interface TagOwner {
  readonly coordinate: string;
  readonly contentDigest: string;
  readonly releaseVersion: number;
  readonly digest: string;
  readonly mediaType: string;
}

const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

/** What the owner marker of a package's image says. */
export function tagOwnerOf(coordinate: string, record: PackageRecord, image: PublishedImage, releaseVersion: number): TagOwner {
  return { coordinate, contentDigest: record.contentDigest, releaseVersion, digest: image.digest, mediaType: image.mediaType };
}

/** Records the package as an owner of each of its tags, then re-derives those tags. */
export async function publishTags(context: RegistryContext, coordinate: string, record: PackageRecord, releaseVersion: number): Promise<void> {
  for (const image of record.images ?? []) {
    if (image.tag) {
      await writeJson(context.store, tagOwnerKey(image.repository, image.tag, coordinate), tagOwnerOf(coordinate, record, image, releaseVersion));
      await deriveTag(context, image.repository, image.tag);
    } else {
      // Pinned by digest only: the repository still shows in the catalog.
      await ensureListed(context, image.repository, undefined);
    }
  }
}

/** Drops the package's ownership of its tags and re-derives them (the next latest owner, or none). */
export async function unpublishTags(context: RegistryContext, coordinate: string, images: readonly PublishedImage[]): Promise<void> {
  for (const image of images) {
    if (!image.tag) continue;
    await context.store.delete(tagOwnerKey(image.repository, image.tag, coordinate));
    await deriveTag(context, image.repository, image.tag);
  }
}

/** The owners whose records still publish the tag, latest first; stale markers are deleted. */
export async function liveTagOwners(context: RegistryContext, repository: string, tag: string): Promise<TagOwner[]> {
  const owners: TagOwner[] = [];
  for (const key of await listAllKeys(context.store, tagOwnersPrefix(repository, tag))) {
    const owner = (await readJson<TagOwner>(context.store, key))?.value;
    const record = owner ? (await readJson<PackageRecord>(context.store, packageRecordKey(owner.coordinate)))?.value : undefined;
    const stillPublishes =
      owner !== undefined &&
      record !== undefined &&
      record.contentDigest === owner.contentDigest &&
      (record.status === 'Added' || record.status === 'Processing') &&
      (record.images ?? []).some((image) => image.repository === repository && image.tag === tag && image.digest === owner.digest);
    if (stillPublishes) owners.push(owner);
    else await context.store.delete(key);
  }
  return owners.sort((a, b) => b.releaseVersion - a.releaseVersion || a.coordinate.localeCompare(b.coordinate));
}

/** Makes the tag object, the tag list and the catalog agree with the tag's live owners. */
export async function deriveTag(context: RegistryContext, repository: string, tag: string): Promise<void> {
  const [latest] = await liveTagOwners(context, repository, tag);
  if (!latest) {
    await context.store.delete(tagKey(repository, tag));
    await ensureUnlisted(context, repository, tag);
    return;
  }
  const current = await context.store.head(tagKey(repository, tag));
  if (current?.metadata.digest !== latest.digest) {
    let manifest: Buffer;
    try {
      manifest = await readAllBytes((await context.store.get(imageBlobKey(hexOf(latest.digest)))).body);
    } catch (error) {
      // The owner's manifest is not stored: the package is damaged (fsck reports it); no tag.
      if (!(error instanceof ObjectNotFoundError)) throw error;
      context.log.warn('tag not published: its manifest is missing', { repository, tag, digest: latest.digest });
      return;
    }
    await context.store.put(tagKey(repository, tag), manifest, { contentType: latest.mediaType, metadata: { digest: latest.digest } });
  }
  await ensureListed(context, repository, tag);
}

async function ensureListed(context: RegistryContext, repository: string, tag: string | undefined): Promise<void> {
  await updateJson<TagList>(context.store, tagListKey(repository), (current) => {
    const tags = new Set(current?.tags ?? []);
    if (current && (tag === undefined || tags.has(tag))) return undefined;
    if (tag !== undefined) tags.add(tag);
    return { name: repository, tags: [...tags].sort() };
  });
  await updateJson<Catalog>(context.store, CATALOG_KEY, (current) => {
    const repositories = new Set(current?.repositories ?? []);
    if (repositories.has(repository)) return undefined;
    repositories.add(repository);
    return { repositories: [...repositories].sort() };
  });
}

async function ensureUnlisted(context: RegistryContext, repository: string, tag: string): Promise<void> {
  let emptied = false;
  await updateJson<TagList>(context.store, tagListKey(repository), (current) => {
    if (!current || !current.tags.includes(tag)) return undefined;
    const tags = current.tags.filter((existing) => existing !== tag);
    emptied = tags.length === 0;
    return { name: repository, tags };
  });
  if (!emptied) return;
  await context.store.delete(tagListKey(repository));
  await updateJson<Catalog>(context.store, CATALOG_KEY, (current) =>
    current && current.repositories.includes(repository) ? { repositories: current.repositories.filter((existing) => existing !== repository) } : undefined,
  );
}
