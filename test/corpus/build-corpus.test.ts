/**
 * Every corpus revision without Docker images goes migrate → build → read: the build downloads
 * each asset from a local server (through --url-rewrite rules), verifies CLI content hashes, and
 * the reader accepts the bundle and returns the same metadata.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readAndVerifyBundle } from '../../lib/bundle/bundle-reader.ts';
import { FileByteSource } from '../../lib/bundle/byte-source.ts';
import { buildBundle } from '../../lib/packaging/build-bundle.ts';
import { parseUrlRewrite } from '../../lib/packaging/fetch/url-rewrite.ts';
import { assetReferences } from '../../lib/universe/asset-references.ts';
import { imageLocations } from '../../lib/universe/image-locations.ts';
import { migratePackageDirectory } from '../../lib/packaging/migrate.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';
import { assetBytesFor, rewriteEverythingTo, servedPathFor, sha256Hex, startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { servedBuildDefinition } from '../helpers/build-definitions.ts';
import { corpusRevisions, corpusSkipReason } from '../helpers/corpus.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const skip = corpusSkipReason();

describe('build over the Universe corpus', { skip }, () => {
  let server: AssetServer;
  before(async () => {
    server = await startAssetServer();
  });
  after(() => server?.close());

  it('builds and reads back every revision without Docker images (3.0 migrated as 4.0, 4.0)', async () => {
    // Without images anywhere: neither in resource (MANIFEST.tsv's docker_images) nor in a config
    // default or the Marathon template (9 of the 117 without resource images name one there).
    const candidates = corpusRevisions().filter((revision) => !revision.hasDockerImages && revision.packagingVersion !== '2.0');
    assert.equal(candidates.length, 117);
    const revisions = [];
    for (const revision of candidates) {
      if (imageLocations((await migratePackageDirectory(revision.directory)).definition as PackageMetadata).locations.length === 0) revisions.push(revision);
    }
    assert.equal(revisions.length, 108);
    const work = await temporaryDirectory();
    const rewrites = rewriteEverythingTo(server.baseUrl).map(parseUrlRewrite);
    let bundles = 0;
    let resources = 0;
    for (const revision of revisions) {
      const directory = join(work, revision.relativePath.replace(/\//g, '_'));
      const { file, definition } = await servedBuildDefinition(revision.directory, work);
      const outcome = await buildBundle({ buildDefinitionFile: file, outputDirectory: directory, overwrite: false, rewrites });
      const source = await FileByteSource.open(outcome.path);
      try {
        const bundle = await readAndVerifyBundle(source);
        assert.deepEqual(bundle.metadata, definition, revision.relativePath);
        const references = assetReferences(definition as PackageMetadata);
        assert.equal(bundle.manifest.resources.length, references.length, revision.relativePath);
        for (const entry of bundle.manifest.resources) {
          assert.equal(entry.sha256, sha256Hex(assetBytesFor(servedPathFor(entry.url))), `${revision.relativePath} ${entry.url}`);
        }
        resources += references.length;
      } finally {
        await source.close();
      }
      bundles++;
    }
    assert.equal(bundles, revisions.length);
    assert.ok(resources > 500, `only ${resources} resources across the corpus`);
  });
});
