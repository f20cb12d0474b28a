/**
 * The Docker side of publication: tags point at manifests, and the tag lists and the catalog are
 * precomputed here, so that no /v2/ request ever lists storage. Tags can be shared by packages
 * (two packages using redis:5.0.5): ownership markers say who publishes a tag, and a tag goes only
 * when its last owner does.
 */
import { readAllBytes } from '../ports/object-store.ts';
import type { RegistryContext } from './context.ts';
import { updateJson } from './json-objects.ts';
import { CATALOG_KEY, imageBlobKey, tagKey, tagListKey, tagOwnerKey, tagOwnersPrefix } from './layout.ts';
import type { PublishedImage } from './records.ts';

export interface TagList {
  readonly name: string;
  readonly tags: readonly string[];
}

export interface Catalog {
  readonly repositories: readonly string[];
}

const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

export async function publishTags(context: RegistryContext, coordinate: string, images: readonly PublishedImage[]): Promise<void> {
  for (const image of images) {
    if (image.tag) {
      await context.store.put(tagOwnerKey(image.repository, image.tag, coordinate), new Uint8Array(0));
      const manifest = await readAllBytes((await context.store.get(imageBlobKey(hexOf(image.digest)))).body);
      await context.store.put(tagKey(image.repository, image.tag), manifest, { contentType: image.mediaType, metadata: { digest: image.digest } });
    }
    const tag = image.tag;
    await updateJson<TagList>(context.store, tagListKey(image.repository), (current) => {
      const tags = new Set(current?.tags ?? []);
      if (current && (tag === undefined || tags.has(tag))) return undefined;
      if (tag !== undefined) tags.add(tag);
      return { name: image.repository, tags: [...tags].sort() };
    });
    await updateJson<Catalog>(context.store, CATALOG_KEY, (current) => {
      const repositories = new Set(current?.repositories ?? []);
      if (repositories.has(image.repository)) return undefined;
      repositories.add(image.repository);
      return { repositories: [...repositories].sort() };
    });
  }
}

export async function unpublishTags(context: RegistryContext, coordinate: string, images: readonly PublishedImage[]): Promise<void> {
  for (const image of images) {
    if (!image.tag) continue;
    const tag = image.tag;
    await context.store.delete(tagOwnerKey(image.repository, tag, coordinate));
    const owners = await context.store.list(tagOwnersPrefix(image.repository, tag), { limit: 1 });
    if (owners.objects.length > 0) continue;
    await context.store.delete(tagKey(image.repository, tag));
    let emptied = false;
    await updateJson<TagList>(context.store, tagListKey(image.repository), (current) => {
      if (!current || !current.tags.includes(tag)) return undefined;
      const tags = current.tags.filter((existing) => existing !== tag);
      emptied = tags.length === 0;
      return { name: image.repository, tags };
    });
    if (!emptied) continue;
    await context.store.delete(tagListKey(image.repository));
    await updateJson<Catalog>(context.store, CATALOG_KEY, (current) =>
      current && current.repositories.includes(image.repository)
        ? { repositories: current.repositories.filter((repository) => repository !== image.repository) }
        : undefined,
    );
  }
}
