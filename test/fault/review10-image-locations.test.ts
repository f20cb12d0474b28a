/**
 * Review 10, claim 7: template images. The bundle reader refuses a manifest that claims a template
 * image the Marathon template does not contain; publication rewrites template literals without
 * corrupting the template. Attacks: a claim of the template pointer itself as an image (no
 * `template` field: the checkPointer path, which only compares the whole base64 template with the
 * image string; the upload is Accepted and the package then fails publication as InvalidIndex);
 * an image claimed at a pointer that is no image location at all (/description: accepted, and
 * publication replaces the description with a registry image reference); rewriting around escaped
 * quotes, unicode, `\/` escapes and repeated literals (passes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Bundle } from '../../lib/bundle/bundle-reader.ts';
import { BufferByteSource } from '../../lib/bundle/byte-source.ts';
import { repositoryEntry, type IndexFragment } from '../../lib/registry/index-document.ts';
import { readPublishedIndex } from '../../lib/registry/repository-index.ts';
import { TEMPLATE_POINTER } from '../../lib/universe/image-locations.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';
import { startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { bundleWithImage, platformImage } from './review10-helpers.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const DIGEST = `sha256:${'d'.repeat(64)}`;

function metadataWith(template: string, name = 'templated'): PackageMetadata {
  return {
    packagingVersion: '4.0',
    name,
    version: '1.0.0',
    maintainer: 'tests',
    description: 'template images',
    tags: ['test'],
    marathon: { v2AppMustacheTemplate: b64(template) },
  } as PackageMetadata;
}

async function opened(bytes: Buffer): Promise<Bundle> {
  return Bundle.open(new BufferByteSource(bytes));
}

describe('template images in a crafted bundle', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());
  const image = platformImage('amd64', 'template');

  it('refuses a template image the template does not contain (ManifestMismatch)', async () => {
    const metadata = metadataWith('{"id":"/app","container":{"docker":{"image":"nginx:1.25"}}}');
    const bytes = await bundleWithImage(metadata, image, (digest, size) => [
      { ref: TEMPLATE_POINTER, image: 'evil/x:1', template: 'evil/x:1', repository: 'evil/x', tag: '1', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size },
    ]);
    await assert.rejects(opened(bytes), (error: unknown) => (error as { type?: string }).type === 'ManifestMismatch');
  });

  it('refuses at bundle read the template pointer claimed as an image without `template` (publication would replace the whole template with an image reference)', async () => {
    const template = '{"id":"/app"}';
    const metadata = metadataWith(template, 'pointer-claim');
    const bytes = await bundleWithImage(metadata, image, (digest, size) => [
      // image: the template's base64 itself, so the pointer check (value === image) passes.
      { ref: TEMPLATE_POINTER, image: b64(template), repository: 'evil/x', tag: '1', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size },
    ]);
    let refused: unknown;
    try {
      await opened(bytes);
    } catch (error) {
      refused = error;
    }
    if (refused === undefined) {
      // Accepted: see what it publishes.
      const key = await harness.upload(bytes);
      const outcome = await harness.ingest(key);
      await harness.drain();
      const entry = (await readPublishedIndex(harness.inner))?.document.packages.find((pkg) => pkg.name === 'pointer-claim') as { marathon?: { v2AppMustacheTemplate: string } } | undefined;
      const published = entry?.marathon?.v2AppMustacheTemplate;
      const record = await harness.record('pointer-claim', '1.0.0');
      assert.fail(`accepted (${outcome.outcome}; record ${record?.status} ${JSON.stringify(record?.error?.message ?? '')}); /repo's template is now ${JSON.stringify(published)} (decodes to ${JSON.stringify(published && Buffer.from(published, 'base64').toString('utf8'))}), not ${JSON.stringify(b64(template))}`);
    }
    assert.equal((refused as { type?: string }).type, 'ManifestMismatch');
  });

  it('refuses an image claimed at a pointer that is no image location (/description)', async () => {
    const metadata = { ...metadataWith('{"id":"/app"}', 'description-claim'), description: 'nginx:1.25' } as PackageMetadata;
    const bytes = await bundleWithImage(metadata, image, (digest, size) => [
      { ref: '/description', image: 'nginx:1.25', repository: 'library/nginx', tag: '1.25', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size },
    ]);
    let refused: unknown;
    try {
      await opened(bytes);
    } catch (error) {
      refused = error;
    }
    if (refused === undefined) {
      await harness.ingest(await harness.upload(bytes));
      await harness.drain();
      const entry = (await readPublishedIndex(harness.inner))?.document.packages.find((pkg) => pkg.name === 'description-claim');
      assert.fail(`accepted; /repo's description is now ${JSON.stringify(entry?.description)}`);
    }
  });
});

describe('rewriting template literals', () => {
  it('changes the literals only, whatever else the template holds', () => {
    const before =
      '{"id":"/ünïcødé-app","cmd":"echo \\"image\\": \\"nginx:1.25\\" ✓","labels":{"note":"a \\\\"},\n' +
      '"containers":[{"container":{"docker":{"image":"nginx:1.25"}}},{"container":{"docker":{"image" : "nginx:1.25"}}},' +
      '{"container":{"docker":{"image":"team\\/tool:2"}}}],"env":{"X":"😀 {{service.name}}"}}';
    const metadata = metadataWith(before);
    const fragment: IndexFragment = {
      name: 'templated',
      version: '1.0.0',
      releaseVersion: 1,
      contentDigest: 'c'.repeat(64),
      metadata,
      resources: [],
      images: [
        { ref: TEMPLATE_POINTER, repository: 'library/nginx', tag: '1.25', digest: DIGEST, template: 'nginx:1.25' },
        { ref: TEMPLATE_POINTER, repository: 'team/tool', tag: '2', digest: DIGEST, template: 'team/tool:2' },
      ],
    };
    const entry = repositoryEntry(fragment, { publicBaseUrl: 'http://registry', dockerHost: 'registry:443' }) as unknown as PackageMetadata;
    const after = Buffer.from(entry.marathon!.v2AppMustacheTemplate, 'base64').toString('utf8');
    const expected =
      '{"id":"/ünïcødé-app","cmd":"echo \\"image\\": \\"nginx:1.25\\" ✓","labels":{"note":"a \\\\"},\n' +
      `"containers":[{"container":{"docker":{"image": "registry:443/library/nginx@${DIGEST}"}}},{"container":{"docker":{"image": "registry:443/library/nginx@${DIGEST}"}}},` +
      `{"container":{"docker":{"image": "registry:443/team/tool@${DIGEST}"}}}],"env":{"X":"😀 {{service.name}}"}}`;
    assert.equal(after, expected);
    assert.doesNotThrow(() => JSON.parse(after.replace(/\{\{[^}]*\}\}/g, 'x')), 'still JSON once rendered');
  });
});
