/**
 * What readers need of the published index objects without the writer (the read functions must
 * not carry the writer's validation: ajv and the Universe schemas): the metadata names, and the
 * whole document decoded for checks.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ObjectNotFoundError, readAllBytes, type ObjectStore } from '../../ports/object-store.ts';
import type { RepositoryDocument, RepoVersion } from '../index-document.ts';
import { mediaObjectKey } from '../layout.ts';

const gunzipAsync = promisify(gunzip);

/** Object metadata of the index objects, so health and maintenance can answer from a HEAD. */
export const INDEX_METADATA = {
  entries: 'entries',
  publicBaseUrl: 'public-base-url',
  dockerHost: 'docker-host',
  generation: 'generation',
  table: 'table',
} as const;

/** The whole published document, decoded: for checks (fsck, tests), never on a request path. */
export async function readPublishedDocument(store: ObjectStore, media: RepoVersion = 'v5'): Promise<{ document: RepositoryDocument; etag: string; metadata: Readonly<Record<string, string>> } | undefined> {
  try {
    const object = await store.get(mediaObjectKey(media));
    const bytes = await readAllBytes(object.body);
    return { document: JSON.parse((await gunzipAsync(bytes)).toString('utf8')) as RepositoryDocument, etag: object.etag, metadata: object.metadata };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

