/**
 * The registry's acceptance scenarios, run against each way of hosting it (embedded on a
 * directory; Lambda handlers on S3 + SQS FIFO). Everything goes through real HTTP, the built CLI
 * and real bundles.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { assetBytesFor, sha256Hex, startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { ASSET_BYTES, sampleBundleEntries, sampleMetadata } from '../helpers/bundle-builder.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { assertResourceServed, COSMOS_HEADERS, fetchRepository, rawGet, resourceUrls, V5_CONTENT_TYPE } from '../helpers/repository-checks.ts';
import { storedKeys, type RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { buildDistinctBundles, buildTestBundle, HELLO_WORLD } from '../helpers/test-bundles.ts';
import { craftZip } from '../helpers/zip-crafter.ts';

const HELLO = { name: 'hello-world', version: '3.2.0-0.57.3' };

export function describeRegistryScenarios(label: string, start: () => Promise<RegistryUnderTest>): void {
  describe(`registry scenarios: ${label}`, () => {
    let registry: RegistryUnderTest;
    let assets: AssetServer;
    let work: string;
    const cli = (args: string[]) => runBuiltCli([...args, `--url=${registry.url}`], { env: { DCOS_REGISTRY_TOKEN: registry.token } });
    const describeJson = async (name: string, version: string) => {
      const run = await cli(['describe', `--package-name=${name}`, `--package-version=${version}`, '--json']);
      return { ...run, value: run.code === 0 ? (JSON.parse(run.stdout) as Record<string, unknown>) : undefined };
    };
    /** Every stored key except upload records and the audit trail, to show that a refused add changed nothing. */
    const contentKeys = async () => (await storedKeys(registry)).filter((key) => !key.startsWith('uploads/') && !key.startsWith('audit/'));

    before(async () => {
      registry = await start();
      assets = await startAssetServer();
      work = await mkdtemp(join(tmpdir(), 'scenario-'));
    });
    after(async () => {
      await registry?.close();
      await assets?.close();
      await rm(work, { recursive: true, force: true });
    });

    it('migrate → build → add hello-world with the CLI → Added → in /repo, assets served → remove → gone', async () => {
      const migrated = await runBuiltCli(['migrate', `--package-directory=${HELLO_WORLD}`, `--output-directory=${work}`, '--json']);
      assert.equal(migrated.code, 0, migrated.stderr);
      const { path } = await buildTestBundle(assets, HELLO_WORLD, work);
      const added = await cli(['add', `--dcos-file=${path}`]);
      assert.equal(added.code, 0, added.stderr);
      assert.equal(
        added.stdout,
        'Package uploaded successfully. Please wait while it is being validated..\nAdded packages:\n\t hello-world 3.2.0-0.57.3\nNote: It will take a couple of minutes for the packages to be added to the registry\n',
      );
      await registry.settled();
      const described = await describeJson(HELLO.name, HELLO.version);
      assert.equal(described.value?.status, 'Added', described.stderr);
      assert.equal(typeof described.value?.releaseVersion, 'number');

      const { packages } = await fetchRepository(registry.url);
      const entry = packages.find((pkg) => pkg.name === HELLO.name && pkg.version === HELLO.version);
      assert.ok(entry, 'hello-world is in /repo');
      assert.equal(entry.releaseVersion, described.value?.releaseVersion);
      const urls = resourceUrls(entry);
      assert.equal(urls.length, 11, 'five assets, three icons, three CLI binaries');
      for (const url of urls) {
        assert.ok(url.startsWith(`${registry.url}/resource/${encodeCoordinate(HELLO)}/sha256:`), url);
        await assertResourceServed(url);
      }
      const resourceKeysBefore = (await storedKeys(registry, 'resources/')).length;
      assert.ok(resourceKeysBefore > 0);

      const removed = await cli(['remove', `--package-name=${HELLO.name}`, `--package-version=${HELLO.version}`, '--json']);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(JSON.parse(removed.stdout), { ...HELLO, status: 'Removed' });
      await registry.settled();
      assert.equal((await fetchRepository(registry.url)).packages.some((pkg) => pkg.name === HELLO.name), false);
      assert.deepEqual(await storedKeys(registry, 'resources/'), [], 'its files, used by no other package, are deleted');
      // What stays is the tombstone record (status Removed): describe answers not found.
      assert.deepEqual(await storedKeys(registry, 'packages/'), [`packages/${encodeCoordinate(HELLO)}/record.json`]);
      assert.equal((await describeJson(HELLO.name, HELLO.version)).code, 1);
      const gone = await describeJson(HELLO.name, HELLO.version);
      assert.equal(gone.code, 1);
      assert.deepEqual(JSON.parse(gone.stderr), {
        type: 'VersionNotFound',
        message: `Version [${HELLO.version}] of package [${HELLO.name}] not found`,
        data: { packageName: HELLO.name, packageVersion: HELLO.version },
      });
    });

    it('answers describe of an unknown package with the exact message and exit code 1', async () => {
      const run = await cli(['describe', '--package-name=hello', '--package-version=world']);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr, 'Version [world] of package [hello] not found\n');
    });

    it('treats an identical re-add as a no-op and refuses a conflicting one with 409, the original intact', async () => {
      const { path } = await buildTestBundle(assets, HELLO_WORLD, work);
      assert.equal((await cli(['add', `--dcos-file=${path}`, '--wait'])).code, 0);
      await registry.settled();
      const first = await describeJson(HELLO.name, HELLO.version);
      const repoBefore = await fetchRepository(registry.url);
      const keysBefore = await contentKeys();

      const again = await cli(['add', `--dcos-file=${path}`, '--json']);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(JSON.parse(again.stdout).packages, [HELLO]);
      await registry.settled();
      assert.deepEqual((await describeJson(HELLO.name, HELLO.version)).value, first.value, 'the record is unchanged');
      assert.equal((await fetchRepository(registry.url)).etag, repoBefore.etag, 'the index is unchanged');

      const { path: conflicting } = await buildTestBundle(assets, HELLO_WORLD, join(work, 'conflict'), (definition) => ({
        ...definition,
        description: 'Different content under the same name and version',
      }));
      const refused = await cli(['add', `--dcos-file=${conflicting}`, '--json']);
      assert.equal(refused.code, 1);
      const envelope = JSON.parse(refused.stderr) as { type: string; message: string };
      assert.equal(envelope.type, 'PackageAlreadyExists');
      assert.match(envelope.message, /hello-world\] version \[3\.2\.0-0\.57\.3\] already exists/);
      const status = await fetch(`${registry.url}/v1/packages/${HELLO.name}/${HELLO.version}`, { headers: { authorization: `Bearer ${registry.token}` } });
      assert.equal(status.status, 200);
      await registry.settled();
      assert.deepEqual((await describeJson(HELLO.name, HELLO.version)).value, first.value);
      assert.equal((await fetchRepository(registry.url)).etag, repoBefore.etag);
      assert.deepEqual(await contentKeys(), keysBefore, 'nothing but upload records and the audit trail changed');
      assert.equal((await cli(['remove', `--package-name=${HELLO.name}`, `--package-version=${HELLO.version}`])).code, 0);
      await registry.settled();
    });

    it('refuses corrupt, truncated, schema-invalid and hash-mismatched bundles with the reason, changing nothing else', async () => {
      const { path } = await buildTestBundle(assets, HELLO_WORLD, work);
      const good = await readFile(path);
      const cases: { label: string; bytes: Buffer; type: string; failedPackage?: { name: string; version: string } }[] = [
        // Damage inside the stored content: caught by the CRC-32 check while it is verified.
        { label: 'corrupt', bytes: Buffer.from(good.map((byte, index) => (Math.abs(index - (good.length >> 2)) < 64 ? byte ^ 0x5a : byte))), type: 'ChecksumMismatch' },
        { label: 'truncated', bytes: good.subarray(0, good.length >> 1), type: 'TruncatedArchive' },
        { label: 'schema-invalid', bytes: craftZip(sampleBundleEntries({ ...sampleMetadata(), tags: 'not-an-array' })), type: 'InvalidEntry' },
        {
          label: 'hash-mismatched',
          bytes: craftZip(
            sampleBundleEntries().map((entry) =>
              entry.content === ASSET_BYTES ? { ...entry, content: Buffer.concat([ASSET_BYTES.subarray(1), Buffer.from('!')]) } : entry,
            ),
          ),
          type: 'DigestMismatch',
          failedPackage: { name: 'sample', version: '1.0.0' },
        },
      ];
      const before = await contentKeys();
      const repoBefore = await fetchRepository(registry.url);
      for (const testCase of cases) {
        const file = join(work, `${testCase.label}.dcos`);
        await writeFile(file, testCase.bytes);
        const run = await cli(['add', `--dcos-file=${file}`, '--json']);
        assert.equal(run.code, 1, `${testCase.label}: ${run.stdout}`);
        assert.equal(run.stdout, '');
        const envelope = JSON.parse(run.stderr) as { type: string; message: string };
        assert.equal(envelope.type, testCase.type, `${testCase.label}: ${envelope.message}`);
      }
      await registry.settled();
      // Where the metadata could still be read, describe tells why the package failed.
      const failedRecords = [
        { ...HELLO, type: 'ChecksumMismatch' },
        { name: 'sample', version: '1.0.0', type: 'DigestMismatch' },
      ];
      for (const failed of failedRecords) {
        const described = await describeJson(failed.name, failed.version);
        assert.equal(described.value?.status, 'Failed', failed.name);
        assert.equal((described.value?.error as { type: string }).type, failed.type);
      }
      const recordKeys = new Set(failedRecords.map((failed) => `packages/${encodeCoordinate(failed)}/record.json`));
      const after = (await contentKeys()).filter((key) => !recordKeys.has(key));
      assert.deepEqual(after, before.filter((key) => !recordKeys.has(key)), 'nothing but the two Failed records was written');
      assert.equal((await fetchRepository(registry.url)).etag, repoBefore.etag);
    });

    it('refuses management calls with a missing or wrong token (401), with no side effect', async () => {
      const before = await storedKeys(registry);
      for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: 'Basic abc' }] as Record<string, string>[]) {
        const create = await fetch(`${registry.url}/v1/uploads`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
        assert.equal(create.status, 401);
        const envelope = (await create.json()) as { type: string };
        assert.equal(envelope.type, 'Unauthorized');
        const remove = await fetch(`${registry.url}/v1/packages/a/1`, { method: 'DELETE', headers });
        assert.equal(remove.status, 401);
        assert.equal((await fetch(`${registry.url}/v1/packages`, { headers })).status, 401);
      }
      const cliRun = await runBuiltCli(['list', `--url=${registry.url}`], { env: { DCOS_REGISTRY_TOKEN: 'wrong' } });
      assert.equal(cliRun.code, 1);
      assert.equal(cliRun.stderr, 'The bearer token is not valid\n');
      assert.deepEqual(await storedKeys(registry), before);
      // Reads stay public.
      assert.equal((await fetch(`${registry.url}/health`)).status, 200);
    });

    it('takes 20 concurrent adds of distinct packages: all 20 in the index, no duplicates', async () => {
      const bundles = await buildDistinctBundles(assets, join(work, 'distinct'), 20);
      const runs = await Promise.all(bundles.map((bundle) => cli(['add', `--dcos-file=${bundle.path}`, '--json'])));
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      await registry.settled();
      const { packages } = await fetchRepository(registry.url);
      const concurrent = packages.filter((pkg) => pkg.name.startsWith('concurrent-'));
      assert.deepEqual(concurrent.map((pkg) => pkg.name).sort(), bundles.map((bundle) => bundle.name).sort());
      const coordinates = packages.map((pkg) => `${pkg.name}@${pkg.version}`);
      assert.equal(new Set(coordinates).size, coordinates.length, 'no duplicate entries');
      for (const bundle of bundles.slice(0, 3)) {
        const entry = concurrent.find((pkg) => pkg.name === bundle.name)!;
        const own = (entry.resource as { assets: { uris: { own: string } } }).assets.uris.own;
        await assertResourceServed(own);
        assert.ok(own.includes(sha256Hex(assetBytesFor(`/https/assets.example.com/${bundle.name}/own.bin`))));
      }
    });
    it('serves /repo to Cosmos: gzip, exact content type, 304 on If-None-Match, v4/v3 and DC/OS version variants', async () => {
      // A 5.0 package beside the 4.0 ones: v4 clients must not see it; DC/OS 1.11 must not either.
      const { path } = await buildTestBundle(assets, HELLO_WORLD, join(work, 'five'), (definition) => ({
        ...definition,
        packagingVersion: '5.0',
        name: 'five-oh',
        minDcosReleaseVersion: '1.12',
      }));
      assert.equal((await cli(['add', `--dcos-file=${path}`, '--wait'])).code, 0);
      await registry.settled();
      const { packages, etag } = await fetchRepository(registry.url);
      assert.ok(packages.some((pkg) => pkg.name === 'five-oh' && pkg.packagingVersion === '5.0'));
      const again = await rawGet(`${registry.url}/repo`, { ...COSMOS_HEADERS, 'if-none-match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
      const raw = await rawGet(`${registry.url}/repo`, COSMOS_HEADERS);
      assert.equal(raw.headers['content-type'], V5_CONTENT_TYPE);
      assert.equal(raw.headers['content-encoding'], 'gzip');
      assert.equal(raw.body[0], 0x1f, 'the body is gzip');
      const v4 = await fetch(`${registry.url}/repo`, { headers: { accept: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4' } });
      assert.equal(v4.headers.get('content-type'), 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4');
      const v4Names = ((await v4.json()) as { packages: { name: string }[] }).packages.map((pkg) => pkg.name);
      assert.deepEqual(v4Names.sort(), packages.filter((pkg) => pkg.packagingVersion !== '5.0').map((pkg) => pkg.name).sort());
      assert.ok(!v4Names.includes('five-oh'));
      const old = await fetch(`${registry.url}/repo`, { headers: { ...COSMOS_HEADERS, 'user-agent': 'cosmos/0.5.2 dcos/1.11.0' } });
      const oldNames = ((await old.json()) as { packages: { name: string }[] }).packages.map((pkg) => pkg.name);
      assert.ok(!oldNames.includes('five-oh'), 'minDcosReleaseVersion 1.12 is hidden from DC/OS 1.11');
      assert.ok(oldNames.length > 0 && oldNames.length === packages.length - 1);
      const health = await fetch(`${registry.url}/`);
      assert.deepEqual(await health.json(), { checks: { '/repo': { Healthy: { message: `Able to find ${packages.length} package(s).` } } } });
      // The digest may arrive percent-encoded (Cosmos's resource proxy, spec §4.4).
      const icon = (packages.find((pkg) => pkg.name === 'five-oh')!.resource as { images: { 'icon-small': string } }).images['icon-small'];
      await assertResourceServed(icon.replace('/sha256:', '/sha256%3A'));
      const missing = await fetch(`${registry.url}/resource/${encodeCoordinate({ name: 'x', version: '1' })}/sha256:${'0'.repeat(64)}/x.png`);
      assert.equal(missing.status, 404);
    });

  });
}
