/**
 * The read-only Docker Registry HTTP API v2 (`/v2/`), what every agent's Docker pulls from.
 * One storage read per request on the common paths (tag → manifest copy; digest → blob), no
 * listing: tag lists and the catalog are precomputed at publication. Errors use the distribution
 * spec's codes; every write method answers 405 UNSUPPORTED.
 */
import { isRepositoryName, isTag } from '../images/image-reference.ts';
import { ALL_MANIFESTS, OCI_INDEX } from '../images/media-types.ts';
import { discardBody, ObjectNotFoundError, readAllBytes, type StoredObject } from '../ports/object-store.ts';
import type { RegistryContext } from './context.ts';
import type { Catalog, TagList } from './image-tags.ts';
import { readJson } from './json-objects.ts';
import { CATALOG_KEY, imageBlobKey, omittedManifestKey, tagKey, tagListKey } from './layout.ts';
import type { OmittedManifest } from './served-images.ts';
import { parseByteRange } from '../http/byte-range.ts';
import type { Reply } from './serve.ts';

export const API_VERSION_HEADER = { 'docker-distribution-api-version': 'registry/2.0' };

export type DistributionErrorCode = 'NAME_UNKNOWN' | 'NAME_INVALID' | 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'DIGEST_INVALID' | 'UNSUPPORTED' | 'PAGINATION_NUMBER_INVALID';

export class DistributionError extends Error {
  constructor(
    readonly status: number,
    readonly code: DistributionErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DistributionError';
  }

  toReply(): Reply {
    return {
      kind: 'body',
      status: this.status,
      headers: { ...API_VERSION_HEADER, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ errors: [{ code: this.code, message: this.message, detail: this.detail }] })),
    };
  }
}

const DIGEST = /^sha256:([a-f0-9]{64})$/;

type Route =
  | { readonly kind: 'base' }
  | { readonly kind: 'catalog' }
  | { readonly kind: 'manifest'; readonly name: string; readonly reference: string }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: string }
  | { readonly kind: 'referrers'; readonly name: string; readonly digest: string }
  | { readonly kind: 'tags'; readonly name: string };

/** What `/v2/<path>` asks for; names may have several segments. */
export function parseDistributionPath(path: string): Route {
  if (path === '' || path === '/') return { kind: 'base' };
  if (path === '_catalog') return { kind: 'catalog' };
  const match = /^(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(path) ?? /^(.+)\/(tags)\/(list)$/.exec(path);
  if (!match) throw new DistributionError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { path });
  const [, name, kind, reference] = match as unknown as [string, string, string, string];
  if (!isRepositoryName(name)) throw new DistributionError(400, 'NAME_INVALID', 'invalid repository name', { name });
  if (kind === 'tags') return { kind: 'tags', name };
  if (kind === 'blobs' || kind === 'referrers') {
    if (!DIGEST.test(reference)) throw new DistributionError(400, 'DIGEST_INVALID', 'provided digest did not match uploaded content', { digest: reference });
    return { kind: kind === 'blobs' ? 'blob' : 'referrers', name, digest: reference };
  }
  // No manifest can have a tag that is not one (the spec's conformance tests ask for exactly 404
  // MANIFEST_UNKNOWN here); such a reference never reaches storage.
  if (!DIGEST.test(reference) && !isTag(reference)) throw new DistributionError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { Tag: reference.slice(0, 200) });
  return { kind: 'manifest', name, reference };
}

export interface DistributionRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The Range header, for blobs. */
  readonly range?: string;
}

export async function serveDistribution(context: RegistryContext, request: DistributionRequest): Promise<Reply> {
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new DistributionError(405, 'UNSUPPORTED', 'this registry is read-only: push packages with dcos-registry add', { method: request.method });
    }
    const route = parseDistributionPath(request.path);
    const head = request.method === 'HEAD';
    switch (route.kind) {
      case 'base':
        return json(200, {});
      case 'catalog': {
        const catalog = (await readJson<Catalog>(context.store, CATALOG_KEY))?.value ?? { repositories: [] };
        return paginated(request, catalog.repositories, 'repositories', (page) => ({ repositories: page }), '/v2/_catalog');
      }
      case 'tags': {
        const list = await readJson<TagList>(context.store, tagListKey(route.name));
        if (!list) throw nameUnknown(route.name);
        return paginated(request, list.value.tags, 'tags', (page) => ({ name: route.name, tags: page }), `/v2/${route.name}/tags/list`);
      }
      case 'manifest':
        return await serveManifest(context, route.name, route.reference, head);
      case 'blob':
        return await serveBlob(context, route.name, route.digest, head, request.range);
      case 'referrers':
        return serveReferrers(request.query.artifactType);
    }
  } catch (error) {
    if (error instanceof DistributionError) return error.toReply();
    throw error;
  }
}

async function serveManifest(context: RegistryContext, name: string, reference: string, head: boolean): Promise<Reply> {
  const byDigest = DIGEST.exec(reference);
  const object = await getOrUndefined(context, byDigest ? imageBlobKey(byDigest[1]!) : tagKey(name, reference));
  if (!object || !ALL_MANIFESTS.includes(object.contentType ?? '')) {
    if (object) discardBody(object.body);
    if (byDigest) {
      // A platform some bundle was built without: say which (only on this error path).
      const omitted = (await readJson<OmittedManifest>(context.store, omittedManifestKey(byDigest[1]!)))?.value;
      if (omitted) {
        throw new DistributionError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${reference} is the ${omitted.platform} image of ${omitted.image}, which no package here was built with (build it with --platform ${omitted.platform} or --platform all)`, { Digest: reference, Platform: omitted.platform });
      }
    }
    // Tell an unknown repository from an unknown tag (only on this error path: a second read).
    if (!(await context.store.head(tagListKey(name)))) throw nameUnknown(name);
    throw new DistributionError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', byDigest ? { Digest: reference } : { Tag: reference });
  }
  const digest = byDigest ? reference : (object.metadata.digest ?? '');
  const headers = { ...API_VERSION_HEADER, 'content-type': object.contentType!, 'docker-content-digest': digest, etag: `"${digest}"`, 'content-length': String(object.size) };
  if (head) {
    discardBody(object.body);
    return { kind: 'body', status: 200, headers, body: Buffer.alloc(0) };
  }
  return { kind: 'body', status: 200, headers, body: await readAllBytes(object.body) };
}

/**
 * Bundles carry no signatures or SBOMs as OCI artifacts, so no manifest has referrers. A registry
 * that has the API must not answer it 404, whatever the subject (a package may pin its image by
 * digest and publish no tag, and a subject need not exist yet): an empty index, from no storage read.
 */
function serveReferrers(artifactType: string | undefined): Reply {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
  return {
    kind: 'body',
    status: 200,
    headers: { ...API_VERSION_HEADER, 'content-type': OCI_INDEX, 'content-length': String(body.length), ...(artifactType !== undefined ? { 'oci-filters-applied': 'artifactType' } : {}) },
    body,
  };
}

async function serveBlob(context: RegistryContext, name: string, digest: string, head: boolean, rangeHeader?: string): Promise<Reply> {
  const hex = DIGEST.exec(digest)![1]!;
  const object = await getOrUndefined(context, imageBlobKey(hex));
  if (!object) throw new DistributionError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest, name });
  const headers = {
    ...API_VERSION_HEADER,
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    etag: `"${digest}"`,
    'content-length': String(object.size),
    'accept-ranges': 'bytes',
  };
  if (head) {
    discardBody(object.body);
    return { kind: 'body', status: 200, headers, body: Buffer.alloc(0) };
  }
  // A host that streams (the embedded server) sends any blob itself, from storage to the socket;
  // the inline limit is a Lambda's (its response is one buffer): above it, a redirect.
  if (!context.settings.streamResponses && object.size > context.settings.maxInlineResponseBytes) {
    // The URL must outlive a slow pull of the largest layer: the download lifetime (6 h default).
    const location = await context.store.presign('GET', imageBlobKey(hex), {
      expiresIn: context.settings.downloadUrlLifetimeSeconds,
      responseContentType: 'application/octet-stream',
    });
    if (location) {
      discardBody(object.body);
      return { kind: 'redirect', location, headers: { ...API_VERSION_HEADER, 'docker-content-digest': digest } };
    }
  }
  return rangedReply(context, imageBlobKey(hex), object, headers, rangeHeader, () => new RangeNotSatisfiable(object.size).toReply());
}

/**
 * A stored object as the answer, whole (200) or the one range asked for (206, read as a range
 * from storage): streamed where the host streams, gathered otherwise (then it is at most the
 * inline limit, checked by the caller).
 */
export async function rangedReply(
  context: RegistryContext,
  key: string,
  object: StoredObject,
  headers: Record<string, string>,
  rangeHeader: string | undefined,
  unsatisfiable: () => Reply,
): Promise<Reply> {
  const range = parseByteRange(rangeHeader, object.size);
  if (range === 'unsatisfiable') {
    discardBody(object.body);
    return unsatisfiable();
  }
  let body = object.body;
  let status = 200;
  let sent = headers;
  if (range) {
    discardBody(object.body);
    body = (await context.store.get(key, { range })).body;
    status = 206;
    sent = { ...headers, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${object.size}` };
  }
  if (context.settings.streamResponses) return { kind: 'stream', status, headers: sent, body };
  return { kind: 'body', status, headers: sent, body: await readAllBytes(body) };
}

/** 416, with the size a client needs to ask again. */
class RangeNotSatisfiable extends DistributionError {
  constructor(readonly size: number) {
    super(416, 'BLOB_UNKNOWN', 'requested range not satisfiable', { size });
  }
  override toReply(): Reply {
    return { kind: 'body', status: 416, headers: { ...API_VERSION_HEADER, 'content-range': `bytes */${this.size}`, 'content-length': '0' }, body: Buffer.alloc(0) };
  }
}

function paginated<T extends string>(
  request: DistributionRequest,
  items: readonly T[],
  _label: string,
  shape: (page: readonly T[]) => unknown,
  path: string,
): Reply {
  const last = request.query.last;
  const after = last === undefined ? items : items.filter((item) => item > last);
  const rawN = request.query.n;
  if (rawN === undefined) return json(200, shape(after));
  const n = Number(rawN);
  if (!Number.isInteger(n) || n < 0) throw new DistributionError(400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: rawN });
  const page = after.slice(0, n);
  const more = after.length > n && page.length > 0;
  return json(200, shape(page), more ? { link: `<${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"` } : {});
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { kind: 'body', status, headers: { ...API_VERSION_HEADER, 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(body)) };
}

function nameUnknown(name: string): DistributionError {
  return new DistributionError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
}

async function getOrUndefined(context: RegistryContext, key: string): Promise<StoredObject | undefined> {
  try {
    return await context.store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}
