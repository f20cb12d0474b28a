/**
 * Attack on the embedded server's streamed blobs and resources (serve-images.ts rangedReply,
 * serve.ts serveResource, with server/api-gateway-bridge.ts and send-body.ts writing them):
 * ranges at their edges, HEAD, empty objects, 416s, Content-Length of every answer, and what a
 * client that goes away leaves open. A Lambda-configured context still redirects above its limit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../lib/adapters/job-queue/in-process-job-queue.ts';
import { serverConfigFrom } from '../../lib/config/environment.ts';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../lib/registry/context.ts';
import { imageBlobKey, resourceKey } from '../../lib/registry/layout.ts';
import { serveDistribution } from '../../lib/registry/serve-images.ts';
import { serveResource } from '../../lib/registry/serve.ts';
import { startRegistryServer } from '../../lib/server/registry-server.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { freshStore, openFdsUnder, sha, SlowBodyStore, until } from './review11-helpers.ts';

const COORDINATE = encodeCoordinate({ name: 'streams', version: '1.0' });

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function fetchAll(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

describe('streamed blobs and resources over the embedded server', () => {
  let registry: Awaited<ReturnType<typeof startEmbeddedRegistry>>;
  const content = randomBytes(1000);
  const hex = sha(content);
  const emptyHex = sha(Buffer.alloc(0));
  const urls = () => ({
    blob: `${registry.url}/v2/org/app/blobs/sha256:${hex}`,
    resource: `${registry.url}/resource/${COORDINATE}/sha256:${hex}/file.bin`,
  });
  before(async () => {
    registry = await startEmbeddedRegistry();
    await registry.store.put(imageBlobKey(hex), content, { contentType: 'application/octet-stream' });
    await registry.store.put(resourceKey(hex), content, { contentType: 'application/octet-stream' });
    await registry.store.put(imageBlobKey(emptyHex), Buffer.alloc(0), { contentType: 'application/octet-stream' });
    await registry.store.put(resourceKey(emptyHex), Buffer.alloc(0), { contentType: 'application/octet-stream' });
  });
  after(() => registry?.close());

  const cases: [string, string | undefined, number, [number, number] | undefined][] = [
    ['no range', undefined, 200, undefined],
    ['bytes=0-0', 'bytes=0-0', 206, [0, 0]],
    ['last byte', 'bytes=999-999', 206, [999, 999]],
    ['end past the size', 'bytes=995-5000', 206, [995, 999]],
    ['open end', 'bytes=10-', 206, [10, 999]],
    ['suffix larger than the size', 'bytes=-5000', 206, [0, 999]],
    ['suffix', 'bytes=-1', 206, [999, 999]],
    ['start at the size', 'bytes=1000-', 416, undefined],
    ['start beyond the end', 'bytes=4000-5000', 416, undefined],
    ['suffix of zero', 'bytes=-0', 416, undefined],
    ['several ranges (ignored: the whole)', 'bytes=0-1,5-6', 200, undefined],
    ['malformed (ignored: the whole)', 'bytes=abc', 200, undefined],
    ['inverted (ignored: the whole)', 'bytes=5-2', 200, undefined],
    ['another unit (ignored: the whole)', 'items=0-1', 200, undefined],
  ];
  for (const kind of ['blob', 'resource'] as const) {
    for (const [name, range, status, span] of cases) {
      it(`${kind}: ${name} answers ${status} with a Content-Length that is the body's`, async () => {
        const answer = await fetchAll(urls()[kind], range ? { headers: { range } } : {});
        assert.equal(answer.status, status);
        assert.equal(answer.headers.get('content-length'), String(answer.body.length), 'Content-Length is what was sent');
        if (status === 416) {
          assert.equal(answer.headers.get('content-range'), 'bytes */1000');
          if (kind === 'resource') assert.equal((JSON.parse(answer.body.toString()) as { type: string }).type, 'RangeNotSatisfiable');
          return;
        }
        if (span) {
          assert.equal(answer.headers.get('content-range'), `bytes ${span[0]}-${span[1]}/1000`);
          assert.ok(answer.body.equals(content.subarray(span[0], span[1] + 1)));
        } else {
          assert.equal(answer.headers.get('content-range'), null);
          assert.ok(answer.body.equals(content));
        }
        assert.equal(answer.headers.get('accept-ranges'), 'bytes');
      });
    }
    it(`${kind}: an empty object is 200 with no bytes, any range of it 416 bytes */0`, async () => {
      const url = kind === 'blob' ? `${registry.url}/v2/org/app/blobs/sha256:${emptyHex}` : `${registry.url}/resource/${COORDINATE}/sha256:${emptyHex}/empty`;
      const whole = await fetchAll(url);
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get('content-length'), '0');
      assert.equal(whole.body.length, 0);
      for (const range of ['bytes=0-0', 'bytes=-1', 'bytes=0-']) {
        const ranged = await fetchAll(url, { headers: { range } });
        assert.equal(ranged.status, 416, range);
        assert.equal(ranged.headers.get('content-range'), 'bytes */0');
      }
    });
  }

  it('blob: HEAD answers the size and no body', async () => {
    const head = await fetchAll(urls().blob, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '1000');
    assert.equal(head.body.length, 0);
  });

  it('resource: HEAD answers the size, and leaves no file of the store open', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void (/Closing file descriptor/.test(warning.message) && warnings.push(warning.message));
    process.on('warning', onWarning);
    try {
      for (let index = 0; index < 20; index++) {
        const head = await fetchAll(urls().resource, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), '1000');
        assert.equal(head.body.length, 0);
      }
      // A destroyed body closes its file on the thread pool, which may finish just after the
      // response: wait (a second at most) for the closes in flight; a leaked file stays open.
      let open = openFdsUnder(registry.dataDir);
      for (let wait = 0; open.length > 0 && wait < 50; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        open = openFdsUnder(registry.dataDir);
      }
      assert.deepEqual({ open: open.length, closedByGarbageCollection: warnings.length }, { open: 0, closedByGarbageCollection: 0 }, `open after 20 HEADs: ${open.join(', ')}`);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a client that goes away mid-stream (backpressure) leaves no file open and the server serves on', async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const bigHex = sha(big);
    await registry.store.put(imageBlobKey(bigHex), big, { contentType: 'application/octet-stream' });
    // Sixteen clients one after another: each time the client may go away while the server waits
    // for the socket to drain (handled) or while it reads the next MiB from disk (see below).
    for (let round = 0; round < 16; round++) {
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest(`${registry.url}/v2/org/app/blobs/sha256:${bigHex}`, (response) => {
          response.once('data', () => {
            request.destroy();
            resolve();
          });
        });
        request.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
        request.end();
      });
    }
    const openOnBlob = (): string[] => openFdsUnder(registry.dataDir).filter((path) => path.includes(bigHex));
    await until(() => openOnBlob().length === 0, 5000, 'the blob to be closed').catch(() => undefined);
    assert.equal(openOnBlob().length, 0, `the blob is still open ${openOnBlob().length} times after 16 clients went away`);
    const again = await fetchAll(urls().blob, { headers: { range: 'bytes=1-2' } });
    assert.equal(again.status, 206);
    assert.ok(again.body.equals(content.subarray(1, 3)));
  });
});

describe('a client that goes away while the next chunk is being read from storage', () => {
  it('the server stops reading the object (its body is ended), for a blob and for a resource', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'r11-slow-'));
    const inner = new FsObjectStore(join(dataDir, 'objects'));
    const slowStore = new SlowBodyStore(inner, (key) => key.startsWith('docker/blobs/') || key.startsWith('resources/'));
    const config = serverConfigFrom({ PORT: '0', REGISTRY_DATA_DIR: dataDir, REGISTRY_AUTH_TOKENS: 'test-token-0123456789', REGISTRY_DROP_SCAN_SECONDS: '3600' });
    const server = await startRegistryServer(config, { log: silentLogger, store: slowStore });
    try {
      const big = randomBytes(8 * 1024 * 1024);
      const hex = sha(big);
      await inner.put(imageBlobKey(hex), big, { contentType: 'application/octet-stream' });
      await inner.put(resourceKey(hex), big, { contentType: 'application/octet-stream' });
      for (const path of [`/v2/org/app/blobs/sha256:${hex}`, `/resource/${COORDINATE}/sha256:${hex}/big.bin`]) {
        let closedSocket!: () => void;
        const socketClosed = new Promise<void>((resolve) => (closedSocket = resolve));
        const request = httpRequest(`${server.url}${path}`, (response) => {
          response.once('data', () => {
            request.destroy();
          });
        });
        request.on('error', () => undefined);
        request.on('close', () => closedSocket());
        request.end();
        await slowStore.firstChunk;
        await socketClosed;
        // Let the server see the connection end before the next chunk arrives from storage.
        await new Promise((resolve) => setTimeout(resolve, 200));
        slowStore.resume();
      }
      await until(() => slowStore.closed === slowStore.opened, 5000, `every body handed out to be ended (${slowStore.closed} of ${slowStore.opened})`).catch(() => undefined);
      assert.equal(slowStore.closed, slowStore.opened, `bodies ended: ${slowStore.closed} of ${slowStore.opened} handed out (the others are held by a sendBody waiting for a 'drain' or 'close' that already happened)`);
    } finally {
      slowStore.resume();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a Lambda-configured context (no streaming, 4 MiB inline) still redirects above its limit', () => {
  const LIMIT = 4 * 1024 * 1024;
  let context: RegistryContext;
  const at = randomBytes(LIMIT);
  const over = randomBytes(LIMIT + 1);
  before(async () => {
    const { store } = await freshStore(true);
    context = {
      store,
      queue: new InProcessJobQueue(silentLogger),
      settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'https://registry.example', streamResponses: false, maxInlineResponseBytes: LIMIT },
      log: silentLogger,
      now: () => new Date(),
    };
    for (const bytes of [at, over]) {
      await store.put(imageBlobKey(sha(bytes)), bytes, { contentType: 'application/octet-stream' });
      await store.put(resourceKey(sha(bytes)), bytes, { contentType: 'application/octet-stream' });
    }
  });

  it('blob: at the limit inline (whole and ranged, as bodies), above it a redirect (with or without a range)', async () => {
    const whole = await serveDistribution(context, { method: 'GET', path: `org/app/blobs/sha256:${sha(at)}`, query: {} });
    assert.equal(whole.kind, 'body');
    assert.ok(whole.kind === 'body' && whole.body.equals(at));
    const ranged = await serveDistribution(context, { method: 'GET', path: `org/app/blobs/sha256:${sha(at)}`, query: {}, range: 'bytes=10-19' });
    assert.ok(ranged.kind === 'body' && ranged.status === 206 && ranged.body.equals(at.subarray(10, 20)));
    for (const range of [undefined, 'bytes=0-0']) {
      const large = await serveDistribution(context, { method: 'GET', path: `org/app/blobs/sha256:${sha(over)}`, query: {}, ...(range ? { range } : {}) });
      assert.equal(large.kind, 'redirect', `range ${range}`);
    }
  });

  it('resource: at the limit inline, above it a redirect', async () => {
    const whole = await serveResource(context, COORDINATE, `sha256:${sha(at)}`, 'f');
    assert.ok(whole.kind === 'body' && whole.status === 200 && whole.body.equals(at));
    const ranged = await serveResource(context, COORDINATE, `sha256:${sha(at)}`, 'f', 'bytes=-4');
    assert.ok(ranged.kind === 'body' && ranged.status === 206 && ranged.body.equals(at.subarray(at.length - 4)));
    const large = await serveResource(context, COORDINATE, `sha256:${sha(over)}`, 'f');
    assert.equal(large.kind, 'redirect');
    const unsatisfiable = await serveResource(context, COORDINATE, `sha256:${sha(at)}`, 'f', `bytes=${LIMIT}-`);
    assert.ok(unsatisfiable.kind === 'body' && unsatisfiable.status === 416);
    void readAllBytes;
  });
});
