import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuildDefinition } from '../../lib/universe/package-model.ts';
import { startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { startAwsStack } from '../helpers/local-aws/aws-stack.ts';
import { assertResourceServed, fetchRepository, resourceUrls } from '../helpers/repository-checks.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { buildTestBundle, HELLO_WORLD } from '../helpers/test-bundles.ts';
import { describeRegistryScenarios } from './registry-scenarios.ts';

describeRegistryScenarios('Lambda handlers on S3 events and SQS FIFO (local servers)', () => startAwsStack());

describe('a bundle larger than one PUT, uploaded in parts straight to S3', () => {
  let registry: RegistryUnderTest;
  let assets: AssetServer;
  let work: string;
  before(async () => {
    // Parts of 5 MiB above 1 MiB, so that a 12 MiB bundle goes up in three parts.
    registry = await startAwsStack({ environment: { REGISTRY_MULTIPART_THRESHOLD_BYTES: String(1024 * 1024), REGISTRY_MULTIPART_PART_BYTES: String(5 * 1024 * 1024) } });
    assets = await startAssetServer();
    work = await mkdtemp(join(tmpdir(), 'multipart-'));
  });
  after(async () => {
    await registry.close();
    await assets.close();
    await rm(work, { recursive: true, force: true });
  });

  it('assembles the parts, ingests the bundle from the completion event, and serves its large asset', async () => {
    const { path } = await buildTestBundle(assets, HELLO_WORLD, work, (definition) => ({
      ...definition,
      name: 'large-asset',
      resource: { assets: { uris: { big: 'https://downloads.example.com/size/12582912/big.bin' } } },
    }) as BuildDefinition);
    assert.ok((await stat(path)).size > 12 * 1024 * 1024);
    const run = await runBuiltCli(['add', `--dcos-file=${path}`, `--url=${registry.url}`, '--wait', '--json'], { env: { DCOS_REGISTRY_TOKEN: registry.token } });
    assert.equal(run.code, 0, run.stderr);
    await registry.settled();
    const entry = (await fetchRepository(registry.url)).packages.find((pkg) => pkg.name === 'large-asset');
    assert.ok(entry);
    const [big] = resourceUrls(entry);
    // Above the 4 MiB Lambda limit: answered with a redirect to a presigned S3 URL, followed here.
    const response = await fetch(big!, { redirect: 'manual' });
    assert.equal(response.status, 307);
    assert.match(response.headers.get('location') ?? '', /X-Amz-Signature=/);
    await assertResourceServed(big!);
  });
});
