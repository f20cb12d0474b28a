/**
 * The whole Universe corpus through the product: every 4.0 and 5.0 revision is migrated, built
 * (assets from a local asset server, images pulled from a local registry), added to the embedded
 * registry over HTTP, and published; the final /repo is valid v5 and names nothing outside the
 * registry.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../lib/cli/registry-client.ts';
import { buildBundle } from '../../lib/packaging/build-bundle.ts';
import { parseUrlRewrite } from '../../lib/packaging/fetch/url-rewrite.ts';
import { assetReferences, dockerImageReferences } from '../../lib/universe/asset-references.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';
import { rewriteEverythingTo, startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { servedBuildDefinition } from '../helpers/build-definitions.ts';
import { corpusRevisions, corpusSkipReason } from '../helpers/corpus.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { fetchRepository, renderedImages, resourceUrls } from '../helpers/repository-checks.ts';
import { describeUnresolvedImage, imageLocations } from '../../lib/universe/image-locations.ts';
import { startSourceRegistry, type SourceRegistry } from '../helpers/source-registry.ts';

const skip = corpusSkipReason();
const IMAGE_HOSTS = ['docker.io', 'k8s.gcr.io', 'gcr.io', 'quay.io', 'docker.bintray.io'];

interface Upload {
  uploadId: string;
  upload: { url: string; headers: Record<string, string> };
}

describe('the Universe corpus, round trip', { skip }, () => {
  let assets: AssetServer;
  let source: SourceRegistry;
  let registry: RegistryUnderTest;
  let work: string;
  before(async () => {
    assets = await startAssetServer();
    source = await startSourceRegistry({ onDemand: true });
    registry = await startEmbeddedRegistry();
    work = await mkdtemp(join(tmpdir(), 'round-trip-'));
  });
  after(async () => {
    await registry?.close();
    await source?.close();
    await assets?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('migrates, builds and adds every 4.0 and 5.0 revision; /repo is valid and self-contained', async (context) => {
    const revisions = (skip ? [] : corpusRevisions()).filter((revision) => revision.packagingVersion === '4.0' || revision.packagingVersion === '5.0');
    assert.equal(revisions.length, 301);
    const client = new RegistryClient({ url: registry.url, token: registry.token });
    const rewrites = rewriteEverythingTo(assets.baseUrl).map(parseUrlRewrite);
    const mirrors = new Map(IMAGE_HOSTS.map((host) => [host, source.host]));
    const added = new Map<string, string>();
    const conflicts: string[] = [];
    const notBundled: string[] = [];
    const reported = new Set<string>();
    let bundleBytes = 0;
    let expectedUrls = 0;
    let expectedImages = 0;
    for (const revision of revisions) {
      const directory = join(work, revision.relativePath.replace(/\//g, '_'));
      const { file, definition } = await servedBuildDefinition(revision.directory, work);
      const { path } = await buildBundle({ buildDefinitionFile: file, outputDirectory: directory, overwrite: false, rewrites, images: { mirrors } });
      const { size } = await stat(path);
      bundleBytes += size;
      const ticket = await client.request<Upload>('POST', '/v1/uploads', { fileName: `${revision.name}.dcos`, size });
      await client.uploadFile(ticket.upload.url, path, ticket.upload.headers, () => undefined);
      await client.request('POST', `/v1/uploads/${ticket.uploadId}/complete`);
      const coordinate = `${revision.name}@${revision.version}`;
      if (added.has(coordinate)) {
        conflicts.push(coordinate);
      } else {
        expectedUrls += assetReferences(definition as PackageMetadata).length;
        expectedImages += dockerImageReferences(definition as PackageMetadata).length;
        for (const unresolved of imageLocations(definition as PackageMetadata).unresolved) {
          notBundled.push(`${revision.relativePath}: ${describeUnresolvedImage(unresolved)}`);
          reported.add(`${coordinate} ${unresolved.value}`);
        }
      }
      added.set(coordinate, ticket.uploadId);
    }
    await registry.settled();
    // The corpus holds one coordinate twice with different content (dcos-aws-cli 1.0, revisions 0
    // and 1): the second add is refused, as a conflicting re-add must be.
    assert.deepEqual(conflicts, ['dcos-aws-cli@1.0']);
    const { packages } = await client.request<{ packages: { name: string; version: string; status: string }[] }>('GET', '/v1/packages');
    const listed = new Set(packages.map((pkg) => `${pkg.name}@${pkg.version}`));
    assert.deepEqual([...added.keys()].filter((coordinate) => !listed.has(coordinate)), [], 'every package is listed');
    assert.equal(packages.length, added.size);
    assert.deepEqual(packages.filter((pkg) => pkg.status !== 'Added'), [], 'every package ends Added');

    // A client that names no DC/OS version sees every entry (the corpus has minDcosReleaseVersion
    // "9999" packages that no real cluster is shown).
    const repository = await fetchRepository(registry.url, 'cosmos/0.6.3');
    const indexed = new Set(repository.packages.map((pkg) => `${pkg.name}@${pkg.version}`));
    assert.deepEqual([...added.keys()].filter((coordinate) => !indexed.has(coordinate)), [], 'every package is in /repo');
    assert.equal(repository.packages.length, added.size);
    const dcos21 = await fetchRepository(registry.url);
    assert.ok(dcos21.packages.length < added.size, 'DC/OS 2.1 does not see the packages that need a newer DC/OS');
    const registryHost = new URL(registry.url).host;
    let urls = 0;
    let images = 0;
    for (const entry of repository.packages) {
      for (const url of resourceUrls(entry)) {
        assert.ok(url.startsWith(`${registry.url}/resource/`), `${entry.name} ${entry.version}: ${url}`);
        urls++;
      }
      const docker = (entry.resource as { assets?: { container?: { docker?: Record<string, string> } } } | undefined)?.assets?.container?.docker ?? {};
      for (const image of Object.values(docker)) {
        assert.ok(image.startsWith(`${registryHost}/`), `${entry.name} ${entry.version}: ${image}`);
        assert.match(image, /@sha256:[0-9a-f]{64}$/, `${entry.name} ${entry.version}: named by digest`);
        images++;
      }
    }
    // What an app rendered from each entry runs (config defaults applied): only this registry's images.
    const outside: string[] = [];
    let rendered = 0;
    for (const entry of repository.packages) {
      for (const image of renderedImages(entry)) {
        rendered++;
        if (!image.startsWith(`${registryHost}/`) && !reported.has(`${entry.name}@${entry.version} ${image}`)) outside.push(`${entry.name} ${entry.version}: ${image}`);
      }
    }
    assert.deepEqual(outside, [], 'every image a rendered app names is on this registry, or was reported as not bundled');
    assert.equal(urls, expectedUrls, 'every downloaded file is named by its registry URL');
    assert.equal(images, expectedImages, 'every image is named on this registry');
    context.diagnostic(`${added.size} packages, ${urls} resource URLs, ${images} image references, ${rendered} images named by rendered apps, ${(bundleBytes / 1024 / 1024).toFixed(1)} MiB of bundles`);
    // What looks like an image but cannot be bundled (build warns; --strict-images refuses), with why.
    context.diagnostic(`${notBundled.length} image reference(s) not bundled:${notBundled.map((line) => `\n  ${line}`).join('')}`);
  });
});
