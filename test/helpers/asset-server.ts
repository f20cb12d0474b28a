/**
 * A local HTTP server standing in for the internet during builds.
 *
 * Any path returns deterministic bytes derived from the path (so a test can compute the sha256 a
 * CLI binary must have), and a few path prefixes inject failures:
 *   /status/<code>/…   answers <code>
 *   /flaky/<n>/…       answers 503 to the first <n> requests for that path, then the bytes
 *   /cut/<n>/…         closes the connection mid-body for the first <n> requests
 *   /redirect/…        302 to the same path without the prefix
 *   /size/<n>/…        <n> deterministic bytes (for large assets)
 * Every request is recorded.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AssetServer {
  readonly baseUrl: string;
  readonly requests: string[];
  close(): Promise<void>;
}

/** 512 B to ~8.5 KiB, chosen by the path, filled by a hash chain of the path. */
export function assetBytesFor(path: string): Buffer {
  const seed = createHash('sha256').update(path).digest();
  const size = 512 + (seed.readUInt16BE(0) % 8192);
  const blocks: Buffer[] = [];
  let block = seed;
  let length = 0;
  while (length < size) {
    block = createHash('sha256').update(block).digest();
    blocks.push(block);
    length += block.length;
  }
  return Buffer.concat(blocks).subarray(0, size);
}

/** `size` bytes, the same for the same size and seed. */
export function sizedBytes(size: number, seed: string): Buffer {
  const block = assetBytesFor(`/${seed}`);
  const bytes = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += block.length) block.copy(bytes, offset);
  return bytes;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function startAssetServer(): Promise<AssetServer> {
  const requests: string[] = [];
  const attempts = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const url = request.url ?? '/';
    requests.push(url);
    const count = (attempts.get(url) ?? 0) + 1;
    attempts.set(url, count);
    // Behind --url-rewrite the original scheme and host lead the path: the markers follow them.
    const routed = url.replace(/^\/https?\/[^/]+(?=\/(status|redirect|flaky|cut|size)\/)/, '');
    const [, kind, argument] = routed.split('/');
    const rest = routed.split('/').slice(3).join('/');
    if (kind === 'status') {
      response.writeHead(Number(argument)).end('injected failure');
      return;
    }
    if (kind === 'redirect') {
      response.writeHead(302, { location: `/${routed.split('/').slice(2).join('/')}` }).end();
      return;
    }
    if (kind === 'flaky' && count <= Number(argument)) {
      response.writeHead(503).end('try again');
      return;
    }
    const path = kind === 'flaky' || kind === 'cut' ? `/${rest}` : url;
    const body = kind === 'size' ? sizedBytes(Number(argument), rest) : assetBytesFor(path);
    if (kind === 'cut' && count <= Number(argument)) {
      response.writeHead(200, { 'content-length': body.length });
      response.write(body.subarray(0, body.length >> 1));
      setImmediate(() => response.socket?.destroy());
      return;
    }
    response.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The --url-rewrite rules that send every http(s) download to the asset server, keeping the scheme
 * and host in the path so that distinct URLs stay distinct.
 */
export function rewriteEverythingTo(baseUrl: string): string[] {
  return [`https://=${baseUrl}/https/`, `http://=${baseUrl}/http/`];
}

/** The path the asset server sees for an original URL under rewriteEverythingTo. */
export function servedPathFor(originalUrl: string): string {
  return originalUrl.replace(/^https:\/\//, '/https/').replace(/^http:\/\//, '/http/');
}
