/**
 * Adversarial review, attack 6: can the reconciler or fsck --repair make things worse?
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fsck } from '../../lib/registry/maintenance/fsck.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { FRAGMENTS_PREFIX, packageRecordKey, resourceKey, tagKey, INDEX_KEY } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { imageBundle } from './adversarial-images.ts';
import { invariantProblems, sleep } from './adversarial-helpers.ts';

const coord = (name: string, version = '1.0.0') => encodeCoordinate({ name, version });

describe('adversarial: fsck --repair on a live registry', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('E1: a repair under way while a Failed package is added again keeps the new publication in /repo', async () => {
    // P's first publish failed for good: P is Failed.
    await h.ingest(await h.upload(craftedBundle({ name: 'pkgp', description: 'first' })));
    h.store.inject({ op: 'put', key: INDEX_KEY, times: 3, action: { kind: 'fail' } });
    await h.drain();
    h.store.clear();
    assert.equal((await h.record('pkgp', '1.0.0'))?.status, 'Failed');
    // Something for fsck to repair: a stray file.
    const stray = sizedBytes(1000, 'stray');
    await h.inner.put(resourceKey(sha256Hex(stray)), stray);
    // fsck --repair (say from the admin API) has checked, and reaches its fragment clean-up…
    const gate = new Gate();
    h.store.inject({ op: 'list', key: FRAGMENTS_PREFIX, skip: 1, action: { kind: 'pause', gate } });
    const repairing = fsck(h.context, { repair: true });
    await gate.reached;
    // …while the user adds P again (it was Failed) and it is published.
    const other = { ...h.context, store: h.inner };
    assert.equal((await h.ingest(await h.upload(craftedBundle({ name: 'pkgp', description: 'second' })), other)).outcome, 'accepted');
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('pkgp', '1.0.0'))?.status, 'Added');
    assert.deepEqual(await h.indexed(), ['pkgp 1.0.0']);
    gate.release();
    const report = await repairing;
    assert.deepEqual(
      { indexed: await h.indexed(), problems: await invariantProblems(h), remaining: report.remaining?.map((v) => v.type) },
      { indexed: ['pkgp 1.0.0'], problems: [], remaining: [] },
    );
  });

  it('E2: a repair under way while a package is published keeps its tag', async () => {
    const stray = sizedBytes(1000, 'stray-2');
    await h.inner.put(resourceKey(sha256Hex(stray)), stray);
    const q = await imageBundle({ name: 'pkgq', repository: 'team/q', tag: '1', seed: 'Q' });
    // The repair has taken its snapshot of the records (no pkgq yet) and pauses as it starts on the tag lists.
    const gate = new Gate();
    h.store.inject({ op: 'list', key: 'docker/repositories/', skip: 1, action: { kind: 'pause', gate } });
    const repairing = fsck(h.context, { repair: true });
    await gate.reached;
    const other = { ...h.context, store: h.inner };
    await h.ingest(await h.upload(q.bytes), other);
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('pkgq', '1.0.0'))?.status, 'Added');
    assert.ok(await h.inner.head(tagKey('team/q', '1')));
    gate.release();
    await repairing;
    assert.deepEqual({ tag: Boolean(await h.inner.head(tagKey('team/q', '1'))), fsck: (await fsck(other)).violations.map((v) => v.type) }, { tag: true, fsck: [] });
  });
});

describe('adversarial: the reconciler', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('E3: a removal slower than the stale age is requeued; the slow one must not retire the version added again meanwhile', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'slowrm' })));
    await h.drain();
    await requestRemoval(h.context, 'slowrm', '1.0.0');
    const job = h.queue.sent.at(-1)!;
    h.queue.sent.length = 0;
    await h.queue.run(async () => undefined);
    const gate = new Gate();
    h.store.inject({ op: 'put', key: packageRecordKey(coord('slowrm')), action: { kind: 'pause', gate } });
    const slow = handleJob(h.context, job, 1);
    await gate.reached;
    await sleep(2100);
    const other = { ...h.context, store: h.inner };
    const report = await reconcile(other);
    assert.equal(report.packagesRequeued, 1, 'the Removing record looked stuck');
    await h.queue.run((j, attempt) => handleJob(other, j, attempt)); // the requeued removal completes
    await h.ingest(await h.upload(craftedBundle({ name: 'slowrm' })), other); // added again
    await h.queue.run((j, attempt) => handleJob(other, j, attempt));
    assert.equal((await h.record('slowrm', '1.0.0'))?.status, 'Added');
    gate.release();
    await slow;
    assert.deepEqual(
      { record: (await h.record('slowrm', '1.0.0'))?.status, problems: await invariantProblems(h) },
      { record: 'Added', problems: [] },
    );
  });

  it('E4: a publish job merely waiting in a slow queue is requeued with backoff, never marked Failed', async () => {
    await h.ingest(await h.upload(craftedBundle({ name: 'backlog' })));
    let offset = 0;
    const clocked = { ...h.context, now: () => new Date(Date.now() + offset) };
    for (let pass = 0; pass <= 10; pass++) {
      offset += 61_000; // the self-hosted reconciler runs every 60 s; the stale age here is 2 s, 120 s by default
      await reconcile({ ...clocked, settings: { ...clocked.settings, staleAfterSeconds: 60 } });
    }
    const stalled = await h.record('backlog', '1.0.0');
    assert.equal(stalled?.status, 'Processing', `after 11 passes: ${stalled?.status} ${stalled?.error?.type ?? ''} (${h.queue.depth} jobs queued)`);
  });
});
