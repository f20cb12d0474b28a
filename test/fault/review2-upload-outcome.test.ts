/**
 * Review 2: an upload whose last allowed attempt died after its package record was written.
 * The reconciler's "out of attempts" branch records Rejected (InternalError: add it again) and
 * deletes the bundle, without asking whether this upload staged its package; the package is then
 * published by the reconciler's requeue. The upload and its package disagree at rest.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { JobQueue } from '../../lib/ports/job-queue.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { sleep } from './adversarial-helpers.ts';

describe('review2: upload outcome vs its package', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('U1: attempts 1-2 hit a 503 on the bundle, attempt 3 dies (process killed) after writing its record: upload Rejected, package Added', async () => {
    const key = await h.upload(craftedBundle({ name: 'u1' }), 'u1-upload');
    h.store.inject({ op: 'get', key, times: 2, action: { kind: 'fail' } });
    await assert.rejects(h.ingest(key));
    await assert.rejects(h.ingest(key));
    h.store.clear();
    // Attempt 3: the record is written, then the process dies while sending the publish job.
    const dead: JobQueue = { name: 'dead', send: () => new Promise<void>(() => undefined) };
    void h.ingest(key, { ...h.context, queue: dead });
    for (let i = 0; i < 100 && (await h.record('u1', '1.0.0')) === undefined; i++) await sleep(20);
    assert.equal((await h.record('u1', '1.0.0'))?.status, 'Processing');
    await sleep(2200); // nothing beats: past the stale age
    await reconcile(h.context);
    await h.drain();
    await reconcile(h.context, { staleAfterMs: 0 });
    await h.drain();
    await collectGarbage(h.context);
    const upload = await h.uploadRecord('u1-upload');
    assert.deepEqual(
      { upload: upload?.status, uploadError: upload?.error?.type ?? null, pkg: (await h.record('u1', '1.0.0'))?.status, fsck: (await h.fsck()).violations.map((v) => v.type) },
      { upload: 'Accepted', uploadError: null, pkg: 'Added', fsck: [] },
      'docs/operations.md: "an upload whose package record was already written ends Accepted: the reconciler publishes it"',
    );
  });
});
