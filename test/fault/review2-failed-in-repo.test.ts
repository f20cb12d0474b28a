/**
 * Review 2: a publish job that fails for good *after* its entry reached /repo. recordJobFailure
 * marks the record Failed and re-derives its tags, but never takes the entry out of the index;
 * a Failed record is not live, so the collection then deletes the files /repo still names.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { handleJob, reindex } from '../../lib/registry/publisher.ts';
import { FRAGMENTS_PREFIX, INDEX_KEY, packageRecordKey } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { sizedBytes } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { invariantProblems } from './adversarial-helpers.ts';

const coord = (name: string, version = '1.0.0') => encodeCoordinate({ name, version });

async function settle(h: Harness): Promise<void> {
  const other = { ...h.context, store: h.inner };
  await h.queue.run((job, attempt) => handleJob(other, job, attempt));
  await reconcile(other, { staleAfterMs: 0 });
  await h.queue.run((job, attempt) => handleJob(other, job, attempt));
  await collectGarbage(other);
}

describe('review2: a publish that fails for good after /repo lists it', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('F1: the record PUT of markAdded fails on every delivery (3 × 503): the package is Failed and out of /repo', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'f1', files: [sizedBytes(100_000, 'f1')] })));
    // Delivery 1 writes the record once (releaseVersion); then markAdded's PUT fails on deliveries 1, 2, 3.
    h.store.inject({ op: 'put', key: packageRecordKey(coord('f1')), skip: 1, times: 3, action: { kind: 'fail' } });
    await h.drain();
    h.store.clear();
    await settle(h);
    assert.deepEqual(
      { record: (await h.record('f1', '1.0.0'))?.status, indexed: await h.indexed(), problems: await invariantProblems(h), fsck: (await h.fsck()).violations.map((v) => v.type) },
      // Failed for good is a terminal state with its reason; what matters is that /repo agrees.
      { record: 'Failed', indexed: [], problems: [], fsck: [] },
      'sequentially: either published (Added, listed) or Failed and not listed',
    );
  });

  it('F2: a reindex (another instance, fsck --repair, `dcos-registry reindex`) lands while a publish is between its fragment and its index PUT; the publish then fails for good', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'f2', files: [sizedBytes(100_000, 'f2')] })));
    const job = h.queue.sent.at(-1)!;
    await h.queue.run(async () => undefined);
    const gate = new Gate();
    h.store.inject({ op: 'head', key: INDEX_KEY, action: { kind: 'pause', gate } }); // after fragment and tags
    const first = handleJob(h.context, job, 1);
    await gate.reached;
    await reindex({ ...h.context, store: h.inner });
    // The record is Processing and its publish has not reached the index: a rebuild leaves it out.
    assert.deepEqual(await h.indexed(), []);
    h.store.inject({ op: 'put', key: INDEX_KEY, times: 10, action: { kind: 'fail' } });
    gate.release();
    await assert.rejects(first);
    await assert.rejects(handleJob(h.context, job, 2));
    await handleJob(h.context, job, 3);
    h.store.clear();
    assert.equal((await h.record('f2', '1.0.0'))?.status, 'Failed');
    await settle(h);
    assert.deepEqual(
      { record: (await h.record('f2', '1.0.0'))?.status, indexed: await h.indexed(), problems: await invariantProblems(h), fsck: (await h.fsck()).violations.map((v) => v.type) },
      { record: 'Failed', indexed: [], problems: [], fsck: [] },
    );
  });

  it('F3: re-adding identical content after a removal: before its publish runs, a reindex lists it from the old fragment (old releaseVersion); the publish then fails for good', async () => {
    await h.close();
    h = await startHarness({ gcGraceSeconds: 3600 }); // the old fragment outlives the removal
    const bundle = craftedBundle({ name: 'f3', files: [sizedBytes(100_000, 'f3')] });
    await h.ingest(await h.upload(bundle));
    await h.drain();
    const { requestRemoval } = await import('../../lib/registry/packages.ts');
    await requestRemoval(h.context, 'f3', '1.0.0');
    await h.drain();
    assert.equal((await h.record('f3', '1.0.0'))?.status, 'Removed');
    assert.ok((await h.inner.list(`${FRAGMENTS_PREFIX}${coord('f3')}/`)).objects.length === 1, 'the old fragment waits for collection');
    await h.ingest(await h.upload(bundle)); // the same bytes again: Processing, releaseVersion null
    await reindex({ ...h.context, store: h.inner });
    const listed = await h.indexed();
    // Its publish then keeps failing (say its fragment PUT, 3 × 503).
    h.store.inject({ op: 'put', key: FRAGMENTS_PREFIX, times: 3, action: { kind: 'fail' } });
    await h.drain();
    h.store.clear();
    const status = (await h.record('f3', '1.0.0'))?.status;
    await settle(h);
    assert.deepEqual(
      { listedBeforePublish: listed, status, indexed: await h.indexed(), fsck: (await h.fsck()).violations.map((v) => v.type) },
      { listedBeforePublish: listed, status: 'Failed', indexed: [], fsck: [] },
    );
  });

  it('F4: two deliveries of one publish job: the first has put the index and pauses before markAdded; the other, on its last attempt, fails once and records the package Failed', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'f4', files: [sizedBytes(100_000, 'f4')] })));
    const job = h.queue.sent.at(-1)!;
    await h.queue.run(async () => undefined);
    const gate = new Gate();
    // markAdded's read of the record is the fourth GET of the record in a first publish.
    h.store.inject({ op: 'get', key: packageRecordKey(coord('f4')), skip: 3, action: { kind: 'pause', gate } });
    const first = handleJob(h.context, job, 1);
    await gate.reached;
    assert.deepEqual(await h.indexed(), ['f4 1.0.0']);
    // The redelivery (visibility timeout, or the reconciler's requeue) on its last attempt meets one 503.
    const { FaultyStore } = await import('../helpers/faults/faulty-store.ts');
    const other = new FaultyStore(h.inner);
    other.inject({ op: 'head', key: 'resources/sha256/', action: { kind: 'fail' } });
    await handleJob({ ...h.context, store: other }, job, 3);
    assert.equal((await h.record('f4', '1.0.0'))?.status, 'Failed');
    gate.release();
    await first;
    await settle(h);
    assert.deepEqual(
      { record: (await h.record('f4', '1.0.0'))?.status, indexed: await h.indexed(), problems: await invariantProblems(h) },
      { record: 'Failed', indexed: [], problems: [] },
    );
  });
});
