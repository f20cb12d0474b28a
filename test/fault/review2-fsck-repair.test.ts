/**
 * Review 2: fsck --repair on a live registry. Its "damaged" list is judged in inspect(); the
 * repair re-reads each record but only compares the content digest, which is the same when the
 * same bundle is added again after a removal. It never checks again that the files are missing.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fsck } from '../../lib/registry/maintenance/fsck.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { INDEX_KEY, resourceKey } from '../../lib/registry/layout.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { invariantProblems } from './adversarial-helpers.ts';

describe('review2: fsck --repair vs remove + re-add of the same bundle', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('R1: a repair that saw the files of a package go (it was being removed) marks the same bundle, added again meanwhile and published, Failed (ContentMissing)', async () => {
    const file = sizedBytes(100_000, 'r1');
    const bundle = craftedBundle({ name: 'r1', files: [file] });
    await h.ingest(await h.upload(bundle, 'r1-first'));
    await h.drain();
    const other = { ...h.context, store: h.inner };
    // fsck --repair has read the records (r1 Added) and is about to head r1's files.
    const headGate = new Gate();
    h.store.inject({ op: 'head', key: resourceKey(sha256Hex(file)), action: { kind: 'pause', gate: headGate } });
    const indexGate = new Gate();
    h.store.inject({ op: 'get', key: INDEX_KEY, action: { kind: 'pause', gate: indexGate } });
    const repairing = fsck(h.context, { repair: true });
    await headGate.reached;
    // The user removes r1; the collection (zero grace here, any later run with the default) takes its files.
    await requestRemoval(other, 'r1', '1.0.0');
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('r1', '1.0.0'))?.status, 'Removed');
    headGate.release();
    await indexGate.reached; // inspect found r1's files missing: "damaged"
    // The user adds the very same bundle again; it is published.
    assert.equal((await h.ingest(await h.upload(bundle, 'r1-again'), other)).outcome, 'accepted');
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal((await h.record('r1', '1.0.0'))?.status, 'Added');
    indexGate.release();
    const report = await repairing;
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    await reconcile(other);
    await collectGarbage(other);
    const record = await h.record('r1', '1.0.0');
    assert.deepEqual(
      { status: record?.status, error: record?.error?.type ?? null, upload: (await h.uploadRecord('r1-again'))?.status, indexed: await h.indexed(), problems: await invariantProblems(h), remaining: report.remaining?.map((v) => v.type) },
      { status: 'Added', error: null, upload: 'Accepted', indexed: ['r1 1.0.0'], problems: [], remaining: [] },
    );
  });
});
