/**
 * Review 10, claim 6: a multi-platform index the bundle holds only some children of is served
 * reduced (own digest), the source index neither stored nor served by that package; a complete one
 * keeps the source digest. Two packages sharing one image (one complete, one reduced), removed one
 * then the other: collection must keep what the other still needs, and fsck stays clean.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { imageBlobKey } from '../../lib/registry/layout.ts';
import { startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { indexOf, multiPlatformBundle, platformImage, sha, v2 } from './review10-helpers.ts';

const amd64 = platformImage('amd64', 'shared');
const arm64 = platformImage('arm64', 'shared');
const source = indexOf([amd64, arm64]);
const sourceDigest = `sha256:${sha(source)}`;

async function add(harness: Harness, bytes: Buffer): Promise<{ unchanged: boolean }> {
  const key = await harness.upload(bytes);
  const outcome = await harness.ingest(key);
  assert.equal(outcome.outcome, 'accepted', JSON.stringify(outcome));
  await harness.drain();
  return { unchanged: outcome.outcome === 'accepted' && outcome.unchanged };
}

async function remove(harness: Harness, name: string): Promise<void> {
  await requestRemoval(harness.context, name, '1.0.0');
  await harness.drain();
  await collectGarbage(harness.context);
}

async function servedDigest(harness: Harness, name: string): Promise<string> {
  const record = (await harness.record(name, '1.0.0'))!;
  assert.equal(record.status, 'Added', `${name} is Added`);
  return record.images![0]!.digest;
}

async function assertPullable(harness: Harness, digest: string, label: string): Promise<void> {
  const manifest = await v2(harness.context, `team/app/manifests/${digest}`);
  assert.equal(manifest.status, 200, `${label}: its index is served`);
  const document = JSON.parse(manifest.body.toString('utf8')) as { manifests: { digest: string }[] };
  for (const child of document.manifests) {
    const served = await v2(harness.context, `team/app/manifests/${child.digest}`);
    assert.equal(served.status, 200, `${label}: child ${child.digest} it names is served`);
    const image = JSON.parse(served.body.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const blob of [image.config, ...image.layers]) {
      assert.equal((await v2(harness.context, `team/app/blobs/${blob.digest}`)).status, 200, `${label}: blob ${blob.digest} is served`);
    }
  }
}

async function assertClean(harness: Harness, label: string): Promise<void> {
  const report = await harness.fsck();
  assert.deepEqual(report.violations.map((violation) => `${violation.type}: ${violation.message}`), [], `${label}: fsck is clean`);
}

for (const order of ['complete first', 'reduced first'] as const) {
  describe(`two packages sharing one multi-platform image (${order})`, () => {
    let harness: Harness;
    before(async () => (harness = await startHarness()));
    after(() => harness.close());

    it('serves each package its own index, keeps what the other needs through both removals, fsck clean', async () => {
      const complete = await multiPlatformBundle({ name: 'complete', repository: 'team/app', tag: '1.0', index: source, include: [amd64, arm64] });
      const reduced = await multiPlatformBundle({ name: 'reduced', repository: 'team/app', tag: '1.0', index: source, include: [amd64] });
      const bundles = order === 'complete first' ? [complete, reduced] : [reduced, complete];
      for (const bytes of bundles) await add(harness, bytes);

      const completeDigest = await servedDigest(harness, 'complete');
      const reducedDigest = await servedDigest(harness, 'reduced');
      assert.equal(completeDigest, sourceDigest, 'a complete index keeps the source digest');
      assert.notEqual(reducedDigest, sourceDigest, 'a partial one is reduced');
      const reducedRecord = (await harness.record('reduced', '1.0.0'))!;
      assert.ok(!reducedRecord.imageBlobs!.includes(sha(source)), 'the reduced package does not hold the source index');
      await assertPullable(harness, completeDigest, 'complete');
      await assertPullable(harness, reducedDigest, 'reduced');
      await assertClean(harness, 'both added');

      // Adding either again changes nothing.
      assert.equal((await add(harness, reduced)).unchanged, true, 'the reduced bundle again is unchanged');
      assert.equal((await add(harness, complete)).unchanged, true, 'the complete bundle again is unchanged');

      await remove(harness, 'complete');
      await assertPullable(harness, reducedDigest, 'reduced after the complete one went');
      assert.equal(await harness.inner.head(imageBlobKey(sha(source))), undefined, 'the source index went with the only package holding it');
      assert.equal(await harness.inner.head(imageBlobKey(sha(arm64.layer))), undefined, 'and the arm64 image');
      await assertClean(harness, 'complete removed');

      await remove(harness, 'reduced');
      for (const digest of [sha(amd64.manifest), sha(amd64.config), sha(amd64.layer), reducedDigest.slice('sha256:'.length)]) {
        assert.equal(await harness.inner.head(imageBlobKey(digest)), undefined, `${digest} collected once no package holds it`);
      }
      await assertClean(harness, 'both removed');
    });
  });
}

describe('a reduced index and the tag', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('never serves a tag naming a manifest it does not have, whichever package published last', async () => {
    await add(harness, await multiPlatformBundle({ name: 'complete', repository: 'team/app', tag: '1.0', index: source, include: [amd64, arm64] }));
    await add(harness, await multiPlatformBundle({ name: 'reduced', repository: 'team/app', tag: '1.0', index: source, include: [amd64] }));
    for (const step of ['both', 'after removing reduced'] as const) {
      const tag = await v2(harness.context, 'team/app/manifests/1.0');
      assert.equal(tag.status, 200, step);
      const document = JSON.parse(tag.body.toString('utf8')) as { manifests: { digest: string }[] };
      for (const child of document.manifests) assert.equal((await v2(harness.context, `team/app/manifests/${child.digest}`)).status, 200, `${step}: ${child.digest}`);
      assert.equal(tag.headers['docker-content-digest'], `sha256:${sha(tag.body)}`, `${step}: the tag's digest header names its bytes`);
      if (step === 'both') await remove(harness, 'reduced');
    }
  });
});
