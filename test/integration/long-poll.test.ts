/**
 * Long polling of the upload and package records over real HTTP (issue 11, item 4): a client
 * that has a version of a record (its ETag) and says it will wait (`Prefer: wait=N`) gets the
 * next version as soon as there is one, or a 304 once the wait is over; `add --wait` follows an
 * upload to Added that way, with no sleep of its own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { sampleMetadata } from '../helpers/bundle-builder.ts';

describe('long polling of upload and package records', () => {
  let registry: RegistryUnderTest;
  let work: string;
  let bundle: string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${registry.url}${path}`, { ...init, headers: { authorization: `Bearer ${registry.token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });

  before(async () => {
    registry = await startEmbeddedRegistry();
    work = await mkdtemp(join(tmpdir(), 'long-poll-'));
    bundle = await writeSampleBundle(work);
  });
  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('answers a record with its ETag, 304 when it did not change within the wait, and the new version as soon as it changes', async () => {
    const bytes = await readFile(bundle);
    const created = await api('/v1/uploads', { method: 'POST', body: JSON.stringify({ size: bytes.length, fileName: 'sample.dcos' }) });
    assert.equal(created.status, 201);
    const ticket = (await created.json()) as { uploadId: string; upload: { url: string } };
    const first = await api(`/v1/uploads/${ticket.uploadId}`);
    const etag = first.headers.get('etag');
    assert.ok(etag, 'the record comes with its ETag');
    assert.equal(((await first.json()) as { status: string }).status, 'Uploading');

    // Unchanged: without a wait at once, with one when the wait is over; either way a 304.
    const unchanged = await api(`/v1/uploads/${ticket.uploadId}`, { headers: { 'if-none-match': etag } });
    assert.equal(unchanged.status, 304);
    const waited = await api(`/v1/uploads/${ticket.uploadId}`, { headers: { 'if-none-match': etag, prefer: 'wait=1' } });
    assert.equal(waited.status, 304);
    assert.equal(waited.headers.get('preference-applied'), 'wait=1');
    assert.equal(waited.headers.get('etag'), etag);

    // Changed while waiting: the answer is the new version (a wait of 20 s that ends in a 304
    // would fail this), and it says so with a new ETag.
    const watching = api(`/v1/uploads/${ticket.uploadId}`, { headers: { 'if-none-match': etag, prefer: 'wait=20' } });
    const put = await fetch(new URL(ticket.upload.url, registry.url), { method: 'PUT', body: bytes });
    assert.ok(put.ok);
    assert.equal((await api(`/v1/uploads/${ticket.uploadId}/complete`, { method: 'POST', body: '{}' })).status, 202);
    const changed = await watching;
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), etag);
    assert.notEqual(((await changed.json()) as { status: string }).status, 'Uploading');

    // A package record is followed the same way, until Added.
    await registry.settled();
    const { name, version } = sampleMetadata();
    const described = await api(`/v1/packages/${name}/${version}`);
    assert.equal(((await described.json()) as { status: string }).status, 'Added');
    const same = await api(`/v1/packages/${name}/${version}`, { headers: { 'if-none-match': described.headers.get('etag')!, prefer: 'wait=1' } });
    assert.equal(same.status, 304);
  });

  it('bounds the wait a client may ask for, and ignores a malformed one', async () => {
    const created = await api('/v1/uploads', { method: 'POST', body: JSON.stringify({ size: 10, fileName: 'x.dcos' }) });
    const { uploadId } = (await created.json()) as { uploadId: string };
    const etag = (await api(`/v1/uploads/${uploadId}`)).headers.get('etag')!;
    const malformed = await api(`/v1/uploads/${uploadId}`, { headers: { 'if-none-match': etag, prefer: 'wait=soon' } });
    assert.equal(malformed.status, 304);
    assert.equal(malformed.headers.get('preference-applied'), null, 'no wait was applied');
    const stale = await api(`/v1/uploads/${uploadId}`, { headers: { 'if-none-match': '"not-this-one"', prefer: 'wait=20' } });
    assert.equal(stale.status, 200, 'a version the client does not have is answered at once');
  });

  it('follows an upload to Added with add --wait', async () => {
    const other = await writeSampleBundle(await mkdtemp(join(work, 'again-')));
    const result = await runBuiltCli(['add', `--dcos-file=${other}`, '--wait', `--url=${registry.url}`, '--json'], { env: { DCOS_REGISTRY_TOKEN: registry.token } });
    assert.equal(result.code, 0, result.stderr);
    const { name, version } = sampleMetadata();
    assert.deepEqual((JSON.parse(result.stdout) as { packages: unknown[] }).packages, [{ name, version }]);
  });
});
