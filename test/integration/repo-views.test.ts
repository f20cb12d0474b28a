/**
 * /repo over HTTP as Cosmos of each DC/OS generation reads it, from the embedded server (which
 * streams the stored bytes) and through the Lambda handler path (which redirects what it cannot
 * send inline): every view equals the document filtered the slow way, each has its own ETag and
 * 304, HEAD sends no body, and a client that takes no gzip gets the same document decoded.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../lib/adapters/job-queue/in-process-job-queue.ts';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../lib/registry/context.ts';
import { repositoryVariant, type RepositoryDocument, type RepoVersion } from '../../lib/registry/index-document.ts';
import { entryPieceOf } from '../../lib/registry/index-store/entry-pieces.ts';
import { commitIndexChange, readPublishedDocument } from '../../lib/registry/index-store/index-writer.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import type { JsonObject } from '../../lib/universe/package-model.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const accept = (versions: RepoVersion[]): string => versions.map((version) => `application/vnd.dcos.universe.repo+json;charset=utf-8;version=${version}`).join(',');
/** What Cosmos of each generation sends (spec §6.4): the media types it takes and its DC/OS version. */
const CLIENTS = [
  { label: 'DC/OS 2.1', accept: accept(['v5', 'v4', 'v3']), userAgent: 'cosmos/0.6.3 dcos/2.1.0', media: 'v5', dcos: '2.1' },
  { label: 'DC/OS 1.12', accept: accept(['v5', 'v4', 'v3']), userAgent: 'cosmos/0.6.0 dcos/1.12.4', media: 'v5', dcos: '1.12' },
  { label: 'DC/OS 1.11', accept: accept(['v4', 'v3']), userAgent: 'cosmos/0.5.0 dcos/1.11.0', media: 'v4', dcos: '1.11' },
  { label: 'DC/OS 1.10', accept: accept(['v4', 'v3']), userAgent: 'cosmos/0.4.0 dcos/1.10.4', media: 'v4', dcos: '1.10' },
  { label: 'DC/OS 1.9', accept: accept(['v3']), userAgent: 'cosmos/0.3.0 dcos/1.9.1', media: 'v3', dcos: '1.9' },
  { label: 'no User-Agent', accept: accept(['v5', 'v4', 'v3']), userAgent: undefined, media: 'v5', dcos: undefined },
] as const;

function entries(): JsonObject[] {
  const entry = (name: string, packagingVersion: string, releaseVersion: number, minimum?: string): JsonObject => ({
    packagingVersion,
    name,
    version: '1.0',
    maintainer: 'ops@example.com',
    // Incompressible enough that views pass a few KiB.
    description: `${name} ${createHash('sha512').update(name).digest('hex').repeat(4)}${randomBytes(1500).toString('hex')}`,
    tags: [],
    releaseVersion,
    ...(minimum ? { minDcosReleaseVersion: minimum } : {}),
  });
  return [
    entry('plain', '2.0', 1),
    entry('old-three', '3.0', 2, '1.8'),
    entry('four-ten', '4.0', 3, '1.10'),
    entry('four-eleven', '4.0', 8, '1.11'),
    entry('four-twelve', '4.0', 4, '1.12'),
    entry('five-twelve', '5.0', 5, '1.12'),
    entry('five-two-one', '5.0', 6, '2.1'),
    entry('future', '4.0', 7, '999'),
  ];
}

async function publishAll(context: { store: FsObjectStore | RegistryUnderTest['store'] }, hosts: { publicBaseUrl: string; dockerHost: string; materializeViewsAbove?: number }): Promise<RepositoryDocument> {
  for (const entry of entries()) {
    const piece = await entryPieceOf(entry);
    await commitIndexChange(context.store, hosts, () => ({ kind: 'edit', add: [piece] }));
  }
  return (await readPublishedDocument(context.store))!.document;
}

function get(url: string, headers: Record<string, string | undefined>, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(headers).filter((pair): pair is [string, string] => pair[1] !== undefined));
    http
      .request(url, { method, headers: clean }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject)
      .end();
  });
}

describe('/repo views on the embedded server', () => {
  let registry: RegistryUnderTest;
  let full: RepositoryDocument;
  before(async () => {
    registry = await startEmbeddedRegistry();
    full = await publishAll(registry, { publicBaseUrl: registry.url, dockerHost: 'registry' });
  });
  after(async () => registry?.close());

  it('gives each Cosmos its view, with its own ETag and 304', async () => {
    const etags = new Set<string>();
    for (const client of CLIENTS) {
      const headers = { accept: client.accept, 'accept-encoding': 'gzip', 'user-agent': client.userAgent };
      const response = await get(`${registry.url}/repo`, headers);
      assert.equal(response.status, 200, client.label);
      assert.equal(response.headers['content-type'], `application/vnd.dcos.universe.repo+json;charset=utf-8;version=${client.media}`);
      assert.equal(response.headers['content-encoding'], 'gzip');
      assert.equal(Number(response.headers['content-length']), response.body.length);
      const document = JSON.parse(gunzipSync(response.body).toString('utf8')) as RepositoryDocument;
      assert.deepEqual(document, repositoryVariant(full, client.media, client.dcos), client.label);
      const etag = String(response.headers.etag);
      etags.add(etag);
      const again = await get(`${registry.url}/repo`, { ...headers, 'if-none-match': etag });
      assert.equal(again.status, 304, `${client.label}: 304 for its own ETag`);
      assert.equal(again.body.length, 0);
      const head = await get(`${registry.url}/repo`, headers, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers.etag, etag);
    }
    assert.equal(etags.size, CLIENTS.length, 'six different views, six ETags');
    // A view's ETag never answers 304 for another view.
    const older = await get(`${registry.url}/repo`, { accept: CLIENTS[3].accept, 'accept-encoding': 'gzip', 'user-agent': CLIENTS[3].userAgent, 'if-none-match': [...etags][0]! });
    assert.equal(older.status, 200);
  });

  it('decodes for a client that takes no gzip', async () => {
    const response = await get(`${registry.url}/repo`, { accept: CLIENTS[2].accept, 'user-agent': CLIENTS[2].userAgent });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(response.body.toString('utf8')), repositoryVariant(full, 'v4', '1.11'));
  });

  it('serves a change at once (the cached object is checked on every request)', async () => {
    const before = await get(`${registry.url}/repo`, { accept: CLIENTS[0].accept, 'accept-encoding': 'gzip', 'user-agent': CLIENTS[0].userAgent });
    await commitIndexChange(registry.store, { publicBaseUrl: registry.url, dockerHost: 'registry' }, () => ({ kind: 'edit', remove: (row) => row.name === 'five-twelve' }));
    const after = await get(`${registry.url}/repo`, { accept: CLIENTS[0].accept, 'accept-encoding': 'gzip', 'user-agent': CLIENTS[0].userAgent });
    assert.notEqual(after.headers.etag, before.headers.etag);
    const names = (JSON.parse(gunzipSync(after.body).toString('utf8')) as RepositoryDocument).packages.map((entry) => entry.name);
    assert.ok(!names.includes('five-twelve'));
    assert.ok(names.includes('five-two-one'));
  });
});

describe('/repo views where responses are size-limited (Lambda)', () => {
  it('redirects a view too large to send inline to its own stored object, which holds exactly that view', async () => {
    const directory = await temporaryDirectory();
    const store = new FsObjectStore(directory, (method, key) => `https://bucket.example/${key}?method=${method}`);
    const limit = 4 * 1024;
    const full = await publishAll({ store }, { publicBaseUrl: 'https://registry.example', dockerHost: 'registry.example', materializeViewsAbove: limit });
    const context: RegistryContext = {
      store,
      queue: new InProcessJobQueue(silentLogger),
      settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'https://registry.example', maxInlineResponseBytes: limit, streamResponses: false },
      log: silentLogger,
      now: () => new Date(),
    };
    let redirected = 0;
    for (const client of CLIENTS) {
      const reply = await serveRepository(context, { accept: client.accept, acceptEncoding: 'gzip', userAgent: client.userAgent, ifNoneMatch: undefined });
      const expected = repositoryVariant(full, client.media, client.dcos);
      if (reply.kind === 'redirect') {
        redirected++;
        assert.match(reply.location, /^https:\/\/bucket\.example\//, 'the same scheme as the registry: never a downgrade');
        const key = decodeURIComponent(new URL(reply.location).pathname.slice(1));
        const object = await store.get(key);
        assert.deepEqual(JSON.parse(gunzipSync(await readAllBytes(object.body)).toString('utf8')), expected, client.label);
      } else {
        assert.ok(reply.kind === 'stream' || reply.kind === 'body', `${client.label}: ${reply.kind}`);
        const body = reply.kind === 'stream' ? await readAllBytes(reply.body) : reply.body;
        assert.ok(body.length <= limit, `${client.label}: sent inline only below the limit`);
        assert.deepEqual(JSON.parse(gunzipSync(body).toString('utf8')), expected, client.label);
      }
    }
    assert.ok(redirected >= 3, `most views are above 4 KiB (${redirected} redirected)`);
  });
});
