/**
 * The state model under faults (issue 8): each test drives one interleaving the outside review
 * reproduced, through the real ingest, publisher, collector and reconciler, with a store that
 * pauses or fails one chosen call and a queue that duplicates and reorders. Each ends with the
 * same checks: /repo names only stored content and fsck finds nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobQueue } from '../../lib/ports/job-queue.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob, publishPackage, reindex } from '../../lib/registry/publisher.ts';
import { resourceKey, INDEX_KEY, GC_RUNS_PREFIX, fragmentKey, packageMetadataKey } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { invalidKeyReason } from '../../lib/ports/object-store.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';

const large = (seed: string) => sizedBytes(3 * 1024 * 1024, seed);

async function assertHealthy(harness: Harness): Promise<void> {
  const report = await harness.fsck();
  assert.deepEqual(report.violations, [], 'fsck finds nothing');
}

describe('state model: duplicate and late events', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('drops a second event while a live attempt holds the upload, and keeps the outcome Accepted', async () => {
    const key = await harness.upload(craftedBundle({ name: 'dup', files: [large('dup')] }), 'dup-upload-1');
    const gate = new Gate();
    harness.store.inject({ op: 'put', key: 'resources/sha256/', action: { kind: 'pause', gate } });
    const first = harness.ingest(key);
    await gate.reached;
    const second = await harness.ingest(key);
    assert.equal(second.outcome, 'ignored');
    gate.release();
    assert.equal((await first).outcome, 'accepted');
    const late = await harness.ingest(key);
    assert.equal(late.outcome, 'ignored', 'the bundle is gone once its outcome is recorded');
    await harness.drain({ duplicate: true });
    assert.equal((await harness.uploadRecord('dup-upload-1'))?.status, 'Accepted');
    assert.equal((await harness.record('dup', '1.0.0'))?.status, 'Added');
    await assertHealthy(harness);
  });

  it('an attempt taken over while paused ends without touching the published package (no TruncatedArchive)', async () => {
    const key = await harness.upload(craftedBundle({ name: 'takeover', files: [large('takeover')] }), 'takeover-upload');
    const gate = new Gate();
    // Paused after its first ranged read of the bundle: the next read is after the takeover.
    harness.store.inject({ op: 'get', key: 'uploads/takeover-upload.dcos', skip: 3, action: { kind: 'pause', gate } });
    const first = harness.ingest(key);
    await gate.reached;
    await new Promise((resolve) => setTimeout(resolve, 2100)); // its heartbeat is older than the stale age (2 s)
    harness.store.clear();
    const second = await harness.ingest(key);
    assert.equal(second.outcome, 'accepted');
    await harness.drain();
    gate.release();
    await assert.rejects(first, (error: Error) => error.name === 'ByteSourceError', 'a storage failure, retried, not the bundle refused');
    assert.equal((await harness.uploadRecord('takeover-upload'))?.status, 'Accepted');
    assert.equal((await harness.record('takeover', '1.0.0'))?.status, 'Added');
    await collectGarbage(harness.context);
    assert.ok(await harness.inner.head(resourceKey(sha256Hex(large('takeover')))), 'the published file is kept');
    await assertHealthy(harness);
  });

  it('re-ingests a drop of the same bytes under the same name after its package was removed (S3-style ETags)', async () => {
    const bytes = craftedBundle({ name: 'redrop' });
    await harness.inner.put('drop/redrop.dcos', bytes);
    assert.equal((await harness.ingest('drop/redrop.dcos')).outcome, 'accepted');
    await harness.drain();
    await requestRemoval(harness.context, 'redrop', '1.0.0');
    await harness.drain();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await harness.inner.put('drop/redrop.dcos', bytes);
    const again = await harness.ingest('drop/redrop.dcos');
    assert.equal(again.outcome, 'accepted');
    assert.equal((again as { unchanged: boolean }).unchanged, false, 'ingested again, not skipped as a repeat');
    await harness.drain();
    assert.equal((await harness.record('redrop', '1.0.0'))?.status, 'Added');
    await assertHealthy(harness);
  });
});

describe('state model: transient failures are retried, never blamed on the bundle', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('a read reset mid-copy keeps the bundle; the retry adds the package', async () => {
    const key = await harness.upload(craftedBundle({ name: 'reset', files: [large('reset')] }), 'reset-upload');
    harness.store.inject({ op: 'get', key: 'uploads/reset-upload.dcos', times: 50, action: { kind: 'cut', afterBytes: 100_000 } });
    await assert.rejects(harness.ingest(key), (error: Error) => error.name === 'ByteSourceError');
    harness.store.clear();
    const during = await harness.uploadRecord('reset-upload');
    assert.equal(during?.status, 'Validating');
    assert.equal(during?.attemptId, undefined, 'the claim is released for the retry');
    assert.ok(await harness.inner.head(key), 'the bundle is kept for the retry');
    assert.equal((await harness.record('reset', '1.0.0'))?.status, undefined, 'nothing marked Failed');
    assert.equal((await harness.ingest(key)).outcome, 'accepted');
    await harness.drain();
    assert.equal((await harness.record('reset', '1.0.0'))?.status, 'Added');
    await assertHealthy(harness);
  });

  it('a queue send that fails after staging keeps the bundle; the retry queues the publish', async () => {
    const key = await harness.upload(craftedBundle({ name: 'sendfail' }), 'sendfail-upload');
    const real = harness.queue;
    let failures = 1;
    const flaky: JobQueue = { name: 'flaky', send: async (job, options) => (failures-- > 0 ? Promise.reject(new Error('SQS unavailable')) : real.send(job)) };
    await assert.rejects(harness.ingest(key, { ...harness.context, queue: flaky }));
    assert.ok(await harness.inner.head(key));
    assert.equal((await harness.ingest(key, { ...harness.context, queue: flaky })).outcome, 'accepted');
    await harness.drain();
    assert.equal((await harness.record('sendfail', '1.0.0'))?.status, 'Added');
    assert.equal((await harness.uploadRecord('sendfail-upload'))?.status, 'Accepted');
    await assertHealthy(harness);
  });

  it('after the last attempt an internal failure ends the upload Rejected with the reason (no upload stays Validating)', async () => {
    const key = await harness.upload(craftedBundle({ name: 'always', files: [large('always')] }), 'always-upload');
    harness.store.inject({ op: 'put', key: 'resources/sha256/', times: 10, action: { kind: 'fail' } });
    for (let attempt = 1; attempt < harness.context.settings.maxAttempts; attempt++) await assert.rejects(harness.ingest(key));
    const final = await harness.ingest(key);
    harness.store.clear();
    assert.equal(final.outcome, 'rejected');
    const upload = await harness.uploadRecord('always-upload');
    assert.equal(upload?.status, 'Rejected');
    assert.equal(upload?.error?.type, 'InternalError');
    assert.match(upload?.error?.message ?? '', /3 attempts.*injected failure/);
    assert.equal((await harness.record('always', '1.0.0'))?.status, 'Failed');
    assert.equal(await harness.inner.head(key), undefined, 'the bundle goes once the outcome is recorded');
    await assertHealthy(harness);
  });
});

describe('state model: jobs that fail never block the queue', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('a publish whose file vanished is recorded Failed at once; the job behind it runs', async () => {
    const files = [large('vanish')];
    await harness.ingest(await harness.upload(craftedBundle({ name: 'vanish', files })));
    await harness.ingest(await harness.upload(craftedBundle({ name: 'behind' })));
    await harness.inner.delete(resourceKey(sha256Hex(files[0]!)));
    const [first, second] = harness.queue.sent.slice(-2);
    await handleJob(harness.context, first!, 1); // does not throw: recorded
    const vanished = await harness.record('vanish', '1.0.0');
    assert.equal(vanished?.status, 'Failed');
    assert.equal(vanished?.error?.type, 'ResourceMissing');
    await handleJob(harness.context, second!, 1);
    assert.equal((await harness.record('behind', '1.0.0'))?.status, 'Added');
    await harness.drain();
    await assertHealthy(harness);
  });

  it('a transient failure is retried maxAttempts times, then recorded', async () => {
    await harness.ingest(await harness.upload(craftedBundle({ name: 'flaky-index' })));
    const job = harness.queue.sent.at(-1)!;
    harness.store.inject({ op: 'put', key: INDEX_KEY, times: 10, action: { kind: 'fail' } });
    await assert.rejects(handleJob(harness.context, job, 1));
    await assert.rejects(handleJob(harness.context, job, 2));
    await handleJob(harness.context, job, 3);
    harness.store.clear();
    const record = await harness.record('flaky-index', '1.0.0');
    assert.equal(record?.status, 'Failed');
    assert.match(record?.error?.message ?? '', /injected failure/);
    await harness.drain();
    await assertHealthy(harness);
  });
});

describe('state model: collection racing an ingest that reuses a file', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('a collection under way before the lease: the ingest waits for it and puts back what it deleted', async () => {
    const shared = large('shared');
    await harness.ingest(await harness.upload(craftedBundle({ name: 'old', files: [shared] })));
    await harness.drain();
    // Removed with a long grace window so the file stays, unused.
    const keep = { ...harness.context, settings: { ...harness.context.settings, gcGraceSeconds: 3600 } };
    await requestRemoval(keep, 'old', '1.0.0');
    await harness.queue.run((job, attempt) => handleJob(keep, job, attempt));
    const fileKey = resourceKey(sha256Hex(shared));
    assert.ok(await harness.inner.head(fileKey));
    // The collection pauses right before it deletes the now unused file.
    const gate = new Gate();
    harness.store.inject({ op: 'delete', key: fileKey, action: { kind: 'pause', gate } });
    const collection = collectGarbage(harness.context);
    await gate.reached;
    const ingest = harness.ingest(await harness.upload(craftedBundle({ name: 'new', files: [shared] })));
    // The ingest found the file stored, and now waits for the collection it saw.
    await new Promise((resolve) => setTimeout(resolve, 300));
    gate.release();
    await collection;
    assert.equal((await ingest).outcome, 'accepted');
    assert.ok(await harness.inner.head(fileKey), 'the ingest restored the file the collection deleted');
    await harness.drain();
    assert.equal((await harness.record('new', '1.0.0'))?.status, 'Added');
    await assertHealthy(harness);
  });

  it("a collection that listed the leases just before an ingest's lease: what the ingest wrote meanwhile is put back", async () => {
    // Paused at its listing of the records, after the leases. Its clock runs a minute ahead of
    // the store's (skew between a function and S3 happens): what the ingest writes meanwhile
    // looks old enough to sweep, and the lease came too late to be seen.
    const gate = new Gate();
    harness.store.inject({ op: 'list', key: 'packages/', action: { kind: 'pause', gate } });
    const collection = collectGarbage({ ...harness.context, now: () => new Date(Date.now() + 60_000) });
    await gate.reached;
    const ingest = harness.ingest(await harness.upload(craftedBundle({ name: 'documents', files: [large('documents')] })));
    await new Promise((resolve) => setTimeout(resolve, 300)); // it wrote its files and documents, and waits for the collection
    gate.release();
    await collection;
    assert.equal((await ingest).outcome, 'accepted');
    await harness.drain();
    const record = await harness.record('documents', '1.0.0');
    assert.equal(record?.status, 'Added', JSON.stringify(record?.error));
    await assertHealthy(harness);
  });

  it('a collection that starts after the lease keeps the file', async () => {
    const shared = large('shared-2');
    const fileKey = resourceKey(sha256Hex(shared));
    await harness.inner.put(fileKey, shared); // stored, used by nobody, past the (zero) grace window
    const gate = new Gate();
    harness.store.inject({ op: 'put', key: 'packages/', action: { kind: 'pause', gate } }); // after the files, before the record
    const ingest = harness.ingest(await harness.upload(craftedBundle({ name: 'leased', files: [shared] })));
    await gate.reached;
    const report = await collectGarbage({ ...harness.context, store: harness.inner });
    assert.ok(await harness.inner.head(fileKey), `kept: ${JSON.stringify(report)}`);
    gate.release();
    assert.equal((await ingest).outcome, 'accepted');
    await harness.drain();
    assert.deepEqual(await harness.inner.list(GC_RUNS_PREFIX).then((page) => page.objects), []);
    await assertHealthy(harness);
  });
});

describe('state model: two writers', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('a publish that read the record before a removal never adds the entry back', async () => {
    await harness.ingest(await harness.upload(craftedBundle({ name: 'racing' })));
    const job = harness.queue.sent.at(-1)!;
    assert.equal(job.kind, 'publish');
    const gate = new Gate();
    harness.store.inject({ op: 'get', key: INDEX_KEY, action: { kind: 'pause', gate } });
    const publish = handleJob(harness.context, job, 1);
    await gate.reached;
    // Instance 2 (the store without faults) removes the package meanwhile.
    const other = { ...harness.context, store: harness.inner };
    await requestRemoval(other, 'racing', '1.0.0').catch(() => undefined);
    const record = await harness.record('racing', '1.0.0');
    assert.equal(record?.status, 'Removing');
    await handleJob(other, { kind: 'remove', name: 'racing', version: '1.0.0' }, 1);
    gate.release();
    await publish;
    assert.deepEqual((await harness.indexed()).filter((entry) => entry.startsWith('racing')), []);
    assert.equal((await harness.record('racing', '1.0.0'))?.status, 'Removed');
    harness.queue.sent.length = 0;
    await harness.drain();
    await assertHealthy(harness);
  });

  it('a reindex re-lists on every attempt: a publish that lands in between is kept', async () => {
    await harness.ingest(await harness.upload(craftedBundle({ name: 'first' })));
    await harness.drain();
    await harness.ingest(await harness.upload(craftedBundle({ name: 'second' })));
    const job = harness.queue.sent.at(-1)!;
    const gate = new Gate();
    // The reindex pauses at its index write; the publish lands meanwhile.
    harness.store.inject({ op: 'put', key: INDEX_KEY, action: { kind: 'pause', gate } });
    const rebuilding = reindex(harness.context);
    await gate.reached;
    await publishPackage({ ...harness.context, store: harness.inner }, 'second', '1.0.0', (job as { bundleDigest: string }).bundleDigest);
    gate.release();
    await rebuilding;
    assert.ok((await harness.indexed()).includes('second 1.0.0'));
    await harness.drain();
    await assertHealthy(harness);
  });
});

describe('state model: restarts and stuck records', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('the reconciler finishes what a process that died left Processing, Removing or Validating', async () => {
    await harness.ingest(await harness.upload(craftedBundle({ name: 'orphaned-publish' })));
    await harness.ingest(await harness.upload(craftedBundle({ name: 'orphaned-remove' })));
    await harness.drain();
    await harness.ingest(await harness.upload(craftedBundle({ name: 'orphaned-publish', version: '2.0.0' })));
    await requestRemoval(harness.context, 'orphaned-remove', '1.0.0');
    // The process dies: its in-memory queue is lost.
    harness.queue.sent.length = 0;
    await harness.queue.run(async () => undefined);
    // An upload killed mid-validation: claimed, heartbeat stopped, bundle still there.
    const stuckKey = await harness.upload(craftedBundle({ name: 'orphaned-upload' }), 'stuck-upload');
    const gate = new Gate();
    harness.store.inject({ op: 'get', key: 'uploads/stuck-upload.dcos', skip: 1, action: { kind: 'pause', gate } });
    void harness.ingest(stuckKey).catch(() => undefined);
    await gate.reached;
    assert.equal((await harness.record('orphaned-publish', '2.0.0'))?.status, 'Processing');
    // Nothing beats any more: after the stale age (2 s here) the reconciler takes it all on.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const report = await reconcile(harness.context);
    assert.equal(report.packagesRequeued, 2);
    assert.equal(report.uploadsRetried, 1);
    harness.store.clear();
    await harness.drain();
    assert.equal((await harness.record('orphaned-publish', '2.0.0'))?.status, 'Added');
    assert.equal((await harness.record('orphaned-remove', '1.0.0'))?.status, 'Removed');
    assert.equal((await harness.record('orphaned-upload', '1.0.0'))?.status, 'Added');
    assert.equal((await harness.uploadRecord('stuck-upload'))?.status, 'Accepted');
    gate.release();
    await assertHealthy(harness);
  });

  it('an upload whose bundle vanished mid-validation ends Rejected with a reason to add it again', async () => {
    const key = await harness.upload(craftedBundle({ name: 'vanished-bundle' }), 'vanished-upload');
    const gate = new Gate();
    harness.store.inject({ op: 'get', key: 'uploads/vanished-upload.dcos', action: { kind: 'pause', gate } });
    void harness.ingest(key).catch(() => undefined);
    await gate.reached;
    await harness.inner.delete(key);
    await reconcile(harness.context, { staleAfterMs: 0 });
    const upload = await harness.uploadRecord('vanished-upload');
    assert.equal(upload?.status, 'Rejected');
    assert.equal(upload?.error?.type, 'IngestInterrupted');
    harness.store.clear();
    gate.release();
  });
});

describe('state model: bad packages end in a terminal state', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('a name and version too long for storage keys: Rejected PackageCoordinateTooLong', async () => {
    const key = await harness.upload(craftedBundle({ name: 'n'.repeat(300), version: '1.'.repeat(150) + '0' }), 'long-upload');
    const outcome = await harness.ingest(key);
    assert.equal(outcome.outcome, 'rejected');
    const upload = await harness.uploadRecord('long-upload');
    assert.equal(upload?.status, 'Rejected');
    assert.equal(upload?.error?.type, 'PackageCoordinateTooLong');
  });

  it('the longest version whose storage keys fit is taken, and one character more is PackageCoordinateTooLong', async () => {
    const name = 'n'.repeat(60);
    const fits = (version: string): boolean => {
      const coordinate = encodeCoordinate({ name, version });
      return [packageMetadataKey(coordinate, '0'.repeat(64)), fragmentKey(coordinate, '0'.repeat(64))].every((key) => invalidKeyReason(key) === undefined);
    };
    let length = 1;
    assert.ok(fits('1'));
    while (fits('1'.repeat(length + 1))) length++;
    const longest = await harness.ingest(await harness.upload(craftedBundle({ name, version: '1'.repeat(length) }), 'longest-fits'));
    assert.equal(longest.outcome, 'accepted', JSON.stringify(longest));
    const over = await harness.ingest(await harness.upload(craftedBundle({ name, version: '1'.repeat(length + 1) }), 'one-over'));
    assert.equal(over.outcome, 'rejected');
    assert.equal((await harness.uploadRecord('one-over'))?.error?.type, 'PackageCoordinateTooLong');
  });

  it('a config nested 100,000 levels deep: Rejected InvalidEntry, no stack overflow', async () => {
    const nested = `${'{"properties":{"a":'.repeat(100_000)}{}${'}}'.repeat(100_000)}`;
    const bytes = craftedBundle({ name: 'deep', metadataText: (json) => json.replace('"config":{"type":"object","properties":{}}', `"config":${nested}`) });
    const outcome = await harness.ingest(await harness.upload(bytes, 'deep-upload'));
    assert.equal(outcome.outcome, 'rejected');
    const upload = await harness.uploadRecord('deep-upload');
    assert.equal(upload?.status, 'Rejected');
    assert.equal(upload?.error?.type, 'InvalidEntry');
    assert.match(upload?.error?.message ?? '', /nests JSON 200002 levels deep/);
  });

  it('the losing ingest of a coordinate leaves nothing that survives a collection', async () => {
    const a = await harness.upload(craftedBundle({ name: 'contested', description: 'A', files: [large('contested-a')] }));
    const b = await harness.upload(craftedBundle({ name: 'contested', description: 'B', files: [large('contested-b')] }));
    const [first, second] = await Promise.all([harness.ingest(a), harness.ingest(b)]);
    assert.deepEqual([first.outcome, second.outcome].sort(), ['accepted', 'rejected']);
    await harness.drain();
    await collectGarbage(harness.context);
    const loser = first.outcome === 'rejected' ? 'contested-a' : 'contested-b';
    assert.equal(await harness.inner.head(resourceKey(sha256Hex(large(loser)))), undefined, "the loser's file is collected");
    assert.deepEqual(await harness.inner.list('leases/').then((page) => page.objects), []);
    await assertHealthy(harness);
  });
});


describe('state model: abandoned uploads and interrupted writes are reclaimed', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness({ uploadUrlLifetimeSeconds: 1 })));
  after(() => harness.close());

  it('an upload never completed ends UploadAbandoned; a finished upload\'s bundle and an old temporary file are collected', async () => {
    const { uploadRecordKey } = await import('../../lib/registry/layout.ts');
    const { writeJson } = await import('../../lib/registry/json-objects.ts');
    const old = new Date(Date.now() - 10_000).toISOString();
    await writeJson(harness.inner, uploadRecordKey('abandoned-01'), {
      uploadId: 'abandoned-01', status: 'Uploading', bundleKey: 'uploads/abandoned-01.dcos', packages: [], error: null, createdAt: old, updatedAt: old,
    });
    // An upload that ended while its bundle was left behind (a crash between the outcome and the delete).
    await harness.inner.put('uploads/ended-0001.dcos', Buffer.from('left behind'));
    const { mkdir, writeFile, utimes, stat } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const tenSecondsAgo = new Date(Date.now() - 10_000);
    await utimes(join(harness.inner.root, 'uploads', 'ended-0001.dcos.obj'), tenSecondsAgo, tenSecondsAgo);
    await writeJson(harness.inner, uploadRecordKey('ended-0001'), {
      uploadId: 'ended-0001', status: 'Accepted', bundleKey: 'uploads/ended-0001.dcos', packages: [], error: null, createdAt: old, updatedAt: new Date(Date.now() - 5_000).toISOString(),
    });
    // What a write killed mid-way leaves on the filesystem, untouched for an hour.
    await mkdir(join(harness.inner.root, 'resources', 'sha256'), { recursive: true });
    const temporary = join(harness.inner.root, 'resources', 'sha256', `${'a'.repeat(64)}.obj.0123456789ab.tmp`);
    await writeFile(temporary, Buffer.alloc(1024));
    const hourAgo = new Date(Date.now() - 3_700_000);
    await utimes(temporary, hourAgo, hourAgo);

    await reconcile(harness.context);
    const abandoned = await harness.uploadRecord('abandoned-01');
    assert.equal(abandoned?.status, 'Rejected');
    assert.equal(abandoned?.error?.type, 'UploadAbandoned');
    const report = await collectGarbage(harness.context);
    assert.equal(await harness.inner.head('uploads/ended-0001.dcos'), undefined, 'the left-over bundle is collected');
    assert.equal(report.abandonedWrites, 1);
    await assert.rejects(stat(temporary), { code: 'ENOENT' }, 'the temporary file is removed');
    await assertHealthy(harness);
  });
});
