/**
 * The published repository object: read it, and replace it with a compare-and-swap so that two
 * writers (a redelivered job, a second self-hosted instance) can never lose each other's entries.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { RegistryError } from '../domain/errors.ts';
import { ObjectNotFoundError, PreconditionFailedError, readAllBytes, type ObjectStore } from '../ports/object-store.ts';
import { schemaErrors } from '../universe/schema-registry.ts';
import type { JsonObject } from '../universe/package-model.ts';
import { highestMinDcos, REPO_MEDIA_TYPE_PREFIX, sortEntries, type RepositoryDocument } from './index-document.ts';
import { INDEX_KEY } from './layout.ts';

export interface PublishedIndex {
  readonly document: RepositoryDocument;
  readonly etag: string;
  readonly publicBaseUrl: string;
}

/** Object metadata of the index, so health and /repo can answer without parsing the document. */
export const INDEX_METADATA = { entries: 'entries', maxMinDcos: 'max-min-dcos', publicBaseUrl: 'public-base-url', dockerHost: 'docker-host' } as const;

export async function readPublishedIndex(store: ObjectStore): Promise<PublishedIndex | undefined> {
  try {
    const object = await store.get(INDEX_KEY);
    const document = JSON.parse(gunzipSync(await readAllBytes(object.body)).toString('utf8')) as RepositoryDocument;
    return { document, etag: object.etag, publicBaseUrl: object.metadata[INDEX_METADATA.publicBaseUrl] ?? '' };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Applies `change` to the current entries and publishes the result, retrying from a fresh read
 * whenever another writer published in between. `change` runs after each read of the index, so
 * whatever it reads (a package record, the fragments) is at least as new as that index: a writer
 * that re-checks the record there can never add an entry that a removal already took out. It
 * returns undefined to publish nothing. The document is validated against the v5 repo schema
 * before it is published: a broken index is never served.
 */
export async function updatePublishedIndex(
  store: ObjectStore,
  hosts: { readonly publicBaseUrl: string; readonly dockerHost: string },
  change: (entries: JsonObject[], current: PublishedIndex | undefined) => JsonObject[] | undefined | Promise<JsonObject[] | undefined>,
  options: { validate: 'all' | ((entries: readonly JsonObject[]) => readonly JsonObject[]) } = { validate: 'all' },
): Promise<{ entries: number; bytes: number; published: boolean }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const current = await readPublishedIndex(store);
    const changed = await change([...(current?.document.packages ?? [])], current);
    if (changed === undefined) return { entries: current?.document.packages.length ?? 0, bytes: 0, published: false };
    const entries = sortEntries(changed);
    const toValidate = options.validate === 'all' ? entries : options.validate(entries);
    const errors = schemaErrors('v5-repo', { packages: toValidate });
    if (errors.length > 0) {
      throw new RegistryError('InvalidIndex', `The repository would not be valid, so it was not published:\n  ${errors.join('\n  ')}`, { errors }, { source: 'internal' });
    }
    const body = gzipSync(Buffer.from(JSON.stringify({ packages: entries })), { level: 6 });
    try {
      await store.put(INDEX_KEY, body, {
        contentType: `${REPO_MEDIA_TYPE_PREFIX}v5`,
        contentEncoding: 'gzip',
        metadata: {
          [INDEX_METADATA.entries]: String(entries.length),
          [INDEX_METADATA.maxMinDcos]: highestMinDcos(entries),
          [INDEX_METADATA.publicBaseUrl]: hosts.publicBaseUrl,
          [INDEX_METADATA.dockerHost]: hosts.dockerHost,
        },
        ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
      });
      return { entries: entries.length, bytes: body.length, published: true };
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
    }
  }
  throw new RegistryError('IndexContention', 'The repository index is being changed too often to publish; try again', {}, { source: 'internal' });
}
