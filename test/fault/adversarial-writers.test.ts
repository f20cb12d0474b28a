/**
 * Adversarial review, attack 3 (and 2): publish vs removal, reindex vs removal, duplicate jobs,
 * two writers. Each test states the interleaving; each asserts the invariant the design claims.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ASSET_BYTES, ICON_BYTES } from '../helpers/bundle-builder.ts';
import { resourceKey } from '../../lib/registry/layout.ts';
import { sha256Of } from './adversarial-helpers.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob, publishPackage, reindex, removePackage } from '../../lib/registry/publisher.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { INDEX_KEY, FRAGMENTS_PREFIX, packageRecordKey } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { invariantProblems } from './adversarial-helpers.ts';

const coord = (name: string, version = '1.0.0') => encodeCoordinate({ name, version });

describe('adversarial: publish vs removal', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('B2: publish paused at its index PUT (after its re-check) while the package is removed: /repo must not list it', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'b2' })));
    const job = h.queue.sent.at(-1)!;
    const gate = new Gate();
    // Pause the publish *after* it read the index and re-checked the record (Processing), right before its conditional PUT.
    h.store.inject({ op: 'put', key: INDEX_KEY, action: { kind: 'pause', gate } });
    const publish = handleJob(h.context, job, 1);
    await gate.reached;
    const other = { ...h.context, store: h.inner };
    await requestRemoval(other, 'b2', '1.0.0');
    // The removal finds no entry to take out, so it writes no index: the publish's If-Match still holds.
    await removePackage(other, 'b2', '1.0.0');
    assert.equal((await h.record('b2', '1.0.0'))?.status, 'Removed', 'removed');
    gate.release();
    await publish;
    const problems = await invariantProblems(h);
    const fsck = await h.fsck();
    h.queue.sent.length = 0;
    // The files the /repo entry names (the GC that a zero grace window runs at removal took them).
    const filesOfEntry = { asset: Boolean(await h.inner.head(resourceKey(sha256Of(ASSET_BYTES)))), icon: Boolean(await h.inner.head(resourceKey(sha256Of(ICON_BYTES)))) };
    // Sequentially (removal after the publish) /repo is empty; here it lists b2, and `filesOfEntry` shows whether what it names is stored.
    assert.deepEqual({ indexed: await h.indexed(), problems, fsck: fsck.violations.map((v) => v.type) }, { indexed: [], problems: [], fsck: [] }, `files the entry names: ${JSON.stringify(filesOfEntry)}`);
  });

  it('B3: reindex paused at its index PUT while a package being published (Processing with fragment) is removed', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'b3' })));
    const job = h.queue.sent.at(-1)! as { bundleDigest: string };
    // The publish got as far as its fragment (paused before it reads the index).
    const publishGate = new Gate();
    h.store.inject({ op: 'get', key: INDEX_KEY, action: { kind: 'pause', gate: publishGate } });
    const publish = publishPackage(h.context, 'b3', '1.0.0', job.bundleDigest);
    await publishGate.reached;
    // A reindex (another instance, or fsck --repair) lists the records and fragments, pauses at its PUT.
    const reindexGate = new Gate();
    h.store.inject({ op: 'put', key: INDEX_KEY, action: { kind: 'pause', gate: reindexGate } });
    const rebuilding = reindex(h.context);
    await reindexGate.reached;
    const other = { ...h.context, store: h.inner };
    await requestRemoval(other, 'b3', '1.0.0');
    await removePackage(other, 'b3', '1.0.0');
    reindexGate.release();
    await rebuilding;
    publishGate.release();
    await publish;
    h.queue.sent.length = 0;
    const problems = await invariantProblems(h);
    const fsck = await h.fsck();
    assert.deepEqual({ indexed: await h.indexed(), problems, fsck: fsck.violations.map((v) => v.type) }, { indexed: [], problems: [], fsck: [] });
  });
});

describe('adversarial: duplicate remove job vs re-add', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('B1: a duplicate remove job, paused at its record write, must not retire the record of the same version added again meanwhile', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'b1' })));
    await h.drain();
    await requestRemoval(h.context, 'b1', '1.0.0');
    const removeJob = h.queue.sent.at(-1)!;
    h.queue.sent.length = 0;
    // Delivery 1 of the remove job: paused right before it retires the record (everything else done).
    const gate = new Gate();
    h.store.inject({ op: 'put', key: packageRecordKey(coord('b1')), action: { kind: 'pause', gate } });
    const first = handleJob(h.context, removeJob, 1);
    await gate.reached;
    // Delivery 2 (SQS redelivery after a visibility timeout, or the reconciler's requeue of a slow Removing record) runs whole.
    const other = { ...h.context, store: h.inner };
    await handleJob(other, removeJob, 1);
    // The user adds the same version again (identical content) and it is published.
    assert.equal((await h.ingest(await h.upload(craftedBundle({ name: 'b1' })), other)).outcome, 'accepted');
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('b1', '1.0.0'))?.status, 'Added');
    assert.deepEqual(await h.indexed(), ['b1 1.0.0']);
    gate.release();
    await first;
    const problems = await invariantProblems(h);
    const fsck = await h.fsck();
    const filesOfEntry = { asset: Boolean(await h.inner.head(resourceKey(sha256Of(ASSET_BYTES)))), icon: Boolean(await h.inner.head(resourceKey(sha256Of(ICON_BYTES)))) };
    assert.deepEqual(
      { filesOfEntry, record: (await h.record('b1', '1.0.0'))?.status, indexed: await h.indexed(), problems, fsck: fsck.violations.map((v) => v.type) },
      { filesOfEntry: { asset: true, icon: true }, record: 'Added', indexed: ['b1 1.0.0'], problems: [], fsck: [] },
    );
  });

  it('B1b: a duplicate remove job paused before its index update must not take a re-added (published) version out of /repo', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'b1b' })));
    await h.drain();
    await requestRemoval(h.context, 'b1b', '1.0.0');
    const removeJob = h.queue.sent.at(-1)!;
    h.queue.sent.length = 0;
    const gate = new Gate();
    // Delivery 1 has read the record (Removing) and is about to read the index: a GET, or a HEAD
    // when its process committed the index last (it then reads the object only if it changed).
    for (const op of ['head', 'get'] as const) h.store.inject({ op, key: INDEX_KEY, action: { kind: 'pause', gate } });
    const first = handleJob(h.context, removeJob, 1);
    await gate.reached;
    const other = { ...h.context, store: h.inner };
    await handleJob(other, removeJob, 1);
    await h.ingest(await h.upload(craftedBundle({ name: 'b1b', description: 'different content' })), other);
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('b1b', '1.0.0'))?.status, 'Added');
    gate.release();
    await first;
    assert.deepEqual({ record: (await h.record('b1b', '1.0.0'))?.status, indexed: await h.indexed() }, { record: 'Added', indexed: ['b1b 1.0.0'] }, 'sequentially: removed, then added again');
  });
});

describe('adversarial: duplicate publish vs remove + re-add', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('B4: a late duplicate publish of content D1 (paused at its fragment PUT) must not destroy the fragment of D2 published meanwhile', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'b4', description: 'D1' })));
    const publishD1 = h.queue.sent.at(-1)!;
    const gate = new Gate();
    h.store.inject({ op: 'put', key: `${FRAGMENTS_PREFIX}${coord('b4')}`, action: { kind: 'pause', gate } });
    const late = handleJob(h.context, publishD1, 1); // delivery 1 (slow)
    await gate.reached;
    const other = { ...h.context, store: h.inner };
    await handleJob(other, publishD1, 1); // delivery 2 publishes D1
    await requestRemoval(other, 'b4', '1.0.0');
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    await h.ingest(await h.upload(craftedBundle({ name: 'b4', description: 'D2' })), other);
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('b4', '1.0.0'))?.status, 'Added');
    gate.release();
    await late;
    const problems = await invariantProblems(h);
    // The late fragment of D1 names content no record has: garbage, for the collector.
    await collectGarbage(other);
    const fsck = await h.fsck();
    // And what the next reindex (any publish after a host change, fsck --repair, `dcos-registry reindex`) does:
    await reindex(other);
    assert.deepEqual(
      { problems, fsck: fsck.violations.map((v) => v.type), afterReindex: await h.indexed() },
      { problems: [], fsck: [], afterReindex: ['b4 1.0.0'] },
    );
  });
});
