/**
 * Adversarial review, attack 5: exception paths of ingestBundle.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ObjectStoreError } from '../../lib/ports/object-store.ts';
import type { JobQueue } from '../../lib/ports/job-queue.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { ingestBundle } from '../../lib/registry/ingest.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { FaultyStore, Gate } from '../helpers/faults/faulty-store.ts';
import { imageBundle } from './adversarial-images.ts';
import { sizedBytes } from '../helpers/asset-server.ts';
import { sleep } from './adversarial-helpers.ts';

describe('adversarial: storage errors must never become bundle errors', () => {
  for (const kind of ['image bundle', 'plain bundle'] as const) {
    for (const action of ['fail', 'cut'] as const) {
      it(`${kind}: a storage ${action} at each ranged GET of the bundle`, { timeout: 300_000 }, async () => {
        const h = await startHarness();
        const bytes = kind === 'image bundle' ? (await imageBundle({ name: 'errs', repository: 'library/errs', tag: '1', seed: 'E' })).bytes : craftedBundle({ name: 'errs', files: [sizedBytes(200_000, 'errs')] });
        const blamed: string[] = [];
        let reads = 0;
        for (let skip = 0; skip < 40; skip++) {
          const id = `errs-${action}-${skip}`.padEnd(12, '0');
          const key = await h.upload(bytes, id);
          h.store.clear();
          h.store.inject({
            op: 'get',
            key,
            skip,
            action: action === 'fail' ? { kind: 'fail', error: () => new ObjectStoreError('fs', 'injected 503 SlowDown') } : { kind: 'cut', afterBytes: 3 },
          });
          const before = h.store.calls.filter((c) => c.op === 'get' && c.key === key).length;
          const outcome = await ingestBundle(h.context, key).catch((error: Error) => ({ outcome: 'threw' as const, error }));
          reads = h.store.calls.filter((c) => c.op === 'get' && c.key === key).length - before;
          if (outcome.outcome === 'rejected') blamed.push(`GET #${skip}: ${outcome.error.type}: ${outcome.error.message}`);
          if (reads <= skip) break; // the fault was not reached: every read has been tried
          h.store.clear();
        }
        await h.close();
        assert.deepEqual(blamed, [], 'a storage error reported to the user as a bad bundle');
      });
    }
  }

  it('held: a bundle whose resource is not what its name says is refused at once (DigestMismatch), not retried as internal', async () => {
    const h = await startHarness();
    const good = sizedBytes(50_000, 'liar');
    const bad = Buffer.from(good);
    bad[10] = bad[10]! ^ 1;
    // The entry is named by the digest of `good`, holds `bad` (CRC computed over `bad`, so the ZIP is sound).
    const bytes = craftedBundle({ name: 'liar', files: [good] });
    const tampered = Buffer.from(bytes);
    const at = tampered.indexOf(good.subarray(0, 64));
    bad.copy(tampered, at, 0, 64);
    const outcome = await h.ingest(await h.upload(tampered, 'liar-upload'));
    await h.close();
    assert.equal(outcome.outcome, 'rejected');
    assert.notEqual((outcome as { error: { type: string } }).error.type, 'InternalError');
  });
});

describe('adversarial: outcomes of concurrent attempts', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('D2: a stale attempt that finishes after a takeover, and the live (last) attempt then fails: the upload flips Accepted → Rejected while the package is Added', async () => {
    const key = await h.upload(craftedBundle({ name: 'flip', files: [sizedBytes(300_000, 'flip')] }), 'flip-upload');
    // Attempt 1: a transient failure (retried).
    h.store.inject({ op: 'get', key, action: { kind: 'fail' } });
    await assert.rejects(h.ingest(key));
    // Attempt 2 (A): stalls on a read for longer than the stale age.
    const stallA = new Gate();
    h.store.inject({ op: 'get', key, skip: 1, action: { kind: 'pause', gate: stallA } });
    const attemptA = h.ingest(key);
    await stallA.reached;
    await sleep(2200);
    // Attempt 3 (B, a redelivered event or the reconciler) takes over and is paused mid-read.
    const storeB = new FaultyStore(h.inner);
    const stallB = new Gate();
    storeB.inject({ op: 'get', key, skip: 2, action: { kind: 'pause', gate: stallB } });
    const attemptB = ingestBundle({ ...h.context, store: storeB }, key);
    await stallB.reached;
    stallA.release();
    assert.equal((await attemptA).outcome, 'accepted');
    assert.equal((await h.uploadRecord('flip-upload'))?.status, 'Accepted');
    stallB.release();
    const outcomeB = await attemptB.catch((error: Error) => ({ outcome: 'threw', error }));
    await h.drain();
    assert.deepEqual(
      { b: outcomeB.outcome, upload: (await h.uploadRecord('flip-upload'))?.status, pkg: (await h.record('flip', '1.0.0'))?.status },
      { b: outcomeB.outcome, upload: 'Accepted', pkg: 'Added' },
    );
  });

  it('D1b: image bundle, duplicate event after a takeover: the manifest read 404s once the first attempt finished; the upload stays Accepted', async () => {
    const image = await imageBundle({ name: 'flipimg', repository: 'library/flipimg', tag: '1', seed: 'F' });
    const key = await h.upload(image.bytes, 'flipimg-upload');
    // Attempt 1 (A): stalls while copying, past the stale age.
    const stallA = new Gate();
    h.store.inject({ op: 'get', key, skip: 8, action: { kind: 'pause', gate: stallA } });
    const attemptA = h.ingest(key);
    await stallA.reached;
    await sleep(2200);
    // Attempt 2 (B: the duplicate S3 event, or the reconciler) takes over; it is about to read the image manifest.
    const storeB = new FaultyStore(h.inner);
    const stallB = new Gate();
    storeB.inject({ op: 'get', key, skip: 6, action: { kind: 'pause', gate: stallB } });
    const attemptB = ingestBundle({ ...h.context, store: storeB }, key);
    await stallB.reached;
    stallA.release();
    assert.equal((await attemptA).outcome, 'accepted');
    stallB.release();
    // B's read of the bundle A deleted is a storage failure: retried, never a bad bundle.
    const outcomeB = await attemptB.catch((error: Error) => ({ outcome: `retried after ${error.name}` }));
    assert.equal(outcomeB.outcome, 'retried after ByteSourceError');
    await h.drain();
    const upload = await h.uploadRecord('flipimg-upload');
    assert.deepEqual(
      { b: outcomeB.outcome, upload: upload?.status, error: upload?.error?.type ?? null, pkg: (await h.record('flipimg', '1.0.0'))?.status },
      { b: outcomeB.outcome, upload: 'Accepted', error: null, pkg: 'Added' },
    );
  });

  it('D3: the queue send fails on every attempt after staging: the upload ends Accepted and the reconciler publishes the package', async () => {
    const key = await h.upload(craftedBundle({ name: 'sendfail3' }), 'sendfail3-upload');
    const down: JobQueue = { name: 'down', send: async () => Promise.reject(new Error('SQS unavailable')) };
    await assert.rejects(h.ingest(key, { ...h.context, queue: down }));
    await assert.rejects(h.ingest(key, { ...h.context, queue: down }));
    const third = await h.ingest(key, { ...h.context, queue: down });
    assert.equal(third.outcome, 'accepted', 'its record was written: the reconciler queues the publish');
    await reconcile(h.context, { staleAfterMs: 0 });
    await h.drain();
    assert.deepEqual(
      { upload: (await h.uploadRecord('sendfail3-upload'))?.status, pkg: (await h.record('sendfail3', '1.0.0'))?.status },
      { upload: 'Accepted', pkg: 'Added' },
      'the upload and the package agree',
    );
  });
});
