/**
 * `add` when the registry has ingested the bundle before `complete` arrives (issue 10, item 3):
 * the embedded server starts ingestion as soon as the bytes land, as an S3 event would, and a
 * proxy between the CLI and the registry holds `POST /v1/uploads/{id}/complete` until the upload
 * is Accepted. The CLI must exit 0 and print the added package.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { buildDistinctBundles } from '../helpers/test-bundles.ts';

/** Forwards to `target`, holding each `complete` until its upload is no longer Uploading or Validating. */
function holdingProxy(target: string, token: string, held: string[]): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const path = request.url ?? '/';
      const completing = /^\/v1\/uploads\/([^/]+)\/complete$/.exec(path);
      if (request.method === 'POST' && completing) {
        for (let round = 0; round < 600; round++) {
          const upload = (await (await fetch(`${target}/v1/uploads/${completing[1]}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string };
          if (upload.status !== 'Uploading' && upload.status !== 'Validating') {
            held.push(upload.status);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>;
      const forwarded = await fetch(`${target}${path}`, { method: request.method!, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) });
      response.writeHead(forwarded.status, Object.fromEntries(forwarded.headers));
      response.end(Buffer.from(await forwarded.arrayBuffer()));
    })().catch((error: unknown) => {
      response.writeHead(502);
      response.end(String(error));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

describe('add: complete after the registry took the bundle', () => {
  let registry: RegistryUnderTest;
  let assets: AssetServer;
  let work: string;
  let proxy: { url: string; server: Server };
  const held: string[] = [];

  before(async () => {
    registry = await startEmbeddedRegistry();
    assets = await startAssetServer();
    work = await mkdtemp(join(tmpdir(), 'late-complete-'));
    proxy = await holdingProxy(registry.url, registry.token, held);
  });
  after(async () => {
    proxy?.server.closeAllConnections();
    await new Promise((resolve) => proxy?.server.close(resolve));
    await registry?.close();
    await assets?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('exits 0 and prints the added package', async () => {
    const [bundle] = await buildDistinctBundles(assets, work, 1);
    const add = await runBuiltCli(['add', `--dcos-file=${bundle!.path}`, `--url=${proxy.url}`, '--json', '--wait'], { env: { DCOS_REGISTRY_TOKEN: registry.token } });
    assert.equal(add.code, 0, add.stderr);
    assert.deepEqual(held, ['Accepted'], 'complete reached the registry only after ingestion had ended');
    assert.deepEqual((JSON.parse(add.stdout) as { packages: { name: string }[] }).packages.map((pkg) => pkg.name), [bundle!.name]);
  });
});
