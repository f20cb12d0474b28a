/**
 * Issue 8, scenario 1, with a real client: two packages bundle `mesosphere/redis:5.0.5`, built on
 * different days (different manifests). Each package's /repo entry pulls (skopeo) the manifest its
 * own bundle carried, before and after the other is removed; the tag follows its latest publisher;
 * a tag made to point elsewhere is found by `fsck` and put right by `fsck --repair`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageBlobKey, tagKey } from '../../lib/registry/layout.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { fetchRepository } from '../helpers/repository-checks.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { skopeo } from '../helpers/skopeo.ts';
import { startSourceRegistry, type SourceRegistry } from '../helpers/source-registry.ts';

describe('shared repository:tag with different images (skopeo)', () => {
  let source: SourceRegistry;
  let registry: RegistryUnderTest;
  let work: string;
  let registryHost: string;
  let first: ReturnType<SourceRegistry['addImage']>;
  let second: ReturnType<SourceRegistry['addImage']>;
  const cli = (args: string[]) => runBuiltCli([...args, `--url=${registry.url}`], { env: { DCOS_REGISTRY_TOKEN: registry.token } });

  async function buildAndAdd(name: string): Promise<void> {
    const definition = join(work, `${name}.json`);
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name, version: '1.0.0', maintainer: 'ops@example.com', description: 'uses redis', tags: ['test'],
        marathon: { v2AppMustacheTemplate: Buffer.from('{"id":"redis","container":{"docker":{"image":"{{resource.assets.container.docker.redis}}"}}}').toString('base64') },
        resource: { assets: { container: { docker: { redis: 'mesosphere/redis:5.0.5' } } } },
      }),
    );
    const build = await runBuiltCli(['build', `--build-definition-file=${definition}`, `--output-directory=${work}`, `--registry-mirror=docker.io=${source.host}`]);
    assert.equal(build.code, 0, build.stderr);
    const add = await cli(['add', `--dcos-file=${join(work, `${name}-1.0.0.dcos`)}`, '--wait']);
    assert.equal(add.code, 0, add.stderr);
  }

  async function repoReference(name: string): Promise<string> {
    const { packages } = await fetchRepository(registry.url);
    const entry = packages.find((pkg) => pkg.name === name);
    assert.ok(entry, `${name} is in /repo`);
    return (entry.resource as { assets: { container: { docker: { redis: string } } } }).assets.container.docker.redis;
  }

  async function pulledManifestDigest(reference: string): Promise<string> {
    const directory = await mkdtemp(join(work, 'pull-'));
    await skopeo(['copy', '--src-tls-verify=false', `docker://${reference}`, `dir:${directory}`]);
    return `sha256:${createHash('sha256').update(await readFile(join(directory, 'manifest.json'))).digest('hex')}`;
  }

  before(async () => {
    source = await startSourceRegistry();
    registry = await startEmbeddedRegistry();
    registryHost = new URL(registry.url).host;
    work = await mkdtemp(join(tmpdir(), 'shared-tags-'));
    first = source.addImage('mesosphere/redis', '5.0.5', { layers: 2 });
    await buildAndAdd('redis-user-a');
    // The same tag, rebuilt upstream: another manifest, other layers.
    second = source.addImage('mesosphere/redis', '5.0.5', { layers: 2 });
    assert.notEqual(first.top.digest, second.top.digest);
    await buildAndAdd('redis-user-b');
    await registry.settled();
  });
  after(async () => {
    await registry?.close();
    await source?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('names each package image by the digest its bundle carried, and the tag by its latest publisher', async () => {
    assert.equal(await repoReference('redis-user-a'), `${registryHost}/mesosphere/redis@${first.top.digest}`);
    assert.equal(await repoReference('redis-user-b'), `${registryHost}/mesosphere/redis@${second.top.digest}`);
    assert.equal(await pulledManifestDigest(await repoReference('redis-user-a')), first.top.digest);
    assert.equal(await pulledManifestDigest(await repoReference('redis-user-b')), second.top.digest);
    assert.equal(await pulledManifestDigest(`${registryHost}/mesosphere/redis:5.0.5`), second.top.digest);
  });

  it("after the latest publisher is removed, the tag goes back to the other's image and nothing it uses is collected", async () => {
    const removed = await cli(['remove', '--package-name=redis-user-b', '--package-version=1.0.0']);
    assert.equal(removed.code, 0, removed.stderr);
    await registry.settled();
    assert.equal(await pulledManifestDigest(await repoReference('redis-user-a')), first.top.digest);
    assert.equal(await pulledManifestDigest(`${registryHost}/mesosphere/redis:5.0.5`), first.top.digest);
    const blob = await fetch(`${registry.url}/v2/mesosphere/redis/blobs/${second.amd64.layerDigests[0]}`, { method: 'HEAD' });
    assert.equal(blob.status, 404, "the removed package's own layers are collected (no grace window here)");
    const checked = await cli(['fsck', '--json']);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal((JSON.parse(checked.stdout) as { clean: boolean }).clean, true);
  });

  it('fsck finds a tag made to point elsewhere, and --repair puts it back', async () => {
    const stored = await registry.store.get(tagKey('mesosphere/redis', '5.0.5'));
    const bytes = Buffer.from(await new Response(stored.body as unknown as ReadableStream).arrayBuffer());
    await registry.store.put(tagKey('mesosphere/redis', '5.0.5'), bytes, { contentType: stored.contentType ?? '', metadata: { digest: second.top.digest } });
    const found = await cli(['fsck', '--json']);
    assert.equal(found.code, 1);
    const report = JSON.parse(found.stdout) as { violations: { type: string }[] };
    assert.deepEqual(report.violations.map((violation) => violation.type), ['TagMismatch']);
    const repaired = await cli(['fsck', '--repair', '--json']);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.deepEqual((JSON.parse(repaired.stdout) as { remaining: unknown[] }).remaining, []);
    assert.equal(await pulledManifestDigest(`${registryHost}/mesosphere/redis:5.0.5`), first.top.digest);
  });

  it('fsck finds a deleted image blob; --repair takes the package out of /repo, Failed with the reason', async () => {
    await registry.store.delete(imageBlobKey(first.amd64.layerDigests[0]!.replace('sha256:', '')));
    const found = await cli(['fsck', '--json']);
    assert.equal(found.code, 1);
    assert.deepEqual((JSON.parse(found.stdout) as { violations: { type: string }[] }).violations.map((violation) => violation.type), ['ContentMissing']);
    const repaired = await cli(['fsck', '--repair', '--json']);
    assert.equal(repaired.code, 0, repaired.stderr);
    const { packages } = await fetchRepository(registry.url);
    assert.equal(packages.some((pkg) => pkg.name === 'redis-user-a'), false, 'no /repo entry names content that is gone');
    const described = await cli(['describe', '--package-name=redis-user-a', '--package-version=1.0.0', '--json']);
    const record = JSON.parse(described.stdout) as { status: string; error: { type: string } };
    assert.equal(record.status, 'Failed');
    assert.equal(record.error.type, 'ContentMissing');
  });
});
