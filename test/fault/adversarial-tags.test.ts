/**
 * Adversarial review, attack 4: shared image tags with real image bundles (three packages that
 * publish library/redis:5.0.5 with three different manifests X, Y, Z).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob, removePackage } from '../../lib/registry/publisher.ts';
import { imageBlobKey, tagKey, tagListKey } from '../../lib/registry/layout.ts';
import { readPublishedIndex } from '../../lib/registry/repository-index.ts';
import type { RegistryContext } from '../../lib/registry/context.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { imageBundle } from './adversarial-images.ts';

const REPO = 'library/redis';
const TAG = '5.0.5';
const later = (context: RegistryContext, seconds: number): RegistryContext => ({ ...context, now: () => new Date(Date.now() + seconds * 1000) });
const hex = (digest: string) => digest.replace(/^sha256:/, '');

async function tagDigest(h: Harness, tag = TAG): Promise<string | undefined> {
  return (await h.inner.head(tagKey(REPO, tag)))?.metadata.digest;
}

/** After a collection: the tag names `digest`, whose manifest is stored, and fsck finds nothing. */
async function assertTagBackOn(h: Harness, digest: string): Promise<void> {
  await collectGarbage(h.context);
  const tag = await tagDigest(h);
  assert.deepEqual(
    { tag, tagManifestStored: Boolean(await h.inner.head(imageBlobKey(hex(tag ?? '')))), fsck: (await h.fsck()).violations.map((v) => v.type) },
    { tag: digest, tagManifestStored: true, fsck: [] },
  );
}

/**
 * A publishes tag REPO:TAG (X); B's publish of the same tag (Y) is paused at its tag PUT, after
 * its derivation chose B, and B is then removed by another writer.
 */
async function publishOfBRemovedAtItsTagPut(h: Harness) {
  const a = await imageBundle({ name: 'ta', repository: REPO, tag: TAG, seed: 'X' });
  const b = await imageBundle({ name: 'tb', repository: REPO, tag: TAG, seed: 'Y' });
  await h.ingest(await h.upload(a.bytes));
  await h.drain();
  await h.ingest(await h.upload(b.bytes));
  const publishB = h.queue.sent.at(-1)!;
  h.queue.sent.length = 0;
  await h.queue.run(async () => undefined);
  const gate = new Gate();
  h.store.inject({ op: 'put', key: tagKey(REPO, TAG), action: { kind: 'pause', gate } });
  const ctxB = later(h.context, 10);
  const publishing = handleJob(ctxB, publishB, 1);
  await gate.reached;
  const other = { ...h.context, store: h.inner };
  await requestRemoval(other, 'tb', '1.0.0');
  await removePackage(other, 'tb', '1.0.0');
  return { a, gate, ctxB, publishB, publishing };
}

describe('adversarial: shared tags', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('held: /repo names each package image by its own digest whatever the tag does', async () => {
    const a = await imageBundle({ name: 'ta', repository: REPO, tag: TAG, seed: 'X' });
    const b = await imageBundle({ name: 'tb', repository: REPO, tag: TAG, seed: 'Y' });
    await h.ingest(await h.upload(a.bytes));
    await h.drain();
    await h.ingest(await h.upload(b.bytes), later(h.context, 10));
    await h.queue.run((job, attempt) => handleJob(later(h.context, 10), job, attempt));
    assert.equal(await tagDigest(h), b.manifestDigest);
    const entry = (await readPublishedIndex(h.inner))!.document.packages.find((p) => p.name === 'ta')!;
    assert.match(JSON.stringify(entry), new RegExp(`library/redis@${a.manifestDigest}`));
    await requestRemoval(h.context, 'tb', '1.0.0');
    await h.drain();
    assert.equal(await tagDigest(h), a.manifestDigest, 'the tag goes back to the next latest publisher');
    await collectGarbage(h.context);
    assert.ok(await h.inner.head(imageBlobKey(a.layerDigest)));
    assert.deepEqual((await h.fsck()).violations, []);
  });

  it('C1: a removal re-deriving the tag from a stale view overwrites the tag a later publisher set meanwhile', async () => {
    const a = await imageBundle({ name: 'ta', repository: REPO, tag: TAG, seed: 'X' });
    const b = await imageBundle({ name: 'tb', repository: REPO, tag: TAG, seed: 'Y' });
    const c = await imageBundle({ name: 'tc', repository: REPO, tag: TAG, seed: 'Z' });
    await h.ingest(await h.upload(a.bytes));
    await h.drain();
    await h.ingest(await h.upload(b.bytes), later(h.context, 10));
    await h.queue.run((job, attempt) => handleJob(later(h.context, 10), job, attempt));
    await requestRemoval(h.context, 'tb', '1.0.0');
    const gate = new Gate();
    // The removal's derivation has chosen A (X) and pauses at its tag PUT.
    h.store.inject({ op: 'put', key: tagKey(REPO, TAG), action: { kind: 'pause', gate } });
    const removal = removePackage(h.context, 'tb', '1.0.0');
    await gate.reached;
    // Instance 2 publishes C (the latest) meanwhile: the tag is Z.
    const other = { ...later(h.context, 20), store: h.inner };
    h.queue.sent.length = 0;
    await h.ingest(await h.upload(c.bytes), other);
    await h.queue.run((job, attempt) => handleJob(other, job, attempt));
    assert.equal(await tagDigest(h), c.manifestDigest);
    gate.release();
    await removal;
    assert.deepEqual({ tag: await tagDigest(h), fsck: (await h.fsck()).violations.map((v) => v.type) }, { tag: c.manifestDigest, fsck: [] });
  });

  it('C2: a publish that lost to a removal but failed after its tag PUT leaves the tag on a removed manifest whose blobs GC then deletes', async () => {
    const { a, gate, ctxB, publishB, publishing } = await publishOfBRemovedAtItsTagPut(h);
    assert.equal(await tagDigest(h), a.manifestDigest);
    // B's publish goes on: PUTs Y, then its next storage call fails once (a 503), so the job is retried.
    h.store.inject({ op: 'get', key: tagListKey(REPO), action: { kind: 'fail' } });
    gate.release();
    await assert.rejects(publishing);
    await handleJob(ctxB, publishB, 2); // the retry: the record is gone, "publish skipped"
    await assertTagBackOn(h, a.manifestDigest);
  });

  it('held: C2 without the failure: the abandoned publish re-derives the tag (back to X)', async () => {
    const { a, gate, publishing } = await publishOfBRemovedAtItsTagPut(h);
    gate.release();
    await publishing;
    await collectGarbage(h.context);
    assert.equal(await tagDigest(h), a.manifestDigest);
    assert.deepEqual((await h.fsck()).violations, []);
  });

  it('C3: emptying a tag list races adding a tag to it: the list and the catalog entry of a published repository are lost', async () => {
    const a = await imageBundle({ name: 'ta', repository: REPO, tag: '5', seed: 'X' });
    const b = await imageBundle({ name: 'tb', repository: REPO, tag: '6', seed: 'Y' });
    await h.ingest(await h.upload(a.bytes));
    await h.drain();
    await h.ingest(await h.upload(b.bytes));
    const publishB = h.queue.sent.at(-1)!;
    h.queue.sent.length = 0;
    await h.queue.run(async () => undefined);
    await requestRemoval(h.context, 'ta', '1.0.0');
    const gate = new Gate();
    // A's removal emptied the list ([5] → []) and pauses before it deletes the list.
    h.store.inject({ op: 'delete', key: tagListKey(REPO), action: { kind: 'pause', gate } });
    const removal = removePackage(h.context, 'ta', '1.0.0');
    await gate.reached;
    await handleJob({ ...h.context, store: h.inner }, publishB, 1); // B adds 6 to the (empty) list
    gate.release();
    await removal;
    assert.equal((await h.record('tb', '1.0.0'))?.status, 'Added');
    assert.deepEqual((await h.fsck()).violations.map((v) => v.type), []);
  });

  it('C4: a publish that fails for good after its tags (index PUT fails 3 times) leaves the tag on the Failed package; GC then deletes its blobs', async () => {
    const a = await imageBundle({ name: 'ta', repository: REPO, tag: TAG, seed: 'X' });
    const b = await imageBundle({ name: 'tb', repository: REPO, tag: TAG, seed: 'Y' });
    await h.ingest(await h.upload(a.bytes));
    await h.drain();
    await h.ingest(await h.upload(b.bytes));
    const publishB = h.queue.sent.at(-1)!;
    h.queue.sent.length = 0;
    await h.queue.run(async () => undefined);
    h.store.inject({ op: 'put', key: 'index/repo.json.gz', times: 10, action: { kind: 'fail' } });
    const ctxB = later(h.context, 10);
    await assert.rejects(handleJob(ctxB, publishB, 1));
    await assert.rejects(handleJob(ctxB, publishB, 2));
    await handleJob(ctxB, publishB, 3);
    h.store.clear();
    assert.equal((await h.record('tb', '1.0.0'))?.status, 'Failed');
    await assertTagBackOn(h, a.manifestDigest);
  });

  it('C5: removing the only package of a digest-pinned (untagged) image leaves its repository in the catalog and an empty tag list', async () => {
    const pinned = await imageBundle({ name: 'pinned', repository: 'library/pinned', seed: 'P' });
    assert.equal((await h.ingest(await h.upload(pinned.bytes))).outcome, 'accepted');
    await h.drain();
    assert.deepEqual((await h.fsck()).violations, []);
    await requestRemoval(h.context, 'pinned', '1.0.0');
    await h.drain();
    assert.deepEqual((await h.fsck()).violations.map((v) => v.type), []);
  });
});

void craftedBundle;
