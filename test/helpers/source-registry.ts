/**
 * A source Docker registry for build tests: generated multi-layer images (real tar layers,
 * gzipped), a manifest list (linux/amd64 + linux/arm64), token authentication (the Docker Hub
 * flow: 401 with a Bearer challenge, a token service, private repositories needing basic
 * credentials), and blobs redirected to a storage path, as many registries do.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Media types of an image in Docker's format or OCI's. */
const FORMATS = {
  docker: { manifest: DOCKER_MANIFEST, list: DOCKER_LIST, config: 'application/vnd.docker.container.image.v1+json', layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip' },
  oci: { manifest: OCI_MANIFEST, list: OCI_INDEX, config: 'application/vnd.oci.image.config.v1+json', layer: 'application/vnd.oci.image.layer.v1.tar+gzip' },
} as const;

export interface GeneratedImage {
  readonly manifestDigest: string;
  readonly manifest: Buffer;
  readonly configDigest: string;
  readonly layerDigests: readonly string[];
}

export interface SourceRegistry {
  readonly host: string;
  readonly requests: string[];
  /** Adds `<name>:<tag>`: a single image, or a list of amd64 and arm64 images. */
  addImage(
    name: string,
    tag: string,
    options?: { layers?: number; layerBytes?: number; list?: boolean; private?: boolean; format?: 'docker' | 'oci' },
  ): { top: { digest: string; mediaType: string }; amd64: GeneratedImage };
  /** Makes the registry serve wrong bytes for this blob (digest mismatch tests). */
  corruptBlob(digest: string): void;
  close(): Promise<void>;
}

export const SOURCE_CREDENTIALS = { username: 'puller', password: 'pull-secret' };

const sha = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A one-file ustar archive: a real layer. */
export function tarWithFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let checksum = 0;
  for (const byte of header) checksum += byte;
  header.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/**
 * `onDemand`: any `name:tag` asked for that was not added exists (a small generated image), so a
 * whole corpus of packages can be built against this one registry.
 */
export async function startSourceRegistry(options: { onDemand?: boolean } = {}): Promise<SourceRegistry> {
  const manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  const tags = new Map<string, string>();
  const blobs = new Map<string, Buffer>();
  const privateRepositories = new Set<string>();
  const requests: string[] = [];
  let host = '';

  const generate = (architecture: string, layers: number, layerBytes: number, format: keyof typeof FORMATS): GeneratedImage => {
    const types = FORMATS[format];
    const layerBlobs: Buffer[] = [];
    const diffIds: string[] = [];
    for (let index = 0; index < layers; index++) {
      const tar = tarWithFile(`layer-${index}/data.bin`, randomBytes(layerBytes));
      diffIds.push(sha(tar));
      layerBlobs.push(gzipSync(tar));
    }
    const config = Buffer.from(JSON.stringify({ architecture, os: 'linux', config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: types.manifest,
        config: { mediaType: types.config, size: config.length, digest: sha(config) },
        layers: layerBlobs.map((blob) => ({ mediaType: types.layer, size: blob.length, digest: sha(blob) })),
      }),
    );
    for (const blob of [config, ...layerBlobs]) blobs.set(sha(blob), blob);
    manifests.set(sha(manifest), { bytes: manifest, mediaType: types.manifest });
    return { manifestDigest: sha(manifest), manifest, configDigest: sha(config), layerDigests: layerBlobs.map(sha) };
  };

  const repositoryOf = (path: string): { name: string; kind: string; reference: string } | undefined => {
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    return match ? { name: match[1]!, kind: match[2]!, reference: match[3]! } : undefined;
  };

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://source');
    requests.push(`${request.method} ${url.pathname}`);
    const challenge = `Bearer realm="http://${host}/token",service="source-registry"`;
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? '';
      const name = /^repository:(.+):pull$/.exec(scope)?.[1] ?? '';
      if (privateRepositories.has(name)) {
        const expected = `Basic ${Buffer.from(`${SOURCE_CREDENTIALS.username}:${SOURCE_CREDENTIALS.password}`).toString('base64')}`;
        if (request.headers.authorization !== expected) {
          response.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `token-for-${name}` }));
      return;
    }
    if (url.pathname.startsWith('/storage/')) {
      const blob = blobs.get(url.pathname.slice('/storage/'.length));
      if (!blob) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-length': blob.length, 'content-type': 'application/octet-stream' }).end(blob);
      return;
    }
    const target = repositoryOf(url.pathname);
    if (url.pathname === '/v2/' || target) {
      const token = /^Bearer token-for-(.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!token || (target && token !== target.name)) {
        response.writeHead(401, { 'www-authenticate': target ? `${challenge},scope="repository:${target.name}:pull"` : challenge, 'content-type': 'application/json' });
        response.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      if (!target) return void response.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      if (target.kind === 'manifests') {
        if (options.onDemand && !target.reference.startsWith('sha256:') && !tags.has(`${target.name}:${target.reference}`)) {
          registry.addImage(target.name, target.reference, { layers: 1, layerBytes: 256 });
        }
        const digest = target.reference.startsWith('sha256:') ? target.reference : tags.get(`${target.name}:${target.reference}`);
        const manifest = digest ? manifests.get(digest) : undefined;
        if (!manifest) {
          response.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
          return;
        }
        response.writeHead(200, { 'content-type': manifest.mediaType, 'docker-content-digest': digest!, 'content-length': manifest.bytes.length });
        response.end(manifest.bytes);
        return;
      }
      if (!blobs.has(target.reference)) return void response.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      response.writeHead(307, { location: `/storage/${target.reference}` }).end();
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const registry: SourceRegistry = {
    host,
    requests,
    addImage(name, tag, options = {}) {
      if (options.private) privateRepositories.add(name);
      const format = options.format ?? 'docker';
      const types = FORMATS[format];
      const amd64 = generate('amd64', options.layers ?? 3, options.layerBytes ?? 4096, format);
      if (!options.list) {
        tags.set(`${name}:${tag}`, amd64.manifestDigest);
        return { top: { digest: amd64.manifestDigest, mediaType: types.manifest }, amd64 };
      }
      const arm64 = generate('arm64', 2, 2048, format);
      const list = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: types.list,
          manifests: [
            { mediaType: types.manifest, size: arm64.manifest.length, digest: arm64.manifestDigest, platform: { architecture: 'arm64', os: 'linux' } },
            { mediaType: types.manifest, size: amd64.manifest.length, digest: amd64.manifestDigest, platform: { architecture: 'amd64', os: 'linux' } },
          ],
        }),
      );
      manifests.set(sha(list), { bytes: list, mediaType: types.list });
      tags.set(`${name}:${tag}`, sha(list));
      return { top: { digest: sha(list), mediaType: types.list }, amd64 };
    },
    corruptBlob(digest) {
      const blob = blobs.get(digest);
      if (blob) blobs.set(digest, Buffer.concat([blob.subarray(0, blob.length - 1), Buffer.from([blob[blob.length - 1]! ^ 1])]));
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return registry;
}
