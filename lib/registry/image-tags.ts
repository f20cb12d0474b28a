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
 * does not is deleted. A marker can still be lost (two writers on one version), and a publication
 * can fail half-way: every collection re-derives all tags from the records (rederiveTags), as
 * `fsck --repair` does, so what is wrong heals within a collection interval
 * (test/fault/adversarial-tags.test.ts).
 */
import { digestHex } from '../images/media-types.ts';
import { ObjectNotFoundError, PreconditionFailedError, readAllBytes } from '../ports/object-store.ts';
import type { RegistryContext } from './context.ts';
import { listAllKeys, readJson, updateJson, writeJson } from './json-objects.ts';
import type { StoredRecord } from './maintenance/live-set.ts';
import { CATALOG_KEY, DOCKER_REPOSITORIES_PREFIX, imageBlobKey, packageRecordKey, tagKey, tagListKey, tagOwnerKey, tagOwnersPrefix } from './layout.ts';
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
    }
    // Pinned by digest only: nothing to list (the catalog and tag lists show tags; a digest pull
    // needs neither).
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

/** Live owners whose manifest is stored, latest first: one whose manifest is gone (a damaged package, fsck reports it) names no tag. */
async function servableOwners(context: RegistryContext, repository: string, tag: string): Promise<TagOwner[]> {
  const owners: TagOwner[] = [];
  for (const owner of await liveTagOwners(context, repository, tag)) if (await context.store.head(imageBlobKey(digestHex(owner.digest)))) owners.push(owner);
  return owners;
}

/**
 * Makes the tag object, the tag list and the catalog agree with the tag's live owners. The tag
 * object is replaced by compare-and-swap on what was read before the owners were: two writers
 * deriving one tag at once (a removal and a publish on two instances) cannot leave the older
 * view, the loser derives again.
 */
export async function deriveTag(context: RegistryContext, repository: string, tag: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await context.store.head(tagKey(repository, tag));
    const [latest] = await servableOwners(context, repository, tag);
    if (!latest) {
      await context.store.delete(tagKey(repository, tag));
      // An owner that appeared meanwhile wrote the tag before this delete: derive once more.
      if ((await servableOwners(context, repository, tag)).length > 0) continue;
      await ensureUnlisted(context, repository, tag);
      return;
    }
    if (current?.metadata.digest !== latest.digest) {
      let manifest: Buffer;
      try {
        manifest = await readAllBytes((await context.store.get(imageBlobKey(digestHex(latest.digest)))).body);
      } catch (error) {
        // Deleted since servableOwners looked: derive again without it.
        if (!(error instanceof ObjectNotFoundError)) throw error;
        context.log.warn('tag owner skipped: its manifest went missing', { repository, tag, digest: latest.digest });
        continue;
      }
      try {
        await context.store.put(tagKey(repository, tag), manifest, {
          contentType: latest.mediaType,
          metadata: { digest: latest.digest },
          ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
        });
      } catch (error) {
        if (error instanceof PreconditionFailedError) continue;
        throw error;
      }
    }
    await ensureListed(context, repository, tag);
    return;
  }
  throw new Error(`too much contention on the tag ${repository}:${tag}`);
}

/**
 * What the Docker side must say, from the Added records alone: each repository's tags, each
 * tag's latest publisher (highest releaseVersion), and the owner marker of every tagged image.
 */
export function expectedDockerState(records: readonly StoredRecord[]): {
  tags: Map<string, TagOwner>;
  lists: Map<string, Set<string>>;
  owners: Map<string, TagOwner>;
} {
  const tags = new Map<string, TagOwner>();
  const lists = new Map<string, Set<string>>();
  const owners = new Map<string, TagOwner>();
  for (const { coordinate, record } of records) {
    if (record.status !== 'Added') continue;
    for (const image of record.images ?? []) {
      if (!image.tag) continue;
      const listed = lists.get(image.repository) ?? new Set<string>();
      lists.set(image.repository, listed.add(image.tag));
      const owner = tagOwnerOf(coordinate, record, image, record.releaseVersion ?? 0);
      owners.set(tagOwnerKey(image.repository, image.tag, coordinate), owner);
      const repositoryTag = `${image.repository}:${image.tag}`;
      const latest = tags.get(repositoryTag);
      if (!latest || owner.releaseVersion > latest.releaseVersion) tags.set(repositoryTag, owner);
    }
  }
  return { tags, lists, owners };
}

/** Every stored tag (`repo:tag`) and every tag a stored tag list names. */
export async function storedTags(context: RegistryContext): Promise<{ tags: Map<string, string>; lists: Map<string, readonly string[]> }> {
  const tags = new Map<string, string>();
  const lists = new Map<string, readonly string[]>();
  for (const key of await listAllKeys(context.store, DOCKER_REPOSITORIES_PREFIX)) {
    const rest = key.slice(DOCKER_REPOSITORIES_PREFIX.length);
    const tagAt = rest.lastIndexOf('/_tags/');
    if (tagAt > 0) tags.set(`${rest.slice(0, tagAt)}:${rest.slice(tagAt + '/_tags/'.length)}`, (await context.store.head(key))?.metadata.digest ?? '');
    else if (rest.endsWith('/_tags.json')) lists.set(rest.slice(0, -'/_tags.json'.length), (await readJson<TagList>(context.store, key))?.value.tags ?? []);
  }
  return { tags, lists };
}

/**
 * Derives every tag, tag list and the catalog again from the records: what a publish or removal
 * that failed half-way, or two writers deriving the same tag at once, left wrong is put right.
 * Collections run it, so the Docker side heals on its own; fsck --repair runs it too.
 */
export async function rederiveTags(context: RegistryContext, records: readonly StoredRecord[]): Promise<void> {
  const expected = expectedDockerState(records);
  // Markers of Added packages that went missing (a marker is checked against its record when read).
  for (const [key, owner] of expected.owners) if (!(await context.store.head(key))) await writeJson(context.store, key, owner);
  const stored = await storedTags(context);
  const names = new Set([...expected.tags.keys(), ...stored.tags.keys()]);
  for (const [repository, tags] of stored.lists) for (const tag of tags) names.add(`${repository}:${tag}`);
  for (const repositoryTag of names) {
    const at = repositoryTag.lastIndexOf(':');
    await deriveTag(context, repositoryTag.slice(0, at), repositoryTag.slice(at + 1));
  }
  // The catalog: the repositories whose tag list has a tag.
  const repositories: string[] = [];
  for (const key of (await listAllKeys(context.store, DOCKER_REPOSITORIES_PREFIX)).filter((name) => name.endsWith('/_tags.json'))) {
    const repository = key.slice(DOCKER_REPOSITORIES_PREFIX.length, -'/_tags.json'.length);
    const list = (await readJson<TagList>(context.store, tagListKey(repository)))?.value;
    if (list && list.tags.length > 0) repositories.push(repository);
    else await context.store.delete(tagListKey(repository));
  }
  repositories.sort();
  await updateJson<Catalog>(context.store, CATALOG_KEY, (current) =>
    current && current.repositories.join(',') === repositories.join(',') ? undefined : { repositories },
  );
}

async function ensureListed(context: RegistryContext, repository: string, tag: string): Promise<void> {
  await updateJson<TagList>(context.store, tagListKey(repository), (current) => {
    const tags = new Set(current?.tags ?? []);
    if (current && tags.has(tag)) return undefined;
    tags.add(tag);
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
