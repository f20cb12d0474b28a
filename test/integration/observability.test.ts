/**
 * What an operator sees of an add, a describe, a failed add and a remove: Prometheus metrics at
 * /metrics, and the audit trail stored beside the data (with token fingerprints, never tokens).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { listAllKeys } from '../../lib/registry/json-objects.ts';
import { startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { buildTestBundle, HELLO_WORLD } from '../helpers/test-bundles.ts';

describe('metrics and audit trail', () => {
  let registry: RegistryUnderTest;
  let assets: AssetServer;
  let work: string;
  before(async () => {
    registry = await startEmbeddedRegistry();
    assets = await startAssetServer();
    work = await mkdtemp(join(tmpdir(), 'observability-'));
  });
  after(async () => {
    await registry.close();
    await assets.close();
    await rm(work, { recursive: true, force: true });
  });

  it('shows an add, a describe, a failed add and a remove', async () => {
    const cli = (args: string[]) => runBuiltCli([...args, `--url=${registry.url}`], { env: { DCOS_REGISTRY_TOKEN: registry.token } });
    const { path } = await buildTestBundle(assets, HELLO_WORLD, work);
    assert.equal((await cli(['add', `--dcos-file=${path}`, '--wait'])).code, 0);
    assert.equal((await cli(['describe', '--package-name=hello-world', '--package-version=3.2.0-0.57.3'])).code, 0);
    const broken = join(work, 'broken.dcos');
    await writeFile(broken, (await readFile(path)).subarray(0, 5000));
    // The CLI refuses it before uploading (its preflight); sent straight over HTTP it is ingested and rejected.
    assert.equal((await cli(['add', `--dcos-file=${broken}`])).code, 1);
    assert.equal((await httpAdd(registry.url, registry.token, await readFile(broken))).status, 'Rejected');
    assert.equal((await cli(['remove', '--package-name=hello-world', '--package-version=3.2.0-0.57.3'])).code, 0);
    await registry.settled();

    const metrics = await (await fetch(`${registry.url}/metrics`)).text();
    for (const line of [
      'registry_http_requests_total{route="POST /v1/uploads",status="201"} 2',
      'registry_http_requests_total{route="GET /v1/packages/{name}/{version}",status="200"}',
      'registry_http_requests_total{route="DELETE /v1/packages/{name}/{version}",status="202"} 1',
      'registry_ingest_total{outcome="accepted"} 1',
      'registry_ingest_total{outcome="rejected"} 1',
      'registry_index_entries 0',
      'registry_queue_depth 0',
    ]) {
      assert.ok(metrics.includes(line), `/metrics has ${line}\n${metrics}`);
    }
    assert.match(metrics, /registry_index_age_seconds \d+(\.\d+)?/);
    assert.match(metrics, /registry_http_request_duration_seconds_count\{route="GET \/v1\/packages\/\{name\}\/\{version\}"\} \d+/);
    assert.match(metrics, /registry_ingest_duration_seconds_bucket\{outcome="rejected",le="\+Inf"\} 1/);

    const entries = await Promise.all(
      (await listAllKeys(registry.store, 'audit/')).map(async (key) => JSON.parse((await readAllBytes((await registry.store.get(key)).body)).toString()) as Record<string, unknown>),
    );
    const summary = entries.map((entry) => `${String(entry.action)}:${String(entry.outcome)}`).sort();
    for (const expected of ['upload.create:ok', 'upload.complete:ok', 'bundle.add:ok', 'package.describe:ok', 'bundle.add:failed', 'package.remove:ok']) {
      assert.ok(summary.includes(expected), `${expected} in ${summary.join(', ')}`);
    }
    const added = entries.find((entry) => entry.action === 'bundle.add' && entry.outcome === 'ok')!;
    assert.match(String(added.contentDigest), /^[0-9a-f]{64}$/);
    assert.deepEqual(added.package, { name: 'hello-world', version: '3.2.0-0.57.3' });
    const failed = entries.find((entry) => entry.action === 'bundle.add' && entry.outcome === 'failed')!;
    assert.match(String(failed.reason), /^TruncatedArchive: /);
    for (const entry of entries) {
      assert.match(String(entry.actor), /^token:[0-9a-f]{12}$/, JSON.stringify(entry));
      assert.ok(!JSON.stringify(entry).includes(registry.token), 'no token in the audit trail');
      assert.ok(!Number.isNaN(Date.parse(String(entry.time))));
    }
  });
});
