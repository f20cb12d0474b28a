/**
 * Bad input is bounded and changes nothing (issue 12, item 4), over real HTTP on the embedded
 * server and on the AWS-shaped stack (local S3, where the upload URL is an S3 presigned URL and
 * S3's own signature check refuses another length): an upload URL takes exactly the announced
 * length, once; a second bundle PUT to a used upload is not ingested; a management body over its
 * limit is 413 and a malformed percent-escape 400. Each refusal is checked for what it stored.
 */
import assert from 'node:assert/strict';
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { startAwsStack } from '../helpers/local-aws/aws-stack.ts';
import { storedKeys, type RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { sampleBundleEntries, sampleMetadata } from '../helpers/bundle-builder.ts';
import { craftZip } from '../helpers/zip-crafter.ts';
import { MAX_DOCUMENT_BYTES } from '../../lib/bundle/bundle-reader.ts';
import { randomBytes } from 'node:crypto';

interface Ticket {
  uploadId: string;
  upload: { url: string; headers: Record<string, string> };
}

const backends: [string, () => Promise<RegistryUnderTest>][] = [
  ['embedded server', () => startEmbeddedRegistry()],
  ['AWS-shaped stack on local S3', () => startAwsStack()],
];

for (const [label, start] of backends) {
  describe(`upload and request bounds: ${label}`, { timeout: 120_000 }, () => {
    let registry: RegistryUnderTest;
    let work: string;
    let bundle: Buffer;
    before(async () => {
      registry = await start();
      work = await mkdtemp(join(tmpdir(), 'upload-bounds-'));
      bundle = await readFile(await writeSampleBundle(work));
    });
    after(async () => {
      await registry?.close();
      await rm(work, { recursive: true, force: true });
    });

    const api = (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${registry.url}${path}`, { ...init, headers: { authorization: `Bearer ${registry.token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
    const ticketFor = async (size: number): Promise<Ticket> => {
      const response = await api('/v1/uploads', { method: 'POST', body: JSON.stringify({ size, fileName: 'bounded.dcos' }) });
      assert.equal(response.status, 201, await response.clone().text());
      return (await response.json()) as Ticket;
    };
    const put = (ticket: Ticket, body: Buffer): Promise<Response> => fetch(ticket.upload.url, { method: 'PUT', headers: ticket.upload.headers, body });
    const statusOf = async (uploadId: string): Promise<{ status: string; packages: { name: string }[] }> => (await (await api(`/v1/uploads/${uploadId}`)).json()) as { status: string; packages: { name: string }[] };

    it('an upload URL refuses a body longer or shorter than announced, and stores nothing', async () => {
      const ticket = await ticketFor(bundle.length);
      await registry.settled();
      const before = await storedKeys(registry);
      for (const body of [Buffer.concat([bundle, Buffer.from('x')]), bundle.subarray(0, bundle.length - 1), Buffer.alloc(30 * 1024 * 1024)]) {
        // A server may answer and close before the whole body is sent: the client then sees the
        // connection end instead of the answer. Either way it is refused.
        const status = await put(ticket, body).then(
          async (response) => (await response.arrayBuffer(), response.status),
          () => 'connection closed',
        );
        assert.ok(typeof status === 'string' || (status >= 400 && status < 500), `a ${body.length}-byte PUT for ${bundle.length} answered ${status}`);
      }
      await registry.settled();
      assert.deepEqual(await storedKeys(registry), before, 'a refused PUT stored something');
      assert.equal((await statusOf(ticket.uploadId)).status, 'Uploading');
      // The announced length itself is taken.
      const accepted = await put(ticket, bundle);
      assert.equal(accepted.status, 200, await accepted.text());
    });

    it('a second PUT to a used upload URL is refused or not ingested: the outcome stays', async () => {
      const ticket = await ticketFor(bundle.length);
      assert.equal((await put(ticket, bundle)).status, 200);
      await api(`/v1/uploads/${ticket.uploadId}/complete`, { method: 'POST', body: '{}' });
      await registry.settled();
      const first = await statusOf(ticket.uploadId);
      assert.equal(first.status, 'Accepted');
      // Another bundle of the same length (the sample's bytes with its comment byte changed would
      // not open; any same-length bytes will do): refused by storage, or left un-ingested.
      const other = Buffer.alloc(bundle.length, 7);
      const second = await put(ticket, other);
      await second.arrayBuffer();
      assert.ok(second.status === 412 || second.status === 200, `the second PUT answered ${second.status}`);
      await registry.settled();
      const after = await statusOf(ticket.uploadId);
      assert.deepEqual(after, first, `the second PUT (answered ${second.status}) changed the upload's record`);
      assert.ok(!(await storedKeys(registry, 'uploads/')).some((key) => key.endsWith('.dcos')), 'the second bundle is left in storage');
    });

    it('a bundle whose metadata.json is one byte over 4 MiB is Rejected as DocumentTooLarge, and no package is written', async () => {
      const metadata = sampleMetadata() as unknown as Record<string, unknown>;
      const base = JSON.stringify({ ...metadata, description: '' }).length;
      const oversized = { ...metadata, description: randomBytes(MAX_DOCUMENT_BYTES).toString('base64').slice(0, MAX_DOCUMENT_BYTES + 1 - base) };
      const bytes = craftZip(sampleBundleEntries(oversized));
      await registry.settled();
      const packagesBefore = await storedKeys(registry, 'packages/');
      const ticket = await ticketFor(bytes.length);
      assert.equal((await put(ticket, bytes)).status, 200);
      await api(`/v1/uploads/${ticket.uploadId}/complete`, { method: 'POST', body: '{}' });
      await registry.settled();
      const record = (await (await api(`/v1/uploads/${ticket.uploadId}`)).json()) as { status: string; error: { type: string; data: { size: number } } };
      assert.equal(record.status, 'Rejected');
      assert.equal(record.error.type, 'DocumentTooLarge');
      assert.equal(record.error.data.size, MAX_DOCUMENT_BYTES + 1);
      assert.deepEqual(await storedKeys(registry, 'packages/'), packagesBefore);
    });

    it('refuses an upload without a size, a management body over 1 MiB (413), and malformed percent-escapes (400), storing nothing', async () => {
      await registry.settled();
      const before = await storedKeys(registry);
      const noSize = await api('/v1/uploads', { method: 'POST', body: '{"fileName":"x.dcos"}' });
      assert.equal(noSize.status, 400);
      assert.equal(((await noSize.json()) as { type: string }).type, 'InvalidRequest');
      // A body of exactly 1 MiB is read (and refused for its over-long fileName, 400); one byte more is 413.
      const bodyOf = (length: number): string => {
        const shell = JSON.stringify({ size: 10, fileName: '' });
        return JSON.stringify({ size: 10, fileName: 'x'.repeat(length - shell.length) });
      };
      assert.equal(bodyOf(1024 * 1024).length, 1024 * 1024);
      const atLimit = await api('/v1/uploads', { method: 'POST', body: bodyOf(1024 * 1024) });
      assert.equal(atLimit.status, 400, await atLimit.clone().text());
      assert.equal(((await atLimit.json()) as { type: string }).type, 'InvalidRequest');
      const big = await api('/v1/uploads', { method: 'POST', body: bodyOf(1024 * 1024 + 1) }).catch((error: Error) => error);
      // A server may close the connection after a 413 before the client sent everything.
      if (big instanceof Response) {
        assert.equal(big.status, 413);
        assert.equal(((await big.json()) as { type: string }).type, 'PayloadTooLarge');
      }
      for (const path of ['/v1/packages/%ZZ/1.0.0', '/v1/uploads/%E0%A4%A', '/resource/%E0%A4%A/sha256%3A00/x']) {
        const response = await api(path);
        assert.equal(response.status, 400, `${path}: ${await response.clone().text()}`);
        await response.arrayBuffer();
      }
      await registry.settled();
      assert.deepEqual(await storedKeys(registry), before);
    });
  });
}
