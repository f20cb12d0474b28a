/**
 * A real container engine pulls what packages run (issue 10, item 6): Debian's podman, rootful,
 * vfs storage in a directory of its own, against the embedded registry over plain HTTP. By tag and
 * by digest, every platform of a multi-platform index built with `--platform all`, the one platform
 * of an index built for linux/amd64 only (arm64 refused by podman itself, naming the platform),
 * and a layer above a Lambda's inline limit (the embedded server streams it itself, ranges too:
 * issue 11, item 3).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { fetchRepository } from '../helpers/repository-checks.ts';
import { startSourceRegistry, type SourceRegistry } from '../helpers/source-registry.ts';

const run = promisify(execFile);

describe('podman pulls from the registry', () => {
  let source: SourceRegistry;
  let registry: RegistryUnderTest;
  let work: string;
  let host: string;
  let everyPlatform: ReturnType<SourceRegistry['addImage']>;
  let large: ReturnType<SourceRegistry['addImage']>;

  const podman = async (args: readonly string[]): Promise<{ stdout: string; stderr: string }> => {
    try {
      return await run('podman', ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args], {
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf') },
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('podman is not installed: run `apt-get install -y podman` (.ci/run does it)');
      const failure = error as { stderr?: string; message: string };
      throw new Error(`podman ${args.join(' ')} failed: ${failure.stderr ?? failure.message}`);
    }
  };
  const imageDigest = async (reference: string): Promise<string> => (await podman(['image', 'inspect', '--format', '{{.Digest}}', reference])).stdout.trim();

  async function buildAndAdd(name: string, images: Record<string, string>, extra: string[] = []): Promise<Record<string, string>> {
    const definition = join(work, `${name}.json`);
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name, version: '1.0.0', maintainer: 'ops@example.com', description: 'pulled by podman', tags: ['test'],
        resource: { assets: { container: { docker: images } } },
      }),
    );
    const build = await runBuiltCli(['build', `--build-definition-file=${definition}`, `--output-directory=${work}`, `--registry-mirror=docker.io=${source.host}`, ...extra]);
    assert.equal(build.code, 0, build.stderr);
    const add = await runBuiltCli(['add', `--dcos-file=${join(work, `${name}-1.0.0.dcos`)}`, '--wait', `--url=${registry.url}`], { env: { DCOS_REGISTRY_TOKEN: registry.token } });
    assert.equal(add.code, 0, add.stderr);
    await registry.settled();
    const entry = (await fetchRepository(registry.url)).packages.find((pkg) => pkg.name === name)!;
    return (entry.resource as { assets: { container: { docker: Record<string, string> } } }).assets.container.docker;
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'podman-'));
    source = await startSourceRegistry();
    registry = await startEmbeddedRegistry();
    host = new URL(registry.url).host;
    await writeFile(join(work, 'registries.conf'), `unqualified-search-registries = []\n[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
    everyPlatform = source.addImage('team/multi', '1', { list: true, layers: 2, layerBytes: 32 * 1024, format: 'oci' });
    // One layer above the inline limit a Lambda has (the embedded server streams any size).
    large = source.addImage('team/large', '7', { layers: 1, layerBytes: 65 * 1024 * 1024 });
  });
  after(async () => {
    await registry?.close();
    await source?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pulls by tag and by digest, and a layer above a Lambda\'s inline limit, streamed', async () => {
    const docker = await buildAndAdd('podman-large', { large: 'team/large:7' });
    assert.equal(docker.large, `${host}/team/large@${large.top.digest}`);
    const location = `${registry.url}/v2/team/large/blobs/${large.amd64.layerDigests[0]}`;
    const layer = await fetch(location, { method: 'HEAD', redirect: 'manual' });
    assert.equal(layer.status, 200, 'the layer is sent by the server itself, not by redirect');
    const size = Number(layer.headers.get('content-length'));
    assert.ok(size > 64 * 1024 * 1024);
    // Ranges are taken (a resumed pull).
    const part = await fetch(location, { headers: { range: 'bytes=100-199' }, redirect: 'manual' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${size}`);
    assert.equal(part.headers.get('accept-ranges'), 'bytes');
    assert.equal(Buffer.from(await part.arrayBuffer()).length, 100);
    const beyond = await fetch(location, { headers: { range: `bytes=${size}-` }, redirect: 'manual' });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${size}`);
    await beyond.body?.cancel();
    await podman(['pull', '--tls-verify=false', docker.large!]);
    await podman(['pull', '--tls-verify=false', `${host}/team/large:7`]);
    assert.equal(await imageDigest(`${host}/team/large:7`), large.top.digest);
  });

  it('pulls every platform of an index built with --platform all, and only amd64 of one built without', async () => {
    const all = await buildAndAdd('podman-all', { multi: 'team/multi:1' }, ['--platform=all']);
    assert.equal(all.multi, `${host}/team/multi@${everyPlatform.top.digest}`);
    for (const arch of ['amd64', 'arm64']) {
      await podman(['pull', '--tls-verify=false', '--arch', arch, all.multi!]);
      const architecture = (await podman(['image', 'inspect', '--format', '{{.Architecture}}', all.multi!])).stdout.trim();
      assert.equal(architecture, arch);
    }
    await podman(['rmi', '--all', '--force']);

    const amd64 = await buildAndAdd('podman-amd64', { multi: 'team/multi:1' });
    assert.notEqual(amd64.multi, all.multi, 'an index reduced to amd64, under its own digest');
    await podman(['pull', '--tls-verify=false', '--arch', 'amd64', amd64.multi!]);
    const refused = await podman(['pull', '--tls-verify=false', '--arch', 'arm64', amd64.multi!]).then(
      () => 'pulled',
      (error: Error) => error.message,
    );
    assert.match(refused, /arm64/, 'podman names the platform it did not find');
    assert.doesNotMatch(refused, /manifest unknown/i, 'never a dangling digest');
  });
});
