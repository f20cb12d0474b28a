/**
 * Review 2: the Docker side written by a collection's rederiveTags while a publish runs on another
 * instance. rederiveTags computes the catalog from one listing of the tag lists and then writes it
 * by compare-and-swap on the catalog it read afterwards: the CAS protects nothing, since the value
 * it writes is not derived from what it read.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { imageBlobKey, tagKey } from '../../lib/registry/layout.ts';
import type { RegistryContext } from '../../lib/registry/context.ts';
import { startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { imageBundle } from './adversarial-images.ts';

const later = (context: RegistryContext, seconds: number): RegistryContext => ({ ...context, now: () => new Date(Date.now() + seconds * 1000) });

describe('review2: collections vs publications on the Docker side', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness({ gcGraceSeconds: 3600 })));
  afterEach(() => h.close());

  it('T3: deriveTag keeps a stale tag when the next owner\'s manifest blob is missing (tag names a removed package\'s manifest)', async () => {
    const a = await imageBundle({ name: 't3a', repository: 'team/t3', tag: '1', seed: 'A3' });
    const b = await imageBundle({ name: 't3b', repository: 'team/t3', tag: '1', seed: 'B3' });
    await h.ingest(await h.upload(a.bytes));
    await h.drain();
    await h.ingest(await h.upload(b.bytes), later(h.context, 10));
    await h.queue.run((job, attempt) => handleJob(later(h.context, 10), job, attempt));
    // A's manifest blob is lost (the corruption fsck is there to find).
    await h.inner.delete(imageBlobKey(a.manifestDigest.slice('sha256:'.length)));
    await requestRemoval(h.context, 't3b', '1.0.0');
    await h.drain();
    await collectGarbage({ ...h.context, store: h.inner });
    const tag = (await h.inner.head(tagKey('team/t3', '1')))?.metadata.digest;
    // Expected: no tag (its only live owner is damaged) or A's; found: B's, a Removed package's manifest.
    assert.notEqual(tag, b.manifestDigest, 'after removal + collection the tag still names the removed package\'s manifest');
  });
});
