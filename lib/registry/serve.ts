/**
 * The read side that clusters use: health, the repository for Cosmos (spec §6.4), and resources.
 * Each answers with at most one storage call on the common path, and never lists storage.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { discardBody, ObjectNotFoundError, readAllBytes } from '../ports/object-store.ts';
import { decodeCoordinate } from '../universe/coordinate.ts';
import type { RegistryContext } from './context.ts';
import { compareDcosVersions, REPO_MEDIA_TYPE_PREFIX, repositoryVariant, type RepoVersion, type RepositoryDocument } from './index-document.ts';
import { INDEX_KEY, resourceKey } from './layout.ts';
import { NotFoundError } from './registry-errors.ts';
import { INDEX_METADATA } from './repository-index.ts';

/** A transport-neutral answer: the handler turns it into an API Gateway result. */
export type Reply =
  | { readonly kind: 'body'; readonly status: number; readonly headers: Record<string, string>; readonly body: Buffer }
  | { readonly kind: 'redirect'; readonly location: string; readonly headers?: Record<string, string> }
  | { readonly kind: 'not-modified'; readonly headers: Record<string, string> };

export interface HealthReport {
  readonly healthy: boolean;
  readonly body: { checks: Record<string, { Healthy?: { message: string }; Unhealthy?: { message: string } }> };
}

export async function checkHealth(context: RegistryContext): Promise<HealthReport> {
  try {
    const index = await context.store.head(INDEX_KEY);
    const count = Number(index?.metadata[INDEX_METADATA.entries] ?? 0);
    return { healthy: true, body: { checks: { '/repo': { Healthy: { message: `Able to find ${count} package(s).` } } } } };
  } catch (error) {
    context.log.error('health check failed', { error });
    return { healthy: false, body: { checks: { '/repo': { Unhealthy: { message: `Unable to read the repository: ${(error as Error).message}` } } } } };
  }
}

export interface RepositoryRequest {
  readonly accept: string | undefined;
  readonly acceptEncoding: string | undefined;
  readonly userAgent: string | undefined;
  readonly ifNoneMatch: string | undefined;
}

/** The repository media-type version to answer with, or undefined when the client takes none. */
export function negotiateRepoVersion(accept: string | undefined): RepoVersion | undefined {
  if (!accept || accept.trim() === '') return 'v5';
  const offered = accept.split(',').map((part) => part.trim().toLowerCase());
  const versions = new Set<RepoVersion>();
  let anyRepo = false;
  for (const media of offered) {
    const [type, ...parameters] = media.split(';').map((part) => part.trim());
    if (type === '*/*' || type === 'application/*') anyRepo = true;
    if (type !== 'application/vnd.dcos.universe.repo+json') continue;
    const version = parameters.find((parameter) => parameter.startsWith('version='))?.slice('version='.length);
    if (version === 'v3' || version === 'v4' || version === 'v5') versions.add(version);
    else if (version === undefined) anyRepo = true;
  }
  for (const version of ['v5', 'v4', 'v3'] as const) if (versions.has(version)) return version;
  return anyRepo ? 'v5' : undefined;
}

/** `dcos/<x.y>` from Cosmos's User-Agent (`cosmos/0.6.3 dcos/2.1.0`) → `2.1`. */
export function dcosVersionFromUserAgent(userAgent: string | undefined): string | undefined {
  const match = /(?:^|\s)dcos\/(\d+(?:\.\d+)*)/.exec(userAgent ?? '');
  return match?.[1]?.split('.').slice(0, 2).join('.');
}

const EMPTY_REPOSITORY: RepositoryDocument = { packages: [] };

export async function serveRepository(context: RegistryContext, request: RepositoryRequest): Promise<Reply> {
  const version = negotiateRepoVersion(request.accept);
  if (version === undefined) {
    throw new NotFoundError(`No repository representation matches Accept: ${request.accept}`, { accept: request.accept ?? '' });
  }
  const dcosVersion = dcosVersionFromUserAgent(request.userAgent);
  const acceptsGzip = /(^|,)\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*(,|$))[0-9.]+)?\s*(,|$)/i.test(request.acceptEncoding ?? '');
  let stored;
  try {
    stored = await context.store.get(INDEX_KEY);
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    stored = undefined;
  }
  const baseEtag = stored?.etag ?? '"empty"';
  const maxMinDcos = stored?.metadata[INDEX_METADATA.maxMinDcos] ?? '';
  const filteringNeeded = dcosVersion !== undefined && maxMinDcos !== '' && compareDcosVersions(maxMinDcos, dcosVersion) > 0;
  const asStored = version === 'v5' && !filteringNeeded;
  const etag = asStored ? baseEtag : `"${createHash('sha256').update(`${baseEtag}|${version}|${filteringNeeded ? dcosVersion : ''}`).digest('hex').slice(0, 32)}"`;
  const headers: Record<string, string> = {
    'content-type': `${REPO_MEDIA_TYPE_PREFIX}${version}`,
    etag,
    'cache-control': 'no-cache',
    vary: 'Accept, Accept-Encoding, User-Agent',
  };
  if (request.ifNoneMatch !== undefined && request.ifNoneMatch.split(',').map((tag) => tag.trim()).includes(etag)) {
    if (stored) discardBody(stored.body);
    return { kind: 'not-modified', headers };
  }
  if (asStored && stored && acceptsGzip && stored.size > context.settings.maxInlineResponseBytes) {
    const location = await context.store.presign('GET', INDEX_KEY, { expiresIn: 300, responseContentType: headers['content-type'] });
    if (location) {
      discardBody(stored.body);
      return { kind: 'redirect', location };
    }
  }
  let gzipped: Buffer;
  if (asStored && stored) {
    gzipped = await readAllBytes(stored.body);
  } else {
    const document = stored ? (JSON.parse(gunzipSync(await readAllBytes(stored.body)).toString('utf8')) as RepositoryDocument) : EMPTY_REPOSITORY;
    gzipped = gzipSync(Buffer.from(JSON.stringify(repositoryVariant(document, version, filteringNeeded ? dcosVersion : undefined))));
  }
  if (acceptsGzip) return { kind: 'body', status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipped };
  return { kind: 'body', status: 200, headers, body: gunzipSync(gzipped) };
}

const SHA256_SEGMENT = /^sha256(?::|%3[aA])([0-9a-f]{64})$/;

export async function serveResource(context: RegistryContext, coordinate: string, digestSegment: string, filename: string): Promise<Reply> {
  const match = SHA256_SEGMENT.exec(digestSegment);
  const pkg = decodeCoordinate(coordinate);
  if (!match || !pkg) throw new NotFoundError(`Resource not found: /resource/${coordinate}/${digestSegment}/${filename}`, {});
  const digest = match[1]!;
  let object;
  try {
    object = await context.store.get(resourceKey(digest));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new NotFoundError(`Resource sha256:${digest} not found`, { sha256: digest });
    throw error;
  }
  const contentType = object.contentType ?? 'application/octet-stream';
  if (object.size > context.settings.maxInlineResponseBytes) {
    const location = await context.store.presign('GET', resourceKey(digest), {
      expiresIn: context.settings.downloadUrlLifetimeSeconds,
      responseContentType: contentType,
    });
    if (location) {
      discardBody(object.body);
      return { kind: 'redirect', location };
    }
  }
  const body = await readAllBytes(object.body);
  return {
    kind: 'body',
    status: 200,
    headers: { 'content-type': contentType, etag: `"sha256:${digest}"`, 'cache-control': 'public, max-age=31536000, immutable' },
    body,
  };
}
