/**
 * Pulls images straight from a registry over the Registry HTTP API v2, with no Docker daemon:
 * anonymous and token-authenticated pulls (the `WWW-Authenticate: Bearer realm=…` flow of Docker
 * Hub and most registries), basic credentials from a Docker config, mirrors, and plain HTTP for
 * the registries it is told are insecure (and loopback ones, as Docker does). Every manifest and
 * blob is checked against its digest while it streams.
 */
import { createHash } from 'node:crypto';
import { PackagingError } from '../domain/errors.ts';
import type { BasicCredentials, CredentialLookup } from './docker-credentials.ts';
import { DOCKER_HUB, type ImageReference } from './image-reference.ts';
import { ALL_MANIFESTS, IMAGE_MANIFESTS, sha256Digest, MANIFEST_LISTS, manifestMediaType, type Descriptor, type ImageManifest, type ManifestList } from './media-types.ts';
import { chooseChildren, formatPlatform, type PlatformChoice } from './platforms.ts';

export interface PullOptions {
  /** Registry host → mirror host (`--registry-mirror docker.io=mirror.local:5000`). */
  readonly mirrors: ReadonlyMap<string, string>;
  /** Hosts reached over plain HTTP (`--insecure-registry`). */
  readonly insecure: ReadonlySet<string>;
  readonly credentials: CredentialLookup;
  /** Which images of a multi-platform index to take. */
  readonly platforms: PlatformChoice;
}

export interface PulledManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

export interface ResolvedImage {
  /** What the reference points at: an image manifest, or a list/index. */
  readonly top: PulledManifest;
  /** The image manifests of the platforms taken (the top one alone when it is not a list). */
  readonly images: readonly (PulledManifest & { readonly manifest: ImageManifest })[];
}

export class RegistryPuller {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly options: PullOptions) {}

  async resolve(image: ImageReference): Promise<ResolvedImage> {
    const reference = image.digest ?? image.tag ?? 'latest';
    const top = await this.fetchManifest(image, reference);
    if (image.digest && top.digest !== image.digest) {
      throw this.error(image, `the registry sent a manifest with digest ${top.digest} for ${image.digest}`);
    }
    if (IMAGE_MANIFESTS.has(top.mediaType)) return { top, images: [{ ...top, manifest: JSON.parse(top.bytes.toString('utf8')) as ImageManifest }] };
    if (!MANIFEST_LISTS.has(top.mediaType)) throw this.error(image, `the manifest has the unsupported media type ${top.mediaType}`);
    const list = JSON.parse(top.bytes.toString('utf8')) as ManifestList;
    const images = [];
    for (const chosen of chooseChildren(list, this.options.platforms, (problem) => this.error(image, problem))) {
      const platform = formatPlatform(chosen.platform);
      const child = await this.fetchManifest(image, chosen.digest);
      if (child.digest !== chosen.digest) throw this.error(image, `digest mismatch for the ${platform} manifest: got ${child.digest}, expected ${chosen.digest}`);
      if (!IMAGE_MANIFESTS.has(child.mediaType)) throw this.error(image, `the ${platform} entry is not an image manifest`);
      images.push({ ...child, manifest: JSON.parse(child.bytes.toString('utf8')) as ImageManifest });
    }
    return { top, images };
  }

  /** Streams a blob into `write`, verifying its digest and size at the end. */
  async pullBlob(image: ImageReference, descriptor: Descriptor, write: (chunk: Uint8Array) => Promise<void>, onBytes?: (bytes: number) => void): Promise<void> {
    let response = await this.request(image, `blobs/${descriptor.digest}`, { redirect: 'manual' });
    if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
      // Blobs are often redirected to storage: follow without the registry's credentials.
      response = await fetch(new URL(response.headers.get('location')!, this.baseUrl(image)), { redirect: 'follow' });
    }
    if (response.status !== 200 || !response.body) throw this.error(image, `blob ${descriptor.digest}: HTTP ${response.status}`);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
      await write(chunk);
      onBytes?.(chunk.length);
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (digest !== descriptor.digest) throw this.error(image, `digest mismatch for blob ${descriptor.digest}: the registry sent ${digest}`);
    if (size !== descriptor.size) throw this.error(image, `blob ${descriptor.digest} has ${size} bytes, the manifest says ${descriptor.size}`);
  }

  private async fetchManifest(image: ImageReference, reference: string): Promise<PulledManifest> {
    const response = await this.request(image, `manifests/${reference}`, { headers: { accept: ALL_MANIFESTS.join(', ') } });
    if (response.status === 404) throw this.error(image, reference.startsWith('sha256:') ? `manifest ${reference} not found` : `unknown tag ${reference}`, 'ImageNotFound');
    if (response.status !== 200) throw this.error(image, `manifest ${reference}: HTTP ${response.status} ${await safeText(response)}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = sha256Digest(bytes);
    const declared = response.headers.get('docker-content-digest');
    if (declared && declared !== digest) throw this.error(image, `digest mismatch: the registry says ${declared}, the manifest hashes to ${digest}`);
    let document: unknown;
    try {
      document = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw this.error(image, `manifest ${reference} is not JSON`);
    }
    const mediaType = manifestMediaType(document, response.headers.get('content-type') ?? undefined);
    if (!mediaType) throw this.error(image, `manifest ${reference} has no recognisable media type`);
    return { digest, mediaType, bytes };
  }

  private host(image: ImageReference): string {
    return this.options.mirrors.get(image.registry) ?? (image.registry === DOCKER_HUB ? 'registry-1.docker.io' : image.registry);
  }

  private baseUrl(image: ImageReference): string {
    const host = this.host(image);
    const plain = this.options.insecure.has(host) || this.options.insecure.has(image.registry) || /^(localhost|127\.\d+\.\d+\.\d+)(:\d+)?$/.test(host);
    return `${plain ? 'http' : 'https'}://${host}`;
  }

  private async request(image: ImageReference, path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    const url = `${this.baseUrl(image)}/v2/${image.remoteName}/${path}`;
    const scope = `repository:${image.remoteName}:pull`;
    const tokenKey = `${this.host(image)} ${scope}`;
    const send = (authorization?: string): Promise<Response> =>
      fetch(url, { ...init, headers: { ...init.headers, ...(authorization ? { authorization } : {}) } }).catch((error: unknown) => {
        const cause = (error as { cause?: { code?: string } }).cause;
        throw this.error(image, `cannot reach ${this.baseUrl(image)}: ${cause?.code ?? (error as Error).message}`);
      });
    const cached = this.tokens.get(tokenKey);
    let response = await send(cached);
    if (response.status !== 401) return response;
    const challenge = response.headers.get('www-authenticate') ?? '';
    await safeText(response);
    const credentials = this.options.credentials(image.registry);
    const authorization = await this.authorize(image, challenge, scope, credentials);
    this.tokens.set(tokenKey, authorization);
    response = await send(authorization);
    if (response.status === 401 || response.status === 403) {
      throw this.error(image, `access denied${credentials ? '' : ' (no credentials for this registry in the Docker config)'}`, 'ImageAccessDenied');
    }
    return response;
  }

  private async authorize(image: ImageReference, challenge: string, scope: string, credentials: BasicCredentials | undefined): Promise<string> {
    const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
    if (/^basic\b/i.test(challenge)) {
      if (!basic) throw this.error(image, 'access denied (the registry wants credentials; none in the Docker config)', 'ImageAccessDenied');
      return basic;
    }
    const parameters = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!.toLowerCase(), match[2]!]));
    if (!/^bearer\b/i.test(challenge) || !parameters.realm) throw this.error(image, `unsupported authentication challenge: ${challenge || '(none)'}`);
    const tokenUrl = new URL(parameters.realm);
    if (parameters.service) tokenUrl.searchParams.set('service', parameters.service);
    tokenUrl.searchParams.set('scope', parameters.scope ?? scope);
    const response = await fetch(tokenUrl, { headers: basic ? { authorization: basic } : {} }).catch((error: unknown) => {
      throw this.error(image, `cannot reach the token service ${tokenUrl.origin}: ${(error as Error).message}`);
    });
    if (response.status === 401 || response.status === 403) throw this.error(image, 'access denied by the token service', 'ImageAccessDenied');
    if (response.status !== 200) throw this.error(image, `the token service answered HTTP ${response.status}`);
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw this.error(image, 'the token service sent no token');
    return `Bearer ${token}`;
  }

  private error(image: ImageReference, problem: string, type = 'ImagePullFailed'): PackagingError {
    return new PackagingError(type, `Cannot pull the image ${image.original}: ${problem}`, { image: image.original });
  }
}

async function safeText(response: Response): Promise<string> {
  try {
    return (await response.text()).slice(0, 200);
  } catch {
    return '';
  }
}
