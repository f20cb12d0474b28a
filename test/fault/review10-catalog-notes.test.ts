/**
 * Review 10, claim 2: "every package-record change is followed by noteInCatalog". publishPackage
 * writes the record's releaseVersion (publisher.ts, `withRelease`) and noted nothing, so the row
 * differed from what it is derived from until markAdded noted it, and a late duplicate of the job
 * wrote a release version into a Failed record that nothing noted. Now a row shows the release
 * version once the version is published (catalogRowOf), and the release is written only while
 * the record is Processing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readCatalogPage } from '../../lib/registry/catalog/package-catalog.ts';
import { describe as describePackageVersion } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { describePackage, type PackageDescription } from '../../lib/registry/records.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';

async function listed(harness: Harness, name: string): Promise<PackageDescription | undefined> {
  return (await readCatalogPage(harness.context, { name })).packages.find((row) => row.version === '1.0.0');
}

async function described(harness: Harness, name: string): Promise<PackageDescription> {
  return describePackage(await describePackageVersion(harness.context, name, '1.0.0'));
}

describe('catalog notes after every record change', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('lists what describe answers while a publish is under way (its release version is written)', async () => {
    const key = await harness.upload(craftedBundle({ name: 'midway' }));
    assert.equal((await harness.ingest(key)).outcome, 'accepted');
    // The publish has written the release version into the record and is committing the index.
    const gate = new Gate();
    harness.store.inject({ op: 'put', key: 'index/repo.json.gz', action: { kind: 'pause', gate } });
    const draining = harness.drain();
    await gate.reached;
    try {
      const record = await described(harness, 'midway');
      assert.notEqual(record.releaseVersion, null, 'the record has its release version');
      assert.deepEqual(await listed(harness, 'midway'), { ...record, releaseVersion: null }, 'the row is the record describe shows, its release version not yet public');
      assert.deepEqual((await harness.fsck()).violations.filter((violation) => violation.type === 'PackageCatalogOutOfDate'), [], 'fsck finds the catalog in line meanwhile');
    } finally {
      gate.release();
      await draining;
    }
  });

  it('never leaves the catalog behind the record when a publish is abandoned after writing the release version', async () => {
    const key = await harness.upload(craftedBundle({ name: 'abandoned' }));
    assert.equal((await harness.ingest(key)).outcome, 'accepted');
    const record = (await harness.record('abandoned', '1.0.0'))!;
    const job = { kind: 'publish', name: 'abandoned', version: '1.0.0', bundleDigest: record.contentDigest } as const;
    // Delivery 1 has read the record (Processing) and is allocating the release version...
    const gate = new Gate();
    harness.store.inject({ op: 'put', key: 'index/release-versions/abandoned.json', action: { kind: 'pause', gate } });
    const first = handleJob(harness.context, job, 1);
    await gate.reached;
    // ...when a duplicate delivery, on its last attempt, fails for good: the record goes Failed (noted).
    harness.store.inject({ op: 'head', key: 'resources/sha256/', action: { kind: 'fail' } });
    await handleJob(harness.context, job, harness.context.settings.maxAttempts);
    assert.equal((await harness.record('abandoned', '1.0.0'))?.status, 'Failed');
    gate.release();
    await first; // writes the release version into the Failed record, then finds it no longer publishing
    harness.store.clear();
    await harness.drain();
    const now = await described(harness, 'abandoned');
    assert.equal(now.releaseVersion, null, 'a late delivery gives a Failed record no release version');
    assert.deepEqual(await listed(harness, 'abandoned'), now, 'the row list shows is the record describe shows');
    assert.deepEqual((await harness.fsck()).violations.filter((violation) => violation.type === 'PackageCatalogOutOfDate'), []);
  });
});
