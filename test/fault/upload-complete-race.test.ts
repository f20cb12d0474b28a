/**
 * `complete` when the registry has taken the bundle already (issue 10, item 3): the storage event
 * (or the embedded server's PUT) starts ingestion, which records the outcome and deletes the
 * bundle; a `complete` that read the record before that and looked for the bundle after must
 * answer the upload's true state, never "no bundle yet".
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../lib/registry/context.ts';
import { ingestBundle } from '../../lib/registry/ingest.ts';
import { completeUpload, createUpload, getUpload } from '../../lib/registry/uploads.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import { ChaoticQueue } from '../helpers/faults/chaotic-queue.ts';
import { FaultyStore, Gate } from '../helpers/faults/faulty-store.ts';
import { craftedBundle } from '../helpers/faults/registry-harness.ts';

describe('upload completion racing ingestion', () => {
  let directory: string;
  let store: FaultyStore;
  let queue: ChaoticQueue;
  let context: RegistryContext;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'complete-race-'));
    store = new FaultyStore(new FsObjectStore(directory, (method, key) => `http://registry.test/_store/${key}?method=${method}`));
    queue = new ChaoticQueue();
    context = { store, queue, settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry.test', gcGraceSeconds: 0 }, log: silentLogger, now: () => new Date() };
  });
  after(() => rm(directory, { recursive: true, force: true }));

  it('answers the recorded outcome when ingestion finished between its record read and its bundle check', async () => {
    const ticket = await createUpload(context, { fileName: 'raced.dcos' });
    const bundleKey = (await getUpload(context, ticket.uploadId)).bundleKey;
    await store.inner.put(bundleKey, craftedBundle({ name: 'raced' }));
    // complete has read the record (Uploading) and is about to look for the bundle.
    const gate = new Gate();
    store.inject({ op: 'head', key: bundleKey, action: { kind: 'pause', gate } });
    const completing = completeUpload(context, ticket.uploadId, undefined);
    await gate.reached;
    const ingested = await ingestBundle({ ...context, store: store.inner }, bundleKey);
    assert.equal(ingested.outcome, 'accepted');
    assert.equal(await store.inner.head(bundleKey), undefined, 'ingestion deleted the bundle');
    gate.release();
    const { record, present } = await completing;
    assert.equal(present, false);
    assert.equal(record.status, 'Accepted', 'the true state, not Uploading');
    assert.deepEqual(record.packages.map((pkg) => pkg.name), ['raced']);
    await queue.run((job, attempt) => handleJob(context, job, attempt));
  });

  it('still says the bytes are missing when no bundle ever came', async () => {
    const ticket = await createUpload(context, {});
    const { record, present } = await completeUpload(context, ticket.uploadId, undefined);
    assert.equal(present, false);
    assert.equal(record.status, 'Uploading');
  });
});
