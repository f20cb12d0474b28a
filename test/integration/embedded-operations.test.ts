/**
 * What only the self-hosted server does: the drop folder, management from loopback without a
 * token, and several processes sharing one S3-compatible bucket.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serverConfigFrom } from '../../lib/config/environment.ts';
import { startRegistryServer } from '../../lib/server/registry-server.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import { startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { startLocalS3, type LocalS3 } from '../helpers/local-aws/local-s3.ts';
import { fetchRepository } from '../helpers/repository-checks.ts';
import { buildDistinctBundles, buildTestBundle, HELLO_WORLD } from '../helpers/test-bundles.ts';

describe('self-hosted server operations', () => {
  let assets: AssetServer;
  let work: string;
  before(async () => {
    assets = await startAssetServer();
    work = await mkdtemp(join(tmpdir(), 'operations-'));
  });
  after(async () => {
    await assets.close();
    await rm(work, { recursive: true, force: true });
  });

  it('ingests a .dcos copied into <data>/drop/ and reports it under its drop upload', async () => {
    const registry = await startEmbeddedRegistry();
    try {
      const { path } = await buildTestBundle(assets, HELLO_WORLD, join(work, 'drop'));
      await copyFile(path, join(registry.dataDir, 'drop', 'hello world.dcos'));
      const deadline = Date.now() + 20_000;
      let names: string[] = [];
      while (Date.now() < deadline) {
        await registry.settled();
        names = (await fetchRepository(registry.url)).packages.map((pkg) => pkg.name);
        if (names.includes('hello-world')) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual(names, ['hello-world']);
      assert.deepEqual(await readdir(join(registry.dataDir, 'drop')), [], 'the dropped file was taken');
    } finally {
      await registry.close();
    }
  });

  it('without a configured token, accepts management calls from loopback', async () => {
    const registry = await startEmbeddedRegistry({ tokens: '' });
    try {
      const list = await runBuiltCli(['list', `--url=${registry.url}`, '--json'], { env: { DCOS_REGISTRY_TOKEN: '' } });
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), { packages: [] });
    } finally {
      await registry.close();
    }
  });

  describe('two processes on one S3 bucket', () => {
    let s3: LocalS3;
    before(async () => {
      s3 = await startLocalS3();
    });
    after(() => s3.close());

    it('ingest a bundle that `aws s3 cp` put under the bucket\'s drop/ prefix, once between them', async () => {
      const env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_DEFAULT_REGION: 'us-east-1' };
      process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
      process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
      const instances = await Promise.all(
        [0, 1].map((index) =>
          startRegistryServer(
            serverConfigFrom({
              PORT: '0',
              REGISTRY_DATA_DIR: join(work, `drop-instance-${index}`),
              REGISTRY_AUTH_TOKENS: 'shared-token',
              REGISTRY_S3_BUCKET: s3.bucket,
              REGISTRY_S3_ENDPOINT: s3.endpoint,
              REGISTRY_S3_PREFIX: 'dropped',
              REGISTRY_PUBLIC_URL: 'http://registry.example',
              REGISTRY_DROP_SCAN_SECONDS: '1',
            }),
            { log: silentLogger, store: s3.store('dropped') },
          ),
        ),
      );
      try {
        const [bundle] = await buildDistinctBundles(assets, join(work, 'drop-prefix'), 1);
        const copy = spawnSync('aws', ['s3', 'cp', bundle!.path, `s3://${s3.bucket}/dropped/drop/copied.dcos`, '--endpoint-url', s3.endpoint], { env, encoding: 'utf8' });
        assert.equal(copy.status, 0, `${copy.stdout}\n${copy.stderr}`);
        const deadline = Date.now() + 30_000;
        let names: string[] = [];
        while (Date.now() < deadline) {
          names = (await fetchRepository(instances[1]!.url)).packages.map((pkg) => pkg.name);
          if (names.includes(bundle!.name)) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        assert.deepEqual(names, [bundle!.name], 'in the index within the scan interval');
        await Promise.all(instances.map((instance) => instance.settled()));
        const store = s3.store('dropped');
        assert.equal(await store.head('drop/copied.dcos'), undefined, 'the dropped bundle is taken away');
        const uploads = (await store.list('uploads/')).objects.filter((object) => object.key.endsWith('.json'));
        assert.equal(uploads.length, 1, 'one upload record for the drop');
        const upload = JSON.parse((await readAllBytes((await store.get(uploads[0]!.key)).body)).toString('utf8')) as { status: string; attempts: number; uploadedBy?: string };
        assert.deepEqual({ status: upload.status, attempts: upload.attempts }, { status: 'Accepted', attempts: 1 }, 'ingested once, by one of the two');
      } finally {
        await Promise.all(instances.map((instance) => instance.close()));
      }
    });

    it('take 20 concurrent adds split between them: all 20 in the index, no duplicates', async () => {
      process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
      process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
      const instances = await Promise.all(
        [0, 1].map(async (index) => {
          const dataDir = join(work, `instance-${index}`);
          const config = serverConfigFrom({
            PORT: '0',
            REGISTRY_DATA_DIR: dataDir,
            REGISTRY_AUTH_TOKENS: 'shared-token',
            REGISTRY_S3_BUCKET: s3.bucket,
            REGISTRY_S3_ENDPOINT: s3.endpoint,
            REGISTRY_S3_PREFIX: 'shared',
            // Both serve the same index: it must carry one public URL.
            REGISTRY_PUBLIC_URL: 'http://registry.example',
          });
          return startRegistryServer(config, { log: silentLogger, store: s3.store('shared') });
        }),
      );
      try {
        const bundles = await buildDistinctBundles(assets, join(work, 'split'), 20);
        const runs = await Promise.all(
          bundles.map((bundle, index) =>
            runBuiltCli(['add', `--dcos-file=${bundle.path}`, `--url=${instances[index % 2]!.url}`, '--json', '--wait'], {
              env: { DCOS_REGISTRY_TOKEN: 'shared-token' },
            }),
          ),
        );
        for (const run of runs) assert.equal(run.code, 0, run.stderr);
        await Promise.all(instances.map((instance) => instance.settled()));
        for (const instance of instances) {
          const { packages } = await fetchRepository(instance.url);
          assert.deepEqual(packages.map((pkg) => pkg.name).sort(), bundles.map((bundle) => bundle.name).sort());
        }
      } finally {
        await Promise.all(instances.map((instance) => instance.close()));
      }
    });
  });
});
