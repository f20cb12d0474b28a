/**
 * The read side that clusters use: health, the repository for Cosmos (spec §6.4), and resources.
 * Each answers with at most one storage call on the common path, and never lists storage.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { capabilityBody, capabilityEtag, capabilityPrefixes } from './capability/capability-view.ts';
import { storedCapabilityView } from './capability/capability-objects.ts';
import { createGunzip, gzipSync } from 'node:zlib';
import { discardBody, ObjectNotFoundError } from '../ports/object-store.ts';
import { decodeCoordinate } from '../universe/coordinate.ts';
import type { RegistryContext } from './context.ts';
import { REPO_MEDIA_TYPE_PREFIX, repositoryVariant, type RepoVersion, type RepositoryDocument } from './index-document.ts';
import { openRepositoryView, type RepositoryView } from './index-store/index-reader.ts';
import { INDEX_METADATA, readPublishedDocument } from './index-store/published-index.ts';
import { INDEX_KEY, resourceKey } from './layout.ts';
import { NotFoundError } from './registry-errors.ts';
import { ERROR_MEDIA_TYPE } from '../http/error-envelope.ts';
import { matchesEtag } from '../http/entity-tags.ts';
import { rangedReply } from './serve-images.ts';

/** A transport-neutral answer: the handler turns it into an API Gateway result. */
export type Reply =
  | { readonly kind: 'body'; readonly status: number; readonly headers: Record<string, string>; readonly body: Buffer }
  | { readonly kind: 'redirect'; readonly location: string; readonly headers?: Record<string, string> }
  | { readonly kind: 'not-modified'; readonly headers: Record<string, string> }
  /** A body read as it is sent: streamed by a host that streams, gathered by one that cannot (Lambda). */
  | { readonly kind: 'stream'; readonly status: number; readonly headers: Record<string, string>; readonly body: AsyncIterable<Uint8Array> };

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
  /** Through a capability URL: its path segment as sent, and the token's fingerprint (capability/). */
  readonly capability?: { readonly encoded: string; readonly fingerprint: string };
}

/** The repository media-type version to answer with, or undefined when the client takes none. */
export function negotiateRepoVersion(accept: string | undefined): RepoVersion | undefined {
  if (!accept || accept.trim() === '') return 'v5';
  const offered = accept.split(',').map((part) => part.trim().toLowerCase());
  const versions = new Set<RepoVersion>();
  let anyRepo = false;
  for (const media of offered) {
    const [type, ...parameters] = media.split(';').map((part) => part.trim());
    if (refusedByQuality(parameters)) continue;
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
  const match = /(?:^|\s)dcos\/(\d+(?:\.\d+)*)/i.exec(userAgent ?? '');
  return match?.[1]?.split('.').slice(0, 2).join('.');
}

const EMPTY_REPOSITORY: RepositoryDocument = { packages: [] };

/**
 * One read of the stored object of the negotiated media type; the client's DC/OS version picks a
 * prefix of it (index-store/index-reader.ts). Stored bytes out, streamed where the host streams.
 */
export async function serveRepository(context: RegistryContext, request: RepositoryRequest): Promise<Reply> {
  const version = negotiateRepoVersion(request.accept);
  if (version === undefined) {
    throw new NotFoundError(`No repository representation matches Accept: ${request.accept}`, { accept: request.accept ?? '' });
  }
  const dcosVersion = dcosVersionFromUserAgent(request.userAgent);
  const acceptsGzip = acceptsGzipEncoding(request.acceptEncoding);
  const opened = await openRepositoryView(context.store, version, dcosVersion);
  if (opened === 'legacy' || (opened === undefined && version !== 'v5' && (await context.store.head(INDEX_KEY)))) {
    return legacyRepository(context, version, dcosVersion, acceptsGzip, request.ifNoneMatch);
  }
  const view: RepositoryView = opened ?? emptyView();
  if (request.capability) return capabilityRepository(context, view, version, acceptsGzip, request.ifNoneMatch, request.capability);
  const headers: Record<string, string> = {
    'content-type': `${REPO_MEDIA_TYPE_PREFIX}${version}`,
    etag: view.etag,
    'cache-control': 'no-cache',
    vary: 'Accept, Accept-Encoding, User-Agent',
  };
  if (matchesEtag(request.ifNoneMatch, view.etag)) {
    view.discard();
    return { kind: 'not-modified', headers };
  }
  // What would be sent: a client that takes no gzip gets it decompressed, which is larger.
  const sentBytes = acceptsGzip ? view.size : view.rawLength;
  if (!context.settings.streamResponses && sentBytes > context.settings.maxInlineResponseBytes) {
    // Too large for a Lambda response: the store's presigned URL of exactly these bytes, gzip
    // (Cosmos always takes it; a client that does not is sent them with Content-Encoding: gzip,
    // which is better than a response Lambda cannot send). The store's scheme is the
    // deployment's (https on AWS).
    const location = await context.store.presign('GET', view.objectKey, { expiresIn: 300, responseContentType: headers['content-type'] });
    if (location) {
      view.discard();
      return { kind: 'redirect', location };
    }
  }
  if (acceptsGzip) return { kind: 'stream', status: 200, headers: { ...headers, 'content-encoding': 'gzip', 'content-length': String(view.size) }, body: view.body };
  // A client that takes no gzip (curl without --compressed): decompressed as it streams.
  return { kind: 'stream', status: 200, headers, body: gunzipStream(view.body) };
}

/** The view through a capability URL (capability/capability-view.ts): resource URLs prefixed. */
async function capabilityRepository(
  context: RegistryContext,
  view: RepositoryView,
  version: RepoVersion,
  acceptsGzip: boolean,
  ifNoneMatch: string | undefined,
  capability: { readonly encoded: string; readonly fingerprint: string },
): Promise<Reply> {
  const etag = capabilityEtag(view.etag, capability.fingerprint);
  const headers: Record<string, string> = { 'content-type': `${REPO_MEDIA_TYPE_PREFIX}${version}`, etag, 'cache-control': 'private, no-cache', vary: 'Accept, Accept-Encoding, User-Agent' };
  if (matchesEtag(ifNoneMatch, etag)) {
    view.discard();
    return { kind: 'not-modified', headers };
  }
  const prefixes = capabilityPrefixes(context.settings.publicBaseUrl, capability.encoded);
  // A Lambda answers up to its inline limit; a larger view is stored once per version and token.
  // What would be sent (a client that takes no gzip gets the JSON), with room for the prefixes.
  const sentBytes = acceptsGzip ? view.size : view.rawLength;
  if (!context.settings.streamResponses && sentBytes > context.settings.maxInlineResponseBytes / 2) {
    const location = await storedCapabilityView(context, view, prefixes, capability.fingerprint, etag, headers['content-type']!);
    if (location) return { kind: 'redirect', location };
  }
  if (acceptsGzip) return { kind: 'stream', status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: capabilityBody(view.body, prefixes, { gzip: true }) };
  return { kind: 'stream', status: 200, headers, body: capabilityBody(view.body, prefixes, { gzip: false }) };
}

/** `q=0` among a media range's or coding's parameters means "not this one" (RFC 9110 §12.4.2). */
const refusedByQuality = (parameters: readonly string[]): boolean => parameters.some((parameter) => /^q=0(\.0*)?$/.test(parameter));

/** gzip (or its old name x-gzip, or `*`) is acceptable, with a q above 0. */
function acceptsGzipEncoding(header: string | undefined): boolean {
  for (const part of (header ?? '').split(',')) {
    const [coding, ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    if (!refusedByQuality(parameters)) return true;
  }
  return false;
}

const EMPTY_JSON = Buffer.from(JSON.stringify(EMPTY_REPOSITORY));
const EMPTY_GZIP = gzipSync(EMPTY_JSON);

function emptyView(): RepositoryView {
  return { etag: '"empty"', size: EMPTY_GZIP.length, rawLength: EMPTY_JSON.length, body: Readable.from([EMPTY_GZIP]), discard: () => undefined, objectKey: INDEX_KEY, view: 'all' };
}

function gunzipStream(body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  return Readable.from(body).pipe(createGunzip());
}

/**
 * An index written before the stored views existed: filtered the slow way until the reconciler's
 * first pass (at start-up) stores it in the current layout.
 */
async function legacyRepository(context: RegistryContext, version: RepoVersion, dcosVersion: string | undefined, acceptsGzip: boolean, ifNoneMatch: string | undefined): Promise<Reply> {
  const stored = await readPublishedDocument(context.store);
  const baseEtag = stored?.etag ?? '"empty"';
  const etag = `"${createHash('sha256').update(`${baseEtag}|${version}|${dcosVersion ?? ''}`).digest('hex').slice(0, 32)}"`;
  const headers: Record<string, string> = { 'content-type': `${REPO_MEDIA_TYPE_PREFIX}${version}`, etag, 'cache-control': 'no-cache', vary: 'Accept, Accept-Encoding, User-Agent' };
  if (matchesEtag(ifNoneMatch, etag)) return { kind: 'not-modified', headers };
  const body = Buffer.from(JSON.stringify(repositoryVariant(stored?.document ?? EMPTY_REPOSITORY, version, dcosVersion)));
  if (acceptsGzip) return { kind: 'body', status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipSync(body) };
  return { kind: 'body', status: 200, headers, body };
}

const SHA256_SEGMENT = /^sha256(?::|%3[aA])([0-9a-f]{64})$/;

/**
 * `shared`: whether shared caches (a proxy, a CDN) may keep it: not when reads are protected, where
 * a cache would hand a response to an authenticated request to callers without a token.
 */
export async function serveResource(context: RegistryContext, coordinate: string, digestSegment: string, filename: string, rangeHeader?: string, options: { shared: boolean } = { shared: true }): Promise<Reply> {
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
  // Above the inline limit a Lambda redirects; a host that streams sends it itself.
  if (!context.settings.streamResponses && object.size > context.settings.maxInlineResponseBytes) {
    const location = await context.store.presign('GET', resourceKey(digest), {
      expiresIn: context.settings.downloadUrlLifetimeSeconds,
      responseContentType: contentType,
    });
    if (location) {
      discardBody(object.body);
      return { kind: 'redirect', location };
    }
  }
  const headers = {
    'content-type': contentType,
    etag: `"sha256:${digest}"`,
    'cache-control': `${options.shared ? 'public' : 'private'}, max-age=31536000, immutable`,
    'content-length': String(object.size),
    'accept-ranges': 'bytes',
  };
  return rangedReply(context, resourceKey(digest), object, headers, rangeHeader, () => rangeNotSatisfiable(object.size));
}

/** 416 with the size a client needs to ask again (RFC 9110 §15.5.17), in the error envelope. */
function rangeNotSatisfiable(size: number): Reply {
  const body = Buffer.from(JSON.stringify({ type: 'RangeNotSatisfiable', message: `The range asked for starts past the end of the resource (${size} bytes)`, data: { size } }));
  return { kind: 'body', status: 416, headers: { 'content-type': ERROR_MEDIA_TYPE, 'content-range': `bytes */${size}`, 'content-length': String(body.length) }, body };
}
