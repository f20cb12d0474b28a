/**
 * `build` with Docker images, pulled from a source registry with no Docker daemon: token auth,
 * credentials from a Docker config, a manifest list, mirrors, and the failures an operator meets.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Bundle } from '../../lib/bundle/bundle-reader.ts';
import { FileByteSource } from '../../lib/bundle/byte-source.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { SOURCE_CREDENTIALS, startSourceRegistry, type SourceRegistry } from '../helpers/source-registry.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const PUBLIC_IMAGE = 'mesosphere/app:1.0';
const PRIVATE_IMAGE = 'registry.internal.example/private/tool:2';

async function definitionWith(directory: string, images: Record<string, string>, name = 'with-images'): Promise<string> {
  const file = join(directory, `${name}.json`);
  await writeFile(
    file,
    JSON.stringify({
      packagingVersion: '4.0', name, version: '1.0.0', maintainer: 'ops@example.com', description: 'images', tags: ['test'],
      resource: { assets: { container: { docker: images } } },
    }),
  );
  return file;
}

describe('dcos-registry build with Docker images', () => {
  let source: SourceRegistry;
  let publicImage: ReturnType<SourceRegistry['addImage']>;
  let privateImage: ReturnType<SourceRegistry['addImage']>;
  let dockerConfig: string;
  const mirrors = (): string[] => [`--registry-mirror=docker.io=${source.host}`, `--registry-mirror=registry.internal.example=${source.host}`];

  before(async () => {
    source = await startSourceRegistry();
    publicImage = source.addImage('mesosphere/app', '1.0', { list: true, layers: 3 });
    privateImage = source.addImage('private/tool', '2', { private: true, layers: 2 });
    const configDirectory = await temporaryDirectory();
    dockerConfig = join(configDirectory, 'config.json');
    const auth = Buffer.from(`${SOURCE_CREDENTIALS.username}:${SOURCE_CREDENTIALS.password}`).toString('base64');
    await writeFile(dockerConfig, JSON.stringify({ auths: { 'registry.internal.example': { auth } } }));
  });
  after(() => source.close());

  it('bundles the images a config default and a template literal name, warns about the rest, and --strict-images refuses them', async () => {
    const work = await temporaryDirectory();
    source.addImage('mesosphere/spark', '2.4.6', { layers: 1 });
    source.addImage('galacticfog/gestalt-dcos', '1.5.1', { layers: 1 });
    const file = join(work, 'spread.json');
    await writeFile(
      file,
      JSON.stringify({
        packagingVersion: '4.0', name: 'spread', version: '1.0.0', maintainer: 'ops@example.com', description: 'images outside resource', tags: ['test'],
        config: { type: 'object', properties: { service: { type: 'object', properties: {
          'docker-image': { type: 'string', default: 'mesosphere/spark:2.4.6' },
          'framework-version': { type: 'string', default: '1.5.1' },
        } } } },
        marathon: { v2AppMustacheTemplate: Buffer.from('{"id":"a","container":{"docker":{"image":"{{service.docker-image}}"}},"labels":{"x":"{"},"apps":[{"image":"galacticfog/gestalt-dcos:{{service.framework-version}}"},{"image":"team/{{service.nowhere}}:1"}]}').toString('base64') },
      }),
    );
    const run = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${work}`, ...mirrors()]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /image not bundled: marathon\.json\.mustache "image": "team\/\{\{service\.nowhere\}\}:1": .*\{\{service\.nowhere\}\} has no default/);
    const bundleSource = await FileByteSource.open(join(work, 'spread-1.0.0.dcos'));
    try {
      const bundle = await Bundle.open(bundleSource);
      await bundle.verifyContents();
      assert.deepEqual(
        bundle.manifest.images.map(({ ref, image, template }) => [ref, image, template ?? null]),
        [
          ['/config/properties/service/properties/docker-image/default', 'mesosphere/spark:2.4.6', null],
          ['/marathon/v2AppMustacheTemplate', 'galacticfog/gestalt-dcos:1.5.1', 'galacticfog/gestalt-dcos:{{service.framework-version}}'],
        ],
      );
    } finally {
      await bundleSource.close();
    }
    const strict = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${join(work, 'strict')}`, '--strict-images', '--json', ...mirrors()]);
    assert.equal(strict.code, 1);
    const error = JSON.parse(strict.stderr.trim().split('\n').pop()!) as { type: string; message: string };
    assert.equal(error.type, 'UnresolvedImage');
    assert.match(error.message, /team\/\{\{service\.nowhere\}\}:1/);
    assert.deepEqual(await readdir(work).then((names) => names.filter((name) => name.startsWith('strict'))), [], 'no bundle written');
  });

  it('pulls a listed image (linux/amd64 only) and a private one into the bundle, with verified digests', async () => {
    const work = await temporaryDirectory();
    const file = await definitionWith(work, { app: PUBLIC_IMAGE, tool: PRIVATE_IMAGE, again: PUBLIC_IMAGE });
    const run = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${work}`, `--docker-config=${dockerConfig}`, ...mirrors()]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stderr.split('\n').filter((line) => line.startsWith('Pulling ')), [`Pulling ${PUBLIC_IMAGE}`, `Pulling ${PRIVATE_IMAGE}`]);
    const bundleSource = await FileByteSource.open(join(work, 'with-images-1.0.0.dcos'));
    try {
      const bundle = await Bundle.open(bundleSource);
      await bundle.verifyContents();
      assert.deepEqual(
        bundle.manifest.images.map(({ ref, image, repository, tag, digest, mediaType }) => ({ ref, image, repository, tag, digest, mediaType })),
        [
          { ref: '/resource/assets/container/docker/app', image: PUBLIC_IMAGE, repository: 'mesosphere/app', tag: '1.0', digest: publicImage.top.digest, mediaType: publicImage.top.mediaType },
          { ref: '/resource/assets/container/docker/tool', image: PRIVATE_IMAGE, repository: 'private/tool', tag: '2', digest: privateImage.top.digest, mediaType: privateImage.top.mediaType },
          { ref: '/resource/assets/container/docker/again', image: PUBLIC_IMAGE, repository: 'mesosphere/app', tag: '1.0', digest: publicImage.top.digest, mediaType: publicImage.top.mediaType },
        ],
      );
      const expected = [publicImage, privateImage].flatMap((image) => [image.top.digest, image.amd64.manifestDigest, image.amd64.configDigest, ...image.amd64.layerDigests]);
      assert.deepEqual([...bundle.imageBlobs.keys()].sort(), [...new Set(expected.map((digest) => digest.slice('sha256:'.length)))].sort());
      assert.equal(bundle.metadata.resource?.assets?.container?.docker?.app, PUBLIC_IMAGE, 'metadata keeps the original reference');
    } finally {
      await bundleSource.close();
    }
    assert.ok(!source.requests.some((line) => line.includes('arm64')), 'nothing of the arm64 image is fetched');
  });

  for (const [label, images, expected, useConfig] of [
    ['an unknown tag', { app: 'mesosphere/app:9.9' }, /Cannot pull the image mesosphere\/app:9\.9: unknown tag 9\.9/, true],
    ['a private image without credentials', { tool: PRIVATE_IMAGE }, /Cannot pull the image registry\.internal\.example\/private\/tool:2: access denied/, false],
    ['an invalid reference', { bad: 'Bad/Name:1' }, /The Docker image \[Bad\/Name:1\] has an invalid repository name/, true],
  ] as const) {
    it(`fails on ${label}, naming the image, leaving nothing behind`, async () => {
      const work = await temporaryDirectory();
      const out = join(work, 'out');
      await mkdir(out);
      const file = await definitionWith(work, images);
      const emptyConfig = join(work, 'empty-config.json');
      await writeFile(emptyConfig, '{}');
      const run = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${out}`, `--docker-config=${useConfig ? dockerConfig : emptyConfig}`, ...mirrors()]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, expected);
      assert.deepEqual(await readdir(out), []);
    });
  }

  it('fails on a blob whose bytes do not match its digest', async () => {
    const corrupt = source.addImage('team/corrupt', '1', { layers: 1 });
    source.corruptBlob(corrupt.amd64.layerDigests[0]!);
    const work = await temporaryDirectory();
    const file = await definitionWith(work, { bad: 'team/corrupt:1' });
    const run = await runBuiltCli(['build', `--build-definition-file=${file}`, `--output-directory=${work}`, ...mirrors()]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`Cannot pull the image team/corrupt:1: digest mismatch for blob ${corrupt.amd64.layerDigests[0]}`));
    assert.deepEqual((await readdir(work)).filter((name) => name.endsWith('.dcos') || name.includes('partial')), []);
  });
});
