/**
 * Review 2: an ingest whose lease lapsed in the past, while it stalled mid-copy, and was then
 * refreshed by the heartbeat when the copy moved on again. The commit-time check looks only at
 * the age of the *last* lease write, so it never learns that a collection ran meanwhile.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { resourceKey } from '../../lib/registry/layout.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { FaultyStore, Gate } from '../helpers/faults/faulty-store.ts';
import { invariantProblems, orphanedFile, sleep } from './adversarial-helpers.ts';

for (const grace of [0, 3600]) {
  describe(`review2: lease lapsed mid-copy, refreshed by the heartbeat (grace ${grace} s)`, () => {
    let h: Harness;
    beforeEach(async () => (h = await startHarness({ gcGraceSeconds: grace })));
    afterEach(() => h.close());

    it('L1: an ingest that stalls on the ranged GET of a reused file past the stale age never commits under the collection that marked it', async () => {
      const { bytes, key } = await orphanedFile(h, `l1-${grace}`, 4 * 1024 * 1024);
      const bundleKey = await h.upload(craftedBundle({ name: 'l1', files: [bytes] }), `l1-upload-${grace}`);
      let sawHead = false;
      // The ingest has found the file present (head) and opens the bundle entry to verify it: that GET stalls.
      h.store.inject({ op: 'head', key: (k) => (k === key ? ((sawHead = true), false) : false), action: { kind: 'delay', ms: 0 } });
      const stall = new Gate();
      h.store.inject({ op: 'get', key: (k) => k === bundleKey && sawHead, action: { kind: 'pause', gate: stall } });
      // After it resumes, its metadata PUT is merely slow (300 ms): the heartbeat's lease write lands first.
      h.store.inject({ op: 'put', key: (k) => k.includes('/content/') && k.endsWith('metadata.json'), action: { kind: 'delay', ms: 300 } });
      const ingest = h.ingest(bundleKey);
      await stall.reached;
      await sleep(2600); // past the stale age (2 s): the lease looks expired
      // A collection starts now (the ingest listed the running collections long ago: none), marks
      // (the lease is expired, no record names the file) and is about to delete.
      const gcStore = new FaultyStore(h.inner);
      const gcGate = new Gate();
      gcStore.inject({ op: 'delete', key: 'resources/sha256/', action: { kind: 'pause', gate: gcGate } });
      const collection = collectGarbage({ ...h.context, store: gcStore });
      await gcGate.reached;
      // The ingest moves on. Its lease lapsed: at commit it re-lists the collections, finds this
      // one (alive) and waits; after a bounded wait the attempt fails, to be retried.
      stall.release();
      await assert.rejects(ingest, /a collection has been running/);
      gcGate.release();
      await collection;
      // The retry puts back what the collection deleted.
      const bundle = (await h.inner.list('uploads/')).objects.find((object) => object.key.endsWith('.dcos'))!;
      assert.equal((await h.ingest(bundle.key)).outcome, 'accepted');
      await h.drain();
      assert.equal((await h.record('l1', '1.0.0'))?.status, 'Added');
      const fileStored = Boolean(await h.inner.head(key));
      const problems = await invariantProblems(h);
      assert.deepEqual({ fileStored, problems }, { fileStored: true, problems: [] });
    });
  });
}

describe('review2: lease refreshes fail for a while, no stall at all', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('L2: the ingest keeps making progress while its lease writes fail (503 on leases/) past the stale age; a collection then takes the lease for expired; the next lease write succeeds and the commit re-checks nothing', async () => {
    const files = Array.from({ length: 60 }, (_, i) => sizedBytes(20_000, `l2-${i}`));
    await h.ingest(await h.upload(craftedBundle({ name: 'old-l2', files })));
    await h.drain();
    const keep = { ...h.context, settings: { ...h.context.settings, gcGraceSeconds: 3600 } };
    await requestRemoval(keep, 'old-l2', '1.0.0');
    await h.queue.run((job, attempt) => handleJob(keep, job, attempt));
    const bundleKey = await h.upload(craftedBundle({ name: 'l2', files }), 'l2-upload-0');
    // Every entry read is slowish (150 ms): the copy takes ~5 s, progressing all the time.
    h.store.inject({ op: 'get', key: bundleKey, times: 1000, action: { kind: 'delay', ms: 150 } });
    h.store.inject({ op: 'put', key: 'leases/ingest/l2-upload-0', skip: 1, times: 1000, action: { kind: 'fail' } });
    const ingest = h.ingest(bundleKey);
    await sleep(3500); // the lease (written once at the start) is past the stale age
    const report = await collectGarbage({ ...h.context, store: h.inner });
    // The store recovers: the next heartbeat writes the lease (reads stay slowish).
    h.store.clear();
    h.store.inject({ op: 'get', key: bundleKey, times: 1000, action: { kind: 'delay', ms: 150 } });
    const outcome = await ingest;
    h.store.clear();
    await h.drain();
    const missing = [];
    for (const bytes of files) if (!(await h.inner.head(resourceKey(sha256Hex(bytes))))) missing.push(sha256Hex(bytes).slice(0, 8));
    const record = await h.record("l2", "1.0.0");
    console.log("L2", JSON.stringify({ report, missing, leaseCalls: h.store.calls.filter((c) => c.key.startsWith("leases/")).map((c) => `${c.op} ${c.key}`) }));
    assert.deepEqual(
      { outcome: outcome.outcome, gcDeleted: report.deleted > 0, missing, status: record?.status, error: record?.error?.type ?? null },
      { outcome: 'accepted', gcDeleted: report.deleted > 0, missing: [], status: 'Added', error: null },
    );
  });
});
