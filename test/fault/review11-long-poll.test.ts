/**
 * Attack on long polling (record-watch.ts, handlers/watched-json.ts) of GET /v1/uploads/{id} and
 * GET /v1/packages/{name}/{version} over real HTTP: `If-None-Match` + `Prefer: wait=N`, and on the
 * ingest progress an attempt writes into its upload record (ingest.ts startHeartbeat).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { updateJson } from '../../lib/registry/json-objects.ts';
import { uploadRecordKey } from '../../lib/registry/layout.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import type { UploadRecord } from '../../lib/registry/records.ts';
import { sampleMetadata } from '../helpers/bundle-builder.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { until } from './review11-helpers.ts';

describe('long polling over HTTP', () => {
  let registry: Awaited<ReturnType<typeof startEmbeddedRegistry>>;
  let work: string;
  const api = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
    fetch(`${registry.url}${path}`, { ...init, headers: { authorization: `Bearer ${registry.token}`, 'content-type': 'application/json', ...headers } });
  const newUpload = async (): Promise<{ uploadId: string; etag: string }> => {
    const created = await api('/v1/uploads', {}, { method: 'POST', body: JSON.stringify({ size: 10, fileName: 'x.dcos' }) });
    assert.equal(created.status, 201);
    const { uploadId } = (await created.json()) as { uploadId: string };
    const first = await api(`/v1/uploads/${uploadId}`);
    await first.arrayBuffer();
    return { uploadId, etag: first.headers.get('etag')! };
  };
  /** A change of the record as any writer makes one (a new version, same status). */
  const touch = (uploadId: string) =>
    updateJson<UploadRecord>(registry.store, uploadRecordKey(uploadId), (current) => (current ? { ...current, updatedAt: new Date(Date.parse(current.updatedAt) + 1).toISOString() } : undefined));
  const soon = () => new Promise((resolve) => setTimeout(resolve, 400));

  before(async () => {
    registry = await startEmbeddedRegistry();
    work = await mkdtemp(join(tmpdir(), 'r11-poll-'));
  });
  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('the ETag is the stored one quoted once, and a wait still needs the token', async () => {
    const { uploadId, etag } = await newUpload();
    const stored = await registry.store.head(uploadRecordKey(uploadId));
    assert.match(etag, /^"[^"]+"$/);
    assert.equal(etag, `"${stored!.etag.replace(/"/g, '')}"`);
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789']) {
      const response = await fetch(`${registry.url}/v1/uploads/${uploadId}`, { headers: { ...(authorization ? { authorization } : {}), 'if-none-match': etag, prefer: 'wait=20' } });
      assert.equal(response.status, 401, `authorization ${authorization}`);
      assert.equal(response.headers.get('etag'), null, 'no version is told to a caller without the token');
    }
  });

  it('wait=0 and malformed waits answer at once (304, no Preference-Applied)', async () => {
    const { uploadId, etag } = await newUpload();
    for (const prefer of ['wait=0', 'wait=-1', 'wait=1.5', 'wait=', 'wait', 'await=5', 'x-wait=5', 'wait=abc']) {
      const response = await api(`/v1/uploads/${uploadId}`, { 'if-none-match': etag, prefer });
      assert.equal(response.status, 304, prefer);
      assert.equal(response.headers.get('preference-applied'), null, prefer);
      assert.equal(response.headers.get('etag'), etag);
    }
  });

  it('a wait among other preferences is applied', async () => {
    const { uploadId, etag } = await newUpload();
    for (const prefer of ['respond-async, wait=1', 'return=minimal; wait=1', 'WAIT=1']) {
      const response = await api(`/v1/uploads/${uploadId}`, { 'if-none-match': etag, prefer });
      assert.equal(response.status, 304, prefer);
      assert.equal(response.headers.get('preference-applied'), 'wait=1', prefer);
    }
  });

  it('a huge wait is capped at 20 s, not ignored (the record changes 0.4 s in: answered 200 then)', async () => {
    for (const wait of ['21', '9999', '100000', '99999999999999999999']) {
      const { uploadId, etag } = await newUpload();
      const watching = api(`/v1/uploads/${uploadId}`, { 'if-none-match': etag, prefer: `wait=${wait}` });
      await soon();
      await touch(uploadId);
      const answer = await watching;
      assert.deepEqual({ status: answer.status, applied: answer.headers.get('preference-applied') }, { status: 200, applied: 'wait=20' }, `Prefer: wait=${wait}`);
    }
  });

  it('several waiters at once all get the new version as soon as it is written', async () => {
    const { uploadId, etag } = await newUpload();
    const waiters = Array.from({ length: 6 }, () => api(`/v1/uploads/${uploadId}`, { 'if-none-match': etag, prefer: 'wait=20' }));
    await soon();
    await touch(uploadId);
    const answers = await Promise.all(waiters);
    const fresh = await api(`/v1/uploads/${uploadId}`);
    await fresh.arrayBuffer();
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get('etag'), fresh.headers.get('etag'));
      assert.notEqual(answer.headers.get('etag'), etag);
      assert.equal(answer.headers.get('cache-control'), 'no-store');
    }
  });

  it('a record deleted while a client waits: 404, at once', async () => {
    const { uploadId, etag } = await newUpload();
    const watching = api(`/v1/uploads/${uploadId}`, { 'if-none-match': etag, prefer: 'wait=20' });
    await soon();
    await registry.store.delete(uploadRecordKey(uploadId));
    const answer = await watching;
    assert.equal(answer.status, 404);
    assert.equal(((await answer.json()) as { type: string }).type, 'UploadNotFound');
  });

  it('If-None-Match is compared weakly (RFC 9110 §13.1.2): W/"etag", a list holding it, and * all mean "I have it"', async () => {
    const { uploadId, etag } = await newUpload();
    for (const ifNoneMatch of [`W/${etag}`, `"something-else", ${etag}`, '*']) {
      const response = await api(`/v1/uploads/${uploadId}`, { 'if-none-match': ifNoneMatch });
      assert.equal(response.status, 304, `If-None-Match: ${ifNoneMatch}`);
    }
  });

  it('a package record: 304 after the wait when unchanged, 200 with the Removing record as soon as its removal is asked for', async () => {
    const added = await httpAdd(registry.url, registry.token, await readFile(await writeSampleBundle(work)));
    assert.equal(added.status, 'Accepted');
    await registry.settled();
    const { name, version } = sampleMetadata();
    const described = await api(`/v1/packages/${name}/${version}`);
    const etag = described.headers.get('etag')!;
    assert.equal(((await described.json()) as { status: string }).status, 'Added');
    const unchanged = await api(`/v1/packages/${name}/${version}`, { 'if-none-match': etag, prefer: 'wait=1' });
    assert.equal(unchanged.status, 304);
    const watching = api(`/v1/packages/${name}/${version}`, { 'if-none-match': etag, prefer: 'wait=20' });
    await soon();
    const removal = await api(`/v1/packages/${name}/${version}`, {}, { method: 'DELETE' });
    assert.ok(removal.status === 202 || removal.status === 200, `removal: ${removal.status}`);
    const changed = await watching;
    assert.ok(changed.status === 200 || changed.status === 404, `answered ${changed.status}`);
    assert.notEqual(changed.headers.get('etag'), etag);
  });
});

describe('ingest progress in the upload record', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness({ maxAttempts: 1 })));
  afterEach(() => h.close());

  /** An ingest stalled in its second file's put, after its progress was written, past the stale age (2 s here). */
  async function stalledIngest(id: string): Promise<{ key: string; gate: Gate; attempt: Promise<unknown>; stalledAt: number }> {
    const files = [0, 1, 2].map((index) => Buffer.alloc(128 * 1024, index + 1));
    const key = await h.upload(craftedBundle({ name: id, files }), id);
    const gate = new Gate();
    h.store.inject({ op: 'put', key: 'resources/', skip: 1, action: { kind: 'pause', gate } });
    const attempt = h.ingest(key).catch((error: unknown) => error);
    await gate.reached;
    const stalledAt = Date.now();
    await until(async () => (await h.uploadRecord(id))?.progress !== undefined, 5000, 'the progress to be written');
    await until(() => Date.now() - stalledAt > 2600, 10_000, 'the stale age to pass');
    return { key, gate, attempt, stalledAt };
  }

  it('a stalled attempt: its heartbeat stops at its last sign of life, and a later event takes the upload over', async () => {
    const { key, gate, attempt, stalledAt } = await stalledIngest('stalled-upload');
    const stalled = (await h.uploadRecord('stalled-upload'))!;
    assert.equal(stalled.status, 'Validating');
    assert.ok(Date.parse(stalled.updatedAt) <= stalledAt + 50, `updatedAt ${stalled.updatedAt} is no later than the stall (${new Date(stalledAt).toISOString()})`);
    assert.ok(stalled.progress!.bytesDone <= stalled.progress!.bytesTotal && stalled.progress!.filesDone <= stalled.progress!.filesTotal);
    const takeover = await h.ingest(key);
    assert.notEqual(takeover.outcome, 'ignored', `the stalled attempt still held the upload: ${JSON.stringify(takeover)}`);
    gate.release();
    await attempt;
    const ended = (await h.uploadRecord('stalled-upload'))!;
    assert.equal(ended.status, 'Accepted');
    assert.equal(ended.progress, undefined);
  });

  it('an upload the reconciler ends (its last attempt stalled) carries no progress', async () => {
    const { gate, attempt } = await stalledIngest('ended-upload');
    // Out of attempts, nothing alive to record it: the reconciler ends the upload.
    const report = await reconcile(h.context);
    assert.equal(report.uploadsEnded, 1);
    gate.release();
    await attempt;
    const ended = (await h.uploadRecord('ended-upload'))!;
    assert.equal(ended.status, 'Rejected');
    assert.equal(ended.progress, undefined, `an ended upload carries no progress: ${JSON.stringify(ended.progress)}`);
  });
});
