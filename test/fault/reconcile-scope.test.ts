/**
 * The reconciler's passes between full ones (scope `transient`): they read the records the
 * catalog shows in a transient state, not every record; they read every record again once the
 * last full pass is an hour old (or was never made); and a record whose catalog note was lost is
 * driven on by that full pass. Through the real ingest, publisher and reconciler.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FULL_RECONCILE_INTERVAL_MS, reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { noteInCatalog } from '../../lib/registry/catalog/package-catalog.ts';
import { updateJson, writeJson } from '../../lib/registry/json-objects.ts';
import { FULL_RECONCILE_KEY, packageRecordKey } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import type { PackageRecord } from '../../lib/registry/records.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';

const isRecordRead = (call: { op: string; key: string }): boolean => call.op === 'get' && /^packages\/[^/]+\/record\.json$/.test(call.key);

async function recordReadsDuring(harness: Harness, work: () => Promise<unknown>): Promise<number> {
  const before = harness.store.calls.length;
  await work();
  return harness.store.calls.slice(before).filter(isRecordRead).length;
}

/** Puts a published package back into Processing, as a publish that died would leave it. */
async function stuckInProcessing(harness: Harness, name: string, options: { noted: boolean }): Promise<void> {
  await updateJson<PackageRecord>(harness.store, packageRecordKey(encodeCoordinate({ name, version: '1.0.0' })), (current) => ({ ...current!, status: 'Processing', updatedAt: new Date(Date.now() - 60_000).toISOString() }));
  if (options.noted) await noteInCatalog(harness.context, name, '1.0.0');
}

describe('reconciler passes between full ones', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
    for (let index = 0; index < 6; index++) {
      const key = await harness.upload(craftedBundle({ name: `scoped-${index}` }));
      assert.equal((await harness.ingest(key)).outcome, 'accepted');
    }
    await harness.drain();
  });
  after(() => harness.close());

  it('read every record when no full pass was ever made, then only what the catalog shows transient', async () => {
    await harness.inner.delete(FULL_RECONCILE_KEY);
    let report;
    const firstReads = await recordReadsDuring(harness, async () => (report = await reconcile(harness.context, { scope: 'transient' })));
    assert.equal(report!.everyRecord, true, 'no full pass on record: this one is');
    assert.ok(firstReads >= 6, `read ${firstReads} records`);
    const quietReads = await recordReadsDuring(harness, async () => (report = await reconcile(harness.context, { scope: 'transient' })));
    assert.equal(report!.everyRecord, false);
    assert.equal(quietReads, 0, 'nothing transient: no record read');
  });

  it('drive on a record the catalog shows stuck, reading that record alone', async () => {
    await reconcile(harness.context);
    await stuckInProcessing(harness, 'scoped-1', { noted: true });
    let report;
    const reads = await recordReadsDuring(harness, async () => (report = await reconcile(harness.context, { scope: 'transient', staleAfterMs: 1 })));
    assert.equal(report!.everyRecord, false);
    assert.equal(report!.packagesRequeued, 1);
    // The pass's own read, and the requeue's compare-and-swap and catalog note read it again.
    assert.ok(reads >= 1 && reads <= 4, `read ${reads} records`);
    await harness.drain();
    assert.equal((await harness.record('scoped-1', '1.0.0'))?.status, 'Added');
  });

  it('leave a record whose note was lost to the next full pass, which comes once the last is an hour old', async () => {
    await reconcile(harness.context);
    await stuckInProcessing(harness, 'scoped-2', { noted: false });
    const missed = await reconcile(harness.context, { scope: 'transient', staleAfterMs: 1 });
    assert.equal(missed.packagesRequeued, 0, 'the catalog says Added: a transient pass does not see it');
    await writeJson(harness.store, FULL_RECONCILE_KEY, { at: new Date(Date.now() - FULL_RECONCILE_INTERVAL_MS - 1000).toISOString() });
    const full = await reconcile(harness.context, { scope: 'transient', staleAfterMs: 1 });
    assert.equal(full.everyRecord, true);
    assert.equal(full.packagesRequeued, 1);
    assert.equal(full.catalogRewritten, 1, 'and the lost note is made good');
    await harness.drain();
    assert.equal((await harness.record('scoped-2', '1.0.0'))?.status, 'Added');
    assert.equal((await reconcile(harness.context, { scope: 'transient' })).everyRecord, false, 'the full pass was recorded');
    assert.deepEqual((await harness.fsck()).violations, []);
  });

  it('treat a full-pass time in the future (a clock set back) as due', async () => {
    await writeJson(harness.store, FULL_RECONCILE_KEY, { at: new Date(Date.now() + 24 * 60 * 60 * 1000).toISOString() });
    assert.equal((await reconcile(harness.context, { scope: 'transient' })).everyRecord, true);
  });
});
