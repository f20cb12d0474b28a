/**
 * Adversarial review, attack 1: an ingest that reuses a stored file vs garbage collection.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { FRAGMENTS_PREFIX } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { invariantProblems, orphanedFile, sleep } from './adversarial-helpers.ts';

describe('adversarial: GC vs an ingest that reuses a file', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  for (const [label, grace] of [
    ['A1 (zero grace window)', 0],
    ['A1g (default one-hour grace window, old file)', 3600],
  ] as const) {
    it(`${label}: a collection that runs longer than the stale age never deletes a file a new Added package uses`, async () => {
      if (grace > 0) {
        await h.close();
        h = await startHarness({ gcGraceSeconds: grace });
      }
      const name = `new-${label.split(' ')[0]!.toLowerCase()}`;
      const { bytes, key } = await orphanedFile(h, name);
      // The collection has marked (leases: none; records: none use the file) and is about to delete it.
      // Here it is paused; in production it is just slow (a big bucket: every record read, every blob listed).
      const gate = new Gate();
      h.store.inject({ op: 'delete', key, action: { kind: 'pause', gate } });
      const collection = collectGarbage(h.context);
      await gate.reached;
      // The ingest sees the collection's marker and waits for it. The collection is alive (it keeps
      // its marker fresh), so the ingest never commits under it: after a bounded wait the attempt
      // fails, to be retried, rather than publish a file the collection may yet delete.
      const bundleKey = await h.upload(craftedBundle({ name, files: [bytes] }));
      await assert.rejects(h.ingest(bundleKey), /a collection has been running/);
      gate.release();
      await collection;
      assert.equal(await h.inner.head(key), undefined, 'the collection deleted the file it had marked');
      // The retry (Lambda's, or the embedded runner's) puts the file back from the bundle.
      assert.equal((await h.ingest(bundleKey)).outcome, 'accepted');
      await h.drain();
      assert.equal((await h.record(name, '1.0.0'))?.status, 'Added');
      assert.deepEqual(await invariantProblems(h), [], 'an Added package whose file is stored');
    });
  }

  it('A2: an ingest stalled on one storage call past the stale age (its lease expired) never commits without its reused file', async () => {
    const { bytes, key } = await orphanedFile(h, 'a2');
    // The ingest has written its lease, listed the collections (none), found the file and read it,
    // and stalls on the PUT of its metadata document.
    const stall = new Gate();
    h.store.inject({ op: 'put', key: (k) => k.includes('/content/') && k.endsWith('metadata.json'), action: { kind: 'pause', gate: stall } });
    const ingest = h.ingest(await h.upload(craftedBundle({ name: 'new-a2', files: [bytes] })));
    await stall.reached;
    await sleep(2600); // the lease's last heartbeat is now older than the stale age (2 s)
    const collectionGate = new Gate();
    h.store.inject({ op: 'delete', key, action: { kind: 'pause', gate: collectionGate } });
    const collection = collectGarbage(h.context);
    await collectionGate.reached; // marked: the lease was expired, no record names the file
    stall.release();
    // Its lease lapsed: it writes it again and finds the collection under way; that one is alive,
    // so the attempt fails after a bounded wait instead of committing.
    await assert.rejects(ingest, /a collection has been running/);
    collectionGate.release();
    await collection;
    const retried = await h.ingest(`uploads/${(await h.inner.list('uploads/')).objects.find((object) => object.key.endsWith('.dcos'))!.key.slice('uploads/'.length)}`);
    assert.equal(retried.outcome, 'accepted');
    await h.drain();
    assert.equal((await h.record('new-a2', '1.0.0'))?.status, 'Added');
    assert.deepEqual(await invariantProblems(h), [], 'an Added package whose file is stored');
  });

  it('A3 (held: the sweep compares with the mark time) (zero grace window): a collection does not delete the fragment of a package published while it ran', async () => {
    // Staged before, published while the collection runs: marked before its fragment existed,
    // sweeps fragments after it was written.
    await h.ingest(await h.upload(craftedBundle({ name: 'a3' })));
    const gate = new Gate();
    h.store.inject({ op: 'list', key: FRAGMENTS_PREFIX, action: { kind: 'pause', gate } });
    const collection = collectGarbage(h.context);
    await gate.reached;
    await h.drain();
    assert.ok((await h.inner.list(`${FRAGMENTS_PREFIX}${encodeCoordinate({ name: 'a3', version: '1.0.0' })}/`)).objects.length > 0);
    gate.release();
    await collection;
    assert.deepEqual((await h.fsck()).violations.map((v) => v.type), []);
  });

  it('A4 (zero grace window only): a collection the ingest waited for deletes its metadata documents (never put back); the package fails to publish', async () => {
    // The collection has listed the leases (none) and pauses before it lists the records.
    const gate = new Gate();
    h.store.inject({ op: 'list', key: 'packages/', action: { kind: 'pause', gate } });
    const collection = collectGarbage(h.context);
    await gate.reached;
    const ingest = h.ingest(await h.upload(craftedBundle({ name: 'a4' }), 'a4-upload'));
    await sleep(300); // the ingest wrote its lease (after the collection listed leases) and its documents, and now waits for the collection it saw
    gate.release();
    await collection;
    assert.equal((await ingest).outcome, 'accepted');
    await h.drain();
    assert.deepEqual(
      { upload: (await h.uploadRecord('a4-upload'))?.status, record: (await h.record('a4', '1.0.0'))?.status, error: (await h.record('a4', '1.0.0'))?.error?.type ?? null },
      { upload: 'Accepted', record: 'Added', error: null },
    );
  });
});
