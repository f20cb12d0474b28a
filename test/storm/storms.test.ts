/**
 * Storms (issue 8): many concurrent adds against the built server, on the filesystem and with two
 * server processes on one S3 bucket (the local S3 server enforces conditional writes as S3 does),
 * and a mixed storm of adds, removes and re-adds with identical and different content. Each ends
 * with 0 lost, 0 duplicate, 0 stuck, the state a sequential run would give, and fsck clean.
 *
 * npm test runs one round of each; the full campaign of the issue is
 *   STORM_FS_ROUNDS=10 STORM_S3_ROUNDS=3 node --import tsx --test test/storm/storms.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { craftedBundle } from '../helpers/faults/registry-harness.ts';
import { httpAdd, httpDescribe, httpFsck, httpRemove, httpSettled, type AddOutcome } from '../helpers/http-add.ts';
import { startLocalS3, LOCAL_S3_CREDENTIALS, type LocalS3 } from '../helpers/local-aws/local-s3.ts';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.ts';
import { sizedBytes } from '../helpers/asset-server.ts';
import { COSMOS_HEADERS } from '../helpers/repository-checks.ts';

const TOKEN = 'storm-token-0123456789';
const SIZE = Number(process.env.STORM_SIZE ?? 100);
const FS_ROUNDS = Number(process.env.STORM_FS_ROUNDS ?? 1);
const S3_ROUNDS = Number(process.env.STORM_S3_ROUNDS ?? 1);

async function repoEntries(url: string): Promise<{ name: string; version: string; description: string }[]> {
  const response = await fetch(`${url}/repo`, { headers: COSMOS_HEADERS });
  assert.equal(response.status, 200);
  return ((await response.json()) as { packages: { name: string; version: string; description: string }[] }).packages;
}

/** `count` distinct versions of one package, each with a small file of its own. */
function stormBundles(name: string, count: number): { version: string; bytes: Buffer }[] {
  return Array.from({ length: count }, (_, index) => {
    const version = `1.0.${index}`;
    return { version, bytes: craftedBundle({ name, version, files: [sizedBytes(2048, `${name}-${version}`)] }) };
  });
}

async function assertStormLanded(urls: readonly string[], name: string, versions: readonly string[], outcomes: readonly AddOutcome[]): Promise<void> {
  const refused = outcomes.filter((outcome) => outcome.status !== 'Accepted');
  assert.deepEqual(refused, [], 'every add accepted');
  for (const url of urls) await httpSettled(url, TOKEN);
  for (const url of urls) {
    const listed = (await repoEntries(url)).filter((entry) => entry.name === name).map((entry) => entry.version);
    assert.equal(listed.length, versions.length, `${url}: no version lost, none twice`);
    assert.deepEqual([...listed].sort(), [...versions].sort());
  }
  for (const version of versions) assert.equal((await httpDescribe(urls[0]!, TOKEN, name, version)).value.status, 'Added');
  const report = await httpFsck(urls[0]!, TOKEN);
  assert.deepEqual(report.violations, [], 'fsck clean');
}

describe('storms', () => {
  let work: string;
  before(async () => (work = await mkdtemp(join(tmpdir(), 'storm-'))));
  after(() => rm(work, { recursive: true, force: true }));

  for (let round = 1; round <= FS_ROUNDS; round++) {
    it(`${SIZE} concurrent adds of distinct versions on the filesystem (round ${round} of ${FS_ROUNDS})`, async () => {
      const server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, `fs-${round}`), REGISTRY_AUTH_TOKENS: TOKEN });
      try {
        const bundles = stormBundles('storm-fs', SIZE);
        const outcomes = await Promise.all(bundles.map((bundle) => httpAdd(server.url, TOKEN, bundle.bytes)));
        await assertStormLanded([server.url], 'storm-fs', bundles.map((bundle) => bundle.version), outcomes);
      } finally {
        await server.kill();
      }
    });
  }

  describe('two server processes on one S3 bucket', () => {
    let s3: LocalS3;
    before(async () => (s3 = await startLocalS3()));
    after(() => s3.close());

    for (let round = 1; round <= S3_ROUNDS; round++) {
      it(`${SIZE} concurrent adds split between them (round ${round} of ${S3_ROUNDS})`, async () => {
        const prefix = `storm-${round}`;
        const servers: RegistryProcess[] = [];
        try {
          for (const index of [0, 1]) {
            servers.push(
              await startRegistryProcess({
                REGISTRY_DATA_DIR: join(work, `s3-${round}-${index}`),
                REGISTRY_AUTH_TOKENS: TOKEN,
                REGISTRY_S3_BUCKET: s3.bucket,
                REGISTRY_S3_ENDPOINT: s3.endpoint,
                REGISTRY_S3_PREFIX: prefix,
                REGISTRY_PUBLIC_URL: 'http://registry.example',
                AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
                AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
                AWS_REGION: 'us-east-1',
              }),
            );
          }
          const bundles = stormBundles('storm-s3', SIZE);
          const outcomes = await Promise.all(bundles.map((bundle, index) => httpAdd(servers[index % 2]!.url, TOKEN, bundle.bytes, { timeoutMs: 300_000 })));
          await assertStormLanded(servers.map((server) => server.url), 'storm-s3', bundles.map((bundle) => bundle.version), outcomes);
        } finally {
          await Promise.all(servers.map((server) => server.kill()));
        }
      });
    }
  });

  it('a mixed storm of adds, removes and re-adds ends in the state a sequential run gives', async () => {
    const server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, 'mixed'), REGISTRY_AUTH_TOKENS: TOKEN, REGISTRY_GC_GRACE_SECONDS: '0' });
    const name = 'mixed';
    const versions = Array.from({ length: 20 }, (_, index) => `2.0.${index}`);
    const content = (version: string, variant: 'A' | 'B') => craftedBundle({ name, version, description: variant, files: [sizedBytes(4096, `${version}-${variant}`)] });
    const add = (version: string, variant: 'A' | 'B') => httpAdd(server.url, TOKEN, content(version, variant)).then((outcome) => ({ version, variant, outcome }));
    const expected = new Map<string, 'A' | 'B' | undefined>();
    try {
      // Phase 1: every version added, half of them twice with the same content, a quarter raced
      // by different content of the same version.
      const first = await Promise.all([
        ...versions.map((version) => add(version, 'A')),
        ...versions.slice(0, 10).map((version) => add(version, 'A')),
        ...versions.slice(10, 15).map((version) => add(version, 'B')),
      ]);
      for (const version of versions) {
        const accepted = first.filter((result) => result.version === version && result.outcome.status === 'Accepted');
        const variants = new Set(accepted.map((result) => result.variant));
        assert.equal(variants.size, 1, `${version}: one content wins`);
        for (const loser of first.filter((result) => result.version === version && result.outcome.status !== 'Accepted')) {
          assert.equal(loser.outcome.error?.type, 'PackageAlreadyExists', `${version}: the loser is told why`);
        }
        expected.set(version, [...variants][0]);
      }
      await httpSettled(server.url, TOKEN);
      for (const version of versions) {
        const described = (await httpDescribe(server.url, TOKEN, name, version)).value as { status?: string; error?: unknown };
        assert.equal(described.status, 'Added', `${version} after phase 1: ${JSON.stringify(described)}`);
      }
      // Phase 2: ten removed while five others are re-added with the other content (refused).
      const second = await Promise.all([
        ...versions.slice(0, 10).map((version) => httpRemove(server.url, TOKEN, name, version).then((status) => ({ version, status }))),
        ...versions.slice(15, 20).map((version) => add(version, 'B')),
      ]);
      for (const result of second) {
        if ('status' in result) {
          assert.equal(result.status, 202);
          expected.set(result.version, undefined);
        } else {
          assert.equal(result.outcome.status, 'Rejected');
          assert.equal(result.outcome.error?.type, 'PackageAlreadyExists');
        }
      }
      await httpSettled(server.url, TOKEN);
      // Phase 3: the removed ones come back, half with other content, half with the same.
      const third = await Promise.all([...versions.slice(0, 5).map((version) => add(version, 'B')), ...versions.slice(5, 10).map((version) => add(version, 'A'))]);
      for (const result of third) {
        assert.equal(result.outcome.status, 'Accepted', `${result.version} re-added`);
        expected.set(result.version, result.variant);
      }
      await httpSettled(server.url, TOKEN);
      const entries = (await repoEntries(server.url)).filter((entry) => entry.name === name);
      const actual = new Map(entries.map((entry) => [entry.version, entry.description as 'A' | 'B']));
      assert.equal(entries.length, actual.size, 'no version twice');
      const missing = [...expected].filter(([version, variant]) => variant !== undefined && !actual.has(version));
      const described = await Promise.all(missing.map(async ([version]) => ({ version, ...(await httpDescribe(server.url, TOKEN, name, version)).value })));
      assert.deepEqual(
        Object.fromEntries([...actual].sort()),
        Object.fromEntries([...expected].filter(([, variant]) => variant !== undefined).sort()),
        `missing from /repo: ${JSON.stringify(described)}`,
      );
      const report = await httpFsck(server.url, TOKEN);
      assert.deepEqual(report.violations, [], 'fsck clean');
    } finally {
      await server.kill();
    }
  });
});
