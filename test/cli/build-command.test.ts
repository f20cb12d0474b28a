/**
 * `dcos-registry build` as a user runs it: the built CLI in a child process, downloads from a
 * local HTTP server through --url-rewrite.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Bundle } from '../../lib/bundle/bundle-reader.ts';
import { FileByteSource } from '../../lib/bundle/byte-source.ts';
import { assetBytesFor, rewriteEverythingTo, servedPathFor, sha256Hex, startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { servedBuildDefinition } from '../helpers/build-definitions.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { fixturePath } from '../helpers/fixtures.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const helloWorld = fixturePath('universe/packages/H/hello-world/700');

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('dcos-registry build', () => {
  let server: AssetServer;
  before(async () => {
    server = await startAssetServer();
  });
  after(() => server.close());

  const rewriteArgs = (): string[] => rewriteEverythingTo(server.baseUrl).flatMap((rule) => ['--url-rewrite', rule]);

  it('builds hello-world: Fetching lines in order, the Created line, and a bundle the reader accepts', async () => {
    const work = await temporaryDirectory();
    const { file, definition } = await servedBuildDefinition(helloWorld, work);
    const out = join(work, 'out');
    const run = await runBuiltCli(['registry', 'build', `--build-definition-file=${file}`, `--output-directory=${out}`, ...rewriteArgs()]);
    assert.equal(run.code, 0, run.stderr);
    const bundlePath = join(out, 'hello-world-3.2.0-0.57.3.dcos');
    assert.equal(run.stdout, `Created DC/OS Universe Package ${bundlePath}\n`);
    const fetched = run.stderr.split('\n').filter((line) => line.startsWith('Fetching '));
    const resource = definition.resource as { assets: { uris: Record<string, string> }; images: Record<string, string>; cli: { binaries: Record<string, { 'x86-64': { url: string } }> } };
    assert.deepEqual(fetched, [
      ...Object.values(resource.assets.uris),
      resource.images['icon-small'],
      resource.images['icon-medium'],
      resource.images['icon-large'],
      ...Object.values(resource.cli.binaries).map((binary) => binary['x86-64'].url),
    ].map((url) => `Fetching ${url}`));

    const source = await FileByteSource.open(bundlePath);
    try {
      const bundle = await Bundle.open(source);
      await bundle.verifyContents();
      assert.deepEqual(bundle.metadata, definition, 'metadata keeps the original URLs');
      const icon = bundle.manifest.resources.find((entry) => entry.ref === '/resource/images/icon-small');
      assert.equal(icon?.sha256, sha256Hex(assetBytesFor(servedPathFor(resource.images['icon-small']!))));
      assert.equal(icon?.contentType, 'image/png');
      assert.equal(icon?.filename, 'hello-world-icon-small.png');
    } finally {
      await source.close();
    }
    assert.deepEqual((await readdir(out)).sort(), ['hello-world-3.2.0-0.57.3.dcos'], 'no partial files left');
  });

  it('prints one JSON document with --json', async () => {
    const work = await temporaryDirectory();
    const { file } = await servedBuildDefinition(helloWorld, work);
    const run = await runBuiltCli(['build', '--build-definition-file', file, '--output-directory', work, '--json', ...rewriteArgs()]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { name: join(work, 'hello-world-3.2.0-0.57.3.dcos') });
  });

  it('resolves @file references and relative asset paths against the definition directory', async () => {
    const work = await temporaryDirectory();
    await mkdir(join(work, 'files'));
    await writeFile(join(work, 'files', 'icon.png'), 'not really a png');
    await copyFile(fixturePath('universe/dcos-cli-0.5.x-package-build/marathon.json.mustache'), join(work, 'marathon.json.mustache'));
    await writeFile(join(work, 'config.json'), JSON.stringify({ type: 'object', properties: {} }));
    await writeFile(join(work, 'resource.json'), JSON.stringify({ images: { 'icon-small': 'files/icon.png' }, assets: { uris: { same: 'files/icon.png' } } }));
    await writeFile(
      join(work, 'definition.json'),
      JSON.stringify({
        packagingVersion: '4.0', name: 'local-refs', version: '1.0', maintainer: 'm', description: 'd', tags: ['t'],
        marathon: { v2AppMustacheTemplate: '@marathon.json.mustache' }, config: '@config.json', resource: '@resource.json',
      }),
    );
    const out = join(work, 'out');
    const run = await runBuiltCli(['build', '--build-definition-file=definition.json', `--output-directory=out`, '--json'], { cwd: work });
    assert.equal(run.code, 0, run.stderr);
    const source = await FileByteSource.open(join(out, 'local-refs-1.0.dcos'));
    try {
      const bundle = await Bundle.open(source);
      await bundle.verifyContents();
      assert.equal(bundle.manifest.resources.length, 2, 'one manifest entry per reference');
      assert.equal(bundle.resources.size, 1, 'the same content is stored once');
      const template = await readFile(join(work, 'marathon.json.mustache'));
      assert.equal(bundle.metadata.marathon?.v2AppMustacheTemplate, template.toString('base64'));
      assert.equal(bundle.metadata.resource?.images?.['icon-small'], 'files/icon.png', 'the relative path is kept as written');
    } finally {
      await source.close();
    }
  });

  it('retries transient failures (503, a body cut short) and succeeds', async () => {
    const work = await temporaryDirectory();
    await writeFile(
      join(work, 'definition.json'),
      JSON.stringify({
        packagingVersion: '4.0', name: 'flaky', version: '1.0', maintainer: 'm', description: 'd', tags: ['t'],
        resource: { assets: { uris: { a: `${server.baseUrl}/flaky/2/a.bin`, b: `${server.baseUrl}/cut/1/b.bin`, c: `${server.baseUrl}/redirect/c.bin` } } },
      }),
    );
    const run = await runBuiltCli(['build', `--build-definition-file=${join(work, 'definition.json')}`, `--output-directory=${work}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /retrying .*flaky\/2\/a\.bin \(attempt 2\): HTTP 503/);
    assert.match(run.stderr, /retrying .*cut\/1\/b\.bin/);
    const source = await FileByteSource.open(join(work, 'flaky-1.0.dcos'));
    try {
      const bundle = await Bundle.open(source);
      await bundle.verifyContents();
      const digests = bundle.manifest.resources.map((entry) => entry.sha256);
      assert.deepEqual(digests, ['/a.bin', '/b.bin', '/c.bin'].map((path) => sha256Hex(assetBytesFor(path))));
    } finally {
      await source.close();
    }
  });

  for (const failure of ['wrong contentHash', '404', 'unreachable host'] as const) {
    it(`fails on a ${failure}: names the file, exits 1, writes nothing`, async () => {
      const work = await temporaryDirectory();
      const { file, definition } = await servedBuildDefinition(helloWorld, work);
      const resource = definition.resource as unknown as { cli: { binaries: { linux: { 'x86-64': { url: string; contentHash: { value: string }[] } } } } };
      const linux = resource.cli.binaries.linux['x86-64'];
      let rewrites = rewriteArgs();
      let expected: RegExp;
      if (failure === 'wrong contentHash') {
        linux.contentHash[0]!.value = 'f'.repeat(64);
        expected = new RegExp(`${linux.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*contentHash is f{64}`);
      } else if (failure === '404') {
        rewrites = [...rewrites, '--url-rewrite', `${linux.url}=${server.baseUrl}/status/404/cli`];
        expected = new RegExp(`Could not fetch ${linux.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} .*HTTP 404`);
      } else {
        rewrites = [...rewrites, '--url-rewrite', `${linux.url}=http://127.0.0.1:${await closedPort()}/cli`];
        expected = new RegExp(`Could not fetch ${linux.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} .*ECONNREFUSED.*after 2 attempts`);
      }
      await writeFile(file, JSON.stringify(definition));
      const out = join(work, 'out');
      const run = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${out}`, '--retries=1', ...rewrites]);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, expected);
      assert.deepEqual(await readdir(out), [], 'no bundle and no partial file');
    });
  }

  it('fails naming the image when its registry cannot be reached, leaving nothing behind', async () => {
    const work = await temporaryDirectory();
    const { file } = await servedBuildDefinition(fixturePath('universe/packages/K/kubernetes-cluster/2610'), work);
    const out = join(work, 'out');
    const run = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${out}`, `--registry-mirror=docker.io=127.0.0.1:${await closedPort()}`, ...rewriteArgs()]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Cannot pull the image mesosphere\/kube-apiserver:v1\.19\.2_d2iq\.0: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.deepEqual(await readdir(out), []);
  });

  it('reports a missing build definition and schema errors in the predecessor wording', async () => {
    const work = await temporaryDirectory();
    const missing = await runBuiltCli(['build', '--build-definition-file=nope.json', `--output-directory=${work}`], { cwd: work });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'The file [nope.json] does not exist\n');
    const bad = fixturePath('universe/dcos-cli-0.5.x-package-build/package_no_match_schema.json');
    const invalid = await runBuiltCli(['build', `--build-definition-file=${bad}`, `--output-directory=${work}`, '--json']);
    assert.equal(invalid.code, 1);
    const envelope = JSON.parse(invalid.stderr) as { type: string; message: string };
    assert.equal(envelope.type, 'JsonSchemaMismatch');
    assert.match(envelope.message, /^Error validating package: \[.*package_no_match_schema\.json\] does not conform to the specified schema/);
  });
});
