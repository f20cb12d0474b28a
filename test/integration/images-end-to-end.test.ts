/**
 * Images end to end on the embedded registry: a source registry (token auth, a manifest list)
 * → `build` (no Docker daemon) → `add` → /repo names the images on this registry → Debian's
 * skopeo pulls them from /v2/ with the source's manifest digests → remove → gone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { storedKeys } from '../helpers/registry-under-test.ts';
import { fetchRepository } from '../helpers/repository-checks.ts';
import { skopeo } from '../helpers/skopeo.ts';
import { startSourceRegistry, type SourceRegistry } from '../helpers/source-registry.ts';

describe('Docker images: build → add → /v2/ → skopeo', () => {
  let source: SourceRegistry;
  let registry: RegistryUnderTest;
  let work: string;
  let listed: ReturnType<SourceRegistry['addImage']>;
  let single: ReturnType<SourceRegistry['addImage']>;
  let registryHost: string;
  const cli = (args: string[]) => runBuiltCli([...args, `--url=${registry.url}`], { env: { DCOS_REGISTRY_TOKEN: registry.token } });

  before(async () => {
    source = await startSourceRegistry();
    // OCI format: skopeo keeps OCI manifests as they are in an OCI layout, so digests compare.
    listed = source.addImage('mesosphere/app', '1.0', { list: true, layers: 3, layerBytes: 64 * 1024, format: 'oci' });
    single = source.addImage('team/tools/cli', '2', { layers: 2 });
    registry = await startEmbeddedRegistry();
    registryHost = new URL(registry.url).host;
    work = await mkdtemp(join(tmpdir(), 'images-e2e-'));
    const definition = join(work, 'images.json');
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name: 'with-images', version: '1.0.0', maintainer: 'ops@example.com', description: 'images', tags: ['test'],
        marathon: { v2AppMustacheTemplate: Buffer.from('{"id":"app","container":{"docker":{"image":"{{resource.assets.container.docker.app}}"}}}').toString('base64') },
        resource: { assets: { container: { docker: { app: 'mesosphere/app:1.0', cli: `docker.io/team/tools/cli:2` } } } },
      }),
    );
    const build = await runBuiltCli(['build', `--build-definition-file=${definition}`, `--output-directory=${work}`, `--registry-mirror=docker.io=${source.host}`]);
    assert.equal(build.code, 0, build.stderr);
    const add = await cli(['add', `--dcos-file=${join(work, 'with-images-1.0.0.dcos')}`, '--wait']);
    assert.equal(add.code, 0, add.stderr);
    await registry.settled();
  });
  after(async () => {
    await registry?.close();
    await source?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('names the images on this registry in /repo', async () => {
    const { packages } = await fetchRepository(registry.url);
    const docker = (packages.find((pkg) => pkg.name === 'with-images')!.resource as { assets: { container: { docker: Record<string, string> } } }).assets.container.docker;
    // By digest: what the package runs cannot change when another package publishes the same tag.
    // The list was built for linux/amd64 alone: it is named by the digest of the index reduced to it.
    const served = await fetch(`${registry.url}/v2/mesosphere/app/manifests/1.0`);
    const reduced = served.headers.get('docker-content-digest')!;
    assert.equal(`sha256:${createHash('sha256').update(Buffer.from(await served.arrayBuffer())).digest('hex')}`, reduced);
    assert.notEqual(reduced, listed.top.digest);
    assert.deepEqual(docker, { app: `${registryHost}/mesosphere/app@${reduced}`, cli: `${registryHost}/team/tools/cli@${single.top.digest}` });
  });

  it('serves the Registry API v2: base, catalog, tags, manifests with digests, OCI errors, no writes', async () => {
    const errors = async (url: string, init?: RequestInit) => {
      const response = await fetch(`${registry.url}${url}`, init);
      return [response.status, ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code];
    };
    const base = await fetch(`${registry.url}/v2/`);
    assert.equal(base.status, 200);
    assert.equal(base.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await (await fetch(`${registry.url}/v2/_catalog`)).json(), { repositories: ['mesosphere/app', 'team/tools/cli'] });
    const page = await fetch(`${registry.url}/v2/_catalog?n=1`);
    assert.deepEqual(await page.json(), { repositories: ['mesosphere/app'] });
    assert.equal(page.headers.get('link'), '</v2/_catalog?n=1&last=mesosphere%2Fapp>; rel="next"');
    assert.deepEqual(await (await fetch(`${registry.url}/v2/_catalog?n=1&last=mesosphere%2Fapp`)).json(), { repositories: ['team/tools/cli'] });
    assert.deepEqual(await (await fetch(`${registry.url}/v2/team/tools/cli/tags/list`)).json(), { name: 'team/tools/cli', tags: ['2'] });

    const manifest = await fetch(`${registry.url}/v2/mesosphere/app/manifests/1.0`, { headers: { accept: 'application/vnd.docker.distribution.manifest.list.v2+json' } });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    const index = (await manifest.json()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(index.manifests.map((child) => [child.digest, child.platform.architecture]), [[listed.amd64.manifestDigest, 'amd64']], 'reduced to the platform the bundle holds');
    assert.deepEqual(await errors(`/v2/mesosphere/app/manifests/${listed.top.digest}`), [404, 'MANIFEST_UNKNOWN'], 'the source index, naming an arm64 image not stored, is never served');
    const head = await fetch(`${registry.url}/v2/mesosphere/app/manifests/${listed.amd64.manifestDigest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), listed.amd64.manifestDigest);
    assert.equal(Number(head.headers.get('content-length')), listed.amd64.manifest.length);
    const blobHead = await fetch(`${registry.url}/v2/mesosphere/app/blobs/${listed.amd64.layerDigests[0]}`, { method: 'HEAD' });
    assert.equal(blobHead.status, 200);
    assert.equal(Number(blobHead.headers.get('content-length')) > 64 * 1024 / 2, true);

    assert.deepEqual(await errors('/v2/unknown/repo/manifests/1'), [404, 'NAME_UNKNOWN']);
    assert.deepEqual(await errors('/v2/mesosphere/app/manifests/9.9'), [404, 'MANIFEST_UNKNOWN']);
    assert.deepEqual(await errors(`/v2/mesosphere/app/blobs/sha256:${'0'.repeat(64)}`), [404, 'BLOB_UNKNOWN']);
    assert.deepEqual(await errors('/v2/Bad/Name/manifests/1'), [400, 'NAME_INVALID']);
    assert.deepEqual(await errors('/v2/mesosphere/app/manifests/1.0', { method: 'PUT', body: '{}' }), [405, 'UNSUPPORTED']);
    assert.deepEqual(await errors('/v2/mesosphere/app/blobs/uploads/', { method: 'POST' }), [405, 'UNSUPPORTED']);
  });

  it('answers what the OCI conformance suite asks: an invalid tag is an unknown manifest, referrers, ranges on every blob', async () => {
    const errors = async (url: string, init?: RequestInit) => {
      const response = await fetch(`${registry.url}${url}`, init);
      return [response.status, ((await response.json()) as { errors: { code: string }[] }).errors[0]!.code];
    };
    assert.deepEqual(await errors('/v2/mesosphere/app/manifests/.bad-tag!'), [404, 'MANIFEST_UNKNOWN']);
    assert.equal((await fetch(`${registry.url}/v2/mesosphere/app/manifests/.bad-tag!`, { method: 'HEAD' })).status, 404);

    const referrers = await fetch(`${registry.url}/v2/mesosphere/app/referrers/${listed.top.digest}`);
    assert.equal(referrers.status, 200);
    assert.equal(referrers.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(await referrers.json(), { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
    const filtered = await fetch(`${registry.url}/v2/mesosphere/app/referrers/${listed.top.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    await filtered.body?.cancel();
    assert.deepEqual(await errors('/v2/mesosphere/app/referrers/sha256:short'), [400, 'DIGEST_INVALID']);
    const unknownSubject = await fetch(`${registry.url}/v2/unknown/repo/referrers/${listed.top.digest}`);
    assert.equal(unknownSubject.status, 200, 'never a 404 from the Referrers API');
    assert.deepEqual(((await unknownSubject.json()) as { manifests: unknown[] }).manifests, []);

    // A layer, streamed with its ranges (on a Lambda, one above the inline limit is a redirect to storage, which takes ranges itself).
    const blob = `${registry.url}/v2/team/tools/cli/blobs/${single.amd64.layerDigests[0]}`;
    const whole = await fetch(blob);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.ok(bytes.length > 100);
    assert.equal((await fetch(blob, { method: 'HEAD' })).headers.get('accept-ranges'), 'bytes');
    for (const [range, start, end] of [['bytes=0-9', 0, 9], [`bytes=10-`, 10, bytes.length - 1], ['bytes=-7', bytes.length - 7, bytes.length - 1], [`bytes=5-${bytes.length * 2}`, 5, bytes.length - 1]] as const) {
      const part = await fetch(blob, { headers: { range } });
      assert.equal(part.status, 206, range);
      assert.equal(part.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`, range);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(start, end + 1), range);
    }
    const beyond = await fetch(blob, { headers: { range: `bytes=${bytes.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${bytes.length}`);
    await beyond.body?.cancel();
    const several = await fetch(blob, { headers: { range: 'bytes=0-1,4-5' } });
    assert.equal(several.status, 200, 'several ranges: the whole blob');
    assert.equal(Buffer.from(await several.arrayBuffer()).length, bytes.length);
  });

  it('lets skopeo pull both images with the manifest digests of the source', async () => {
    // An OCI image into an OCI layout: the linux/amd64 manifest of the list, digest for digest.
    const layout = join(work, 'oci-app');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registryHost}/mesosphere/app:1.0`, `oci:${layout}:1.0`]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, listed.amd64.manifestDigest);
    // A Docker-format image (an OCI layout would convert it): copied as it is, into a directory.
    const directory = join(work, 'dir-cli');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registryHost}/team/tools/cli:2`, `dir:${directory}`]);
    assert.equal(`sha256:${createHash('sha256').update(await readFile(join(directory, 'manifest.json'))).digest('hex')}`, single.top.digest);
    const inspected = JSON.parse((await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registryHost}/mesosphere/app:1.0`])).stdout) as { manifests: unknown[] };
    assert.equal(inspected.manifests.length, 1, 'the list is served reduced to what is stored');
    // An arm64 pull fails on the client with a clear reason, never on a dangling digest.
    const arm = await skopeo(['--override-arch=arm64', 'copy', '--src-tls-verify=false', `docker://${registryHost}/mesosphere/app:1.0`, `dir:${join(work, 'arm-none')}`]).then(
      () => 'pulled',
      (error: Error) => error.message,
    );
    assert.match(arm, /arm64/);
    assert.doesNotMatch(arm, /manifest unknown/i);
  });

  it('keeps the source index when a build takes every platform (--platform all), and serves each', async () => {
    const definition = join(work, 'all-platforms.json');
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name: 'with-all-platforms', version: '1.0.0', maintainer: 'ops@example.com', description: 'every platform', tags: ['test'],
        resource: { assets: { container: { docker: { app: 'mesosphere/app:1.0' } } } },
      }),
    );
    const build = await runBuiltCli(['build', `--build-definition-file=${definition}`, `--output-directory=${work}`, `--registry-mirror=docker.io=${source.host}`, '--platform=all']);
    assert.equal(build.code, 0, build.stderr);
    const add = await cli(['add', `--dcos-file=${join(work, 'with-all-platforms-1.0.0.dcos')}`, '--wait']);
    assert.equal(add.code, 0, add.stderr);
    await registry.settled();
    const { packages } = await fetchRepository(registry.url);
    const docker = (packages.find((pkg) => pkg.name === 'with-all-platforms')!.resource as { assets: { container: { docker: Record<string, string> } } }).assets.container.docker;
    assert.equal(docker.app, `${registryHost}/mesosphere/app@${listed.top.digest}`, 'complete: the source digest');
    const raw = JSON.parse((await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${registryHost}/mesosphere/app@${listed.top.digest}`])).stdout) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(raw.manifests.map((child) => child.platform.architecture).sort(), ['amd64', 'arm64']);
    for (const child of raw.manifests) {
      const directory = join(work, `all-${child.platform.architecture}`);
      await skopeo([`--override-arch=${child.platform.architecture}`, 'copy', '--src-tls-verify=false', `docker://${registryHost}/mesosphere/app@${listed.top.digest}`, `dir:${directory}`]);
      assert.equal(`sha256:${createHash('sha256').update(await readFile(join(directory, 'manifest.json'))).digest('hex')}`, child.digest, child.platform.architecture);
    }
    // A build naming a platform the image does not offer is refused, naming what it offers.
    const refused = await runBuiltCli(['build', `--build-definition-file=${definition}`, `--output-directory=${join(work, 'refused')}`, `--registry-mirror=docker.io=${source.host}`, '--platform=linux/s390x']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /linux\/s390x.*offers.*linux\/arm64.*linux\/amd64|linux\/s390x.*offers/);
    assert.equal((await cli(['remove', '--package-name=with-all-platforms', '--package-version=1.0.0'])).code, 0);
    await registry.settled();
    // Gone with it, the arm64 image: asked for by digest, the registry says which platform the
    // remaining package was built without.
    const arm64 = raw.manifests.find((child) => child.platform.architecture === 'arm64')!.digest;
    const missing = await fetch(`${registry.url}/v2/mesosphere/app/manifests/${arm64}`);
    assert.equal(missing.status, 404);
    const error = ((await missing.json()) as { errors: { code: string; message: string; detail: { Platform?: string } }[] }).errors[0]!;
    assert.equal(error.code, 'MANIFEST_UNKNOWN');
    assert.equal(error.detail.Platform, 'linux/arm64');
    assert.match(error.message, /linux\/arm64 image of mesosphere\/app:1\.0.*--platform linux\/arm64/);
  });

  it('takes images from a docker save archive and from an OCI layout, and serves them the same', async () => {
    const saved = source.addImage('team/saved', '3', { layers: 2 });
    const fromLayout = source.addImage('team/layout', '4', { layers: 2, format: 'oci' });
    // skopeo writes what `docker save` writes (a docker-archive) and an OCI layout directory.
    const archive = join(work, 'saved.tar');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${source.host}/team/saved:3`, `docker-archive:${archive}:team/saved:3`]);
    const layout = join(work, 'layout');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${source.host}/team/layout:4`, `oci:${layout}:4`]);
    const definition = join(work, 'local.json');
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name: 'local-images', version: '1.0.0', maintainer: 'ops@example.com', description: 'images from files', tags: ['test'],
        resource: { assets: { container: { docker: { saved: 'team/saved:3', layout: 'team/layout:4' } } } },
      }),
    );
    // The mirror points nowhere: nothing may be pulled from a registry.
    const build = await runBuiltCli([
      'build', `--build-definition-file=${definition}`, `--output-directory=${work}`, '--registry-mirror=docker.io=127.0.0.1:9',
      `--image-source=team/saved:3=${archive}`, `--image-source=team/layout:4=${layout}`,
    ]);
    assert.equal(build.code, 0, build.stderr);
    const add = await cli(['add', `--dcos-file=${join(work, 'local-images-1.0.0.dcos')}`, '--wait']);
    assert.equal(add.code, 0, add.stderr);
    await registry.settled();

    // The classic archive: a manifest is made, but the config (the image id) and the layers (the
    // diff ids of the source) are the same bytes.
    const savedDirectory = join(work, 'pulled-saved');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registryHost}/team/saved:3`, `dir:${savedDirectory}`]);
    const pulled = JSON.parse(await readFile(join(savedDirectory, 'manifest.json'), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    assert.equal(pulled.config.digest, saved.amd64.configDigest);
    const sourceConfig = JSON.parse(await readFile(join(savedDirectory, pulled.config.digest.replace('sha256:', '')), 'utf8')) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(pulled.layers.map((layer) => layer.digest), sourceConfig.rootfs.diff_ids);
    // The OCI layout: its manifest as it is.
    const layoutCopy = join(work, 'pulled-layout');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${registryHost}/team/layout:4`, `oci:${layoutCopy}:4`]);
    const index = JSON.parse(await readFile(join(layoutCopy, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, fromLayout.amd64.manifestDigest);
    assert.equal((await cli(['remove', '--package-name=local-images', '--package-version=1.0.0'])).code, 0);
    await registry.settled();
  });

  it('removes the tags and, with no other package using them, every blob', async () => {
    const removed = await cli(['remove', '--package-name=with-images', '--package-version=1.0.0']);
    assert.equal(removed.code, 0, removed.stderr);
    await registry.settled();
    assert.equal((await fetch(`${registry.url}/v2/mesosphere/app/tags/list`)).status, 404);
    assert.deepEqual(await (await fetch(`${registry.url}/v2/_catalog`)).json(), { repositories: [] });
    // No grace window in this registry: collection ran with the removal.
    for (const prefix of ['docker/blobs/', 'docker/repositories/', 'resources/', 'refs/', 'leases/', 'index/fragments/']) {
      assert.deepEqual(await storedKeys(registry, prefix), [], prefix);
    }
    // Only the removed versions' tombstone records stay.
    assert.deepEqual((await storedKeys(registry, 'packages/')).filter((key) => !key.endsWith('/record.json')), []);
  });
});
