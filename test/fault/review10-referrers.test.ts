/**
 * Review 10, claim 5: GET /v2/<name>/referrers/<digest> answers 200 with an empty OCI index for a
 * repository that exists. "Exists" is decided by its tag list; a package that pins its image by
 * digest (no tag) publishes no tag list, yet the registry serves that repository's manifest by
 * digest. Its referrers are then 404 NAME_UNKNOWN for a manifest the same name serves (the OCI
 * distribution spec: a registry that supports the Referrers API MUST NOT answer it 404).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { imageBundle } from './adversarial-images.ts';
import { v2 } from './review10-helpers.ts';

describe('referrers of a digest-pinned image', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('answers an empty index for a manifest the repository serves', async () => {
    const bundle = await imageBundle({ name: 'pinned', repository: 'team/pinned', seed: 'pinned' });
    const outcome = await harness.ingest(await harness.upload(bundle.bytes));
    assert.equal(outcome.outcome, 'accepted');
    await harness.drain();
    const manifest = await v2(harness.context, `team/pinned/manifests/${bundle.manifestDigest}`);
    assert.equal(manifest.status, 200, 'the manifest is served under this name');
    const referrers = await v2(harness.context, `team/pinned/referrers/${bundle.manifestDigest}`);
    assert.equal(referrers.status, 200, `referrers: ${referrers.body.toString('utf8')}`);
    assert.deepEqual(JSON.parse(referrers.body.toString('utf8')), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
  });
});
