/**
 * The reader's checks of the images part: every image the metadata names is there, complete,
 * and every blob is what its name says.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BufferByteSource } from '../../../lib/bundle/byte-source.ts';
import { readAndVerifyBundle } from '../../../lib/bundle/bundle-reader.ts';
import { InvalidBundleError, type BundleFailure } from '../../../lib/bundle/bundle-errors.ts';
import { ZipArchive } from '../../../lib/bundle/zip/zip-reader.ts';
import { writeImageBundle } from '../../bench/image-bundle.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';
import { craftZip, type CraftedEntry } from '../../helpers/zip-crafter.ts';

/** The entries of a bundle written by the product, as crafted entries a test can change. */
async function imageBundleEntries(): Promise<CraftedEntry[]> {
  const path = join(await temporaryDirectory(), 'image.dcos');
  await writeImageBundle(path, 64 * 1024);
  const source = new BufferByteSource(await readFile(path));
  const archive = await ZipArchive.open(source);
  const entries: CraftedEntry[] = [];
  for (const entry of archive.entries.values()) {
    entries.push({ name: entry.name, content: await archive.readEntry(entry, 1 << 24), method: entry.method as 0 | 8 });
  }
  return entries;
}

async function expectRefusal(entries: CraftedEntry[], reason: BundleFailure, message: RegExp): Promise<void> {
  await assert.rejects(readAndVerifyBundle(new BufferByteSource(craftZip(entries))), (error: unknown) => {
    assert.ok(error instanceof InvalidBundleError, String(error));
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, message);
    return true;
  });
}

describe('bundle reader, images part', () => {
  it('accepts a bundle with an image and exposes its blobs and manifest types', async () => {
    const bundle = await readAndVerifyBundle(new BufferByteSource(craftZip(await imageBundleEntries())));
    assert.equal(bundle.manifest.images.length, 1);
    assert.equal(bundle.imageBlobs.size, 3, 'layer, config and manifest');
    assert.deepEqual([...bundle.manifestTypes.values()], ['application/vnd.oci.image.manifest.v1+json']);
  });

  it('refuses a missing layer, an unreachable blob and a tampered layer', async () => {
    const entries = await imageBundleEntries();
    const layer = entries.reduce((largest, entry) => (entry.content.length > largest.content.length ? entry : largest));
    await expectRefusal(entries.filter((entry) => entry !== layer), 'MissingEntry', /Package entry not found: images\/blobs\/sha256\//);
    const stray = { name: `images/blobs/sha256/${'e'.repeat(64)}`, content: Buffer.from('stray') };
    await expectRefusal([...entries, stray], 'UnsupportedEntry', /is not part of bundle format v1/);
    const tampered = Buffer.from(layer.content);
    tampered[100] = tampered[100]! ^ 1;
    await expectRefusal(entries.map((entry) => (entry === layer ? { ...entry, content: tampered } : entry)), 'DigestMismatch', /not the one its name claims/);
  });

  it('refuses metadata that names an image the bundle does not carry', async () => {
    const entries = await imageBundleEntries();
    const metadataEntry = entries.find((entry) => entry.name === 'metadata.json')!;
    const metadata = JSON.parse(Buffer.from(metadataEntry.content).toString('utf8')) as { resource: { assets: { container: { docker: Record<string, string> } } } };
    metadata.resource.assets.container.docker.extra = 'team/missing:1';
    const changed = entries.map((entry) => (entry === metadataEntry ? { ...entry, content: Buffer.from(JSON.stringify(metadata)) } : entry));
    await expectRefusal(changed, 'ManifestMismatch', /names the image team\/missing:1 .* does not contain it/);
  });

  it('refuses an images part without its OCI layout files', async () => {
    const entries = (await imageBundleEntries()).filter((entry) => entry.name !== 'images/index.json');
    await expectRefusal(entries, 'MissingEntry', /Package entry not found: images\/index\.json/);
  });
});
