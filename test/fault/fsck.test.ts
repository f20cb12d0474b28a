/**
 * fsck finds each seeded corruption and `repair` fixes those that can be fixed (issue 8).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeJson } from '../../lib/registry/json-objects.ts';
import { indexTableKey, mediaObjectKey, resourceKey, uploadRecordKey } from '../../lib/registry/layout.ts';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import type { UploadRecord } from '../../lib/registry/records.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';

describe('fsck: seeded corruptions', () => {
  let harness: Harness;
  const kept = sizedBytes(200_000, 'kept');
  const lost = sizedBytes(200_000, 'lost');
  before(async () => {
    harness = await startHarness({ gcGraceSeconds: 0 });
    await harness.ingest(await harness.upload(craftedBundle({ name: 'intact', files: [kept] })));
    await harness.ingest(await harness.upload(craftedBundle({ name: 'damaged', files: [lost] })));
    await harness.drain();
  });
  after(() => harness.close());

  it('is clean on a healthy registry', async () => {
    const report = await harness.fsck();
    assert.equal(report.clean, true);
    assert.deepEqual(report.violations, []);
    assert.equal(report.checked.records, 2);
    assert.equal(report.checked.indexEntries, 2);
  });

  it('finds a deleted file, a stray file and a stuck record, and repairs what can be repaired', async () => {
    await harness.inner.delete(resourceKey(sha256Hex(lost)));
    const stray = sizedBytes(1000, 'stray');
    await harness.inner.put(resourceKey(sha256Hex(stray)), stray);
    const stuck: UploadRecord = {
      uploadId: 'stuck-0001',
      status: 'Validating',
      bundleKey: 'uploads/stuck-0001.dcos',
      packages: [],
      error: null,
      createdAt: '2020-01-01T00:00:00.000Z',
      updatedAt: '2020-01-01T00:00:00.000Z',
    };
    await writeJson(harness.inner, uploadRecordKey('stuck-0001'), stuck);
    const found = await harness.fsck();
    const types = found.violations.map((violation) => violation.type).sort();
    assert.deepEqual(types, ['ContentMissing', 'ContentUnreachable', 'RecordStuck']);
    const repaired = await harness.fsck(true);
    assert.equal(repaired.repaired, true);
    assert.deepEqual(repaired.remaining, []);
    assert.deepEqual(await harness.indexed(), ['intact 1.0.0'], 'the package whose file is lost leaves /repo');
    assert.equal((await harness.record('damaged', '1.0.0'))?.status, 'Failed');
    assert.equal((await harness.record('damaged', '1.0.0'))?.error?.type, 'ContentMissing');
    assert.equal((await harness.uploadRecord('stuck-0001'))?.status, 'Rejected');
    assert.equal(await harness.inner.head(resourceKey(sha256Hex(stray))), undefined, 'the stray file is collected');
    assert.ok(await harness.inner.head(resourceKey(sha256Hex(kept))));
  });

  it('finds a v4 object left behind by a writer that died after the commit, and the reconciler derives it again', async () => {
    // As if the writer died between the v5 commit and the v4 derivation, one generation back.
    const stale = await harness.inner.get(mediaObjectKey('v3'));
    const staleBytes = await readAllBytes(stale.body);
    await harness.inner.put(mediaObjectKey('v4'), staleBytes, { contentType: stale.contentType ?? '', contentEncoding: 'gzip', metadata: { ...stale.metadata, generation: '0' } });
    const found = await harness.fsck();
    assert.deepEqual(found.violations.map((violation) => violation.type), ['IndexObjectMismatch']);
    const report = await reconcile(harness.context);
    assert.equal(report.indexObjectsDerived, 1);
    assert.equal((await harness.fsck()).clean, true);
  });

  it('finds the index table gone (collected while a writer reused it) and the repair lays the index out again', async () => {
    const table = (await harness.inner.head(mediaObjectKey('v5')))?.metadata.table;
    assert.ok(table);
    await harness.inner.delete(indexTableKey(table));
    assert.deepEqual((await harness.fsck()).violations.map((violation) => violation.type), ['IndexLayoutMissing']);
    const repaired = await harness.fsck(true);
    assert.deepEqual(repaired.remaining, []);
    assert.deepEqual(await harness.indexed(), ['intact 1.0.0']);
  });
});
