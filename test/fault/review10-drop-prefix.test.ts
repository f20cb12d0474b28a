/**
 * Review 10, claim 4: "any .dcos put under drop/ in the store is ingested; two instances ingest
 * one drop once". Against an S3-compatible store (the local S3 server, standing in for MinIO),
 * where clients (`aws s3 cp`, `rclone`, a console) may name objects with characters the registry's
 * own keys never use (brackets, `#`, non-ASCII). The scanner handed those to ingestion, which
 * ignored them as "not a bundle location" without a word; they stayed, were listed again on every
 * scan, and counted against the 100 bundles a scan takes, so enough of them (ahead in key order)
 * kept every later drop from being ingested at all. Now each is named once in a warning with the
 * reason (the registry cannot read such a name through its store) and counts for nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../lib/registry/context.ts';
import { ingestBundle } from '../../lib/registry/ingest.ts';
import { readJson } from '../../lib/registry/json-objects.ts';
import { packageRecordKey } from '../../lib/registry/layout.ts';
import type { PackageRecord } from '../../lib/registry/records.ts';
import { DropPrefixScanner } from '../../lib/server/drop-prefix-scanner.ts';
import { createLogger, silentLogger } from '../../lib/support/logger.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { ChaoticQueue } from '../helpers/faults/chaotic-queue.ts';
import { craftedBundle } from '../helpers/faults/registry-harness.ts';
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3 } from '../helpers/local-aws/local-s3.ts';

describe('the drop prefix on an S3-compatible store', () => {
  let s3: LocalS3;
  let client: S3Client;
  let context: RegistryContext;
  before(async () => {
    s3 = await startLocalS3();
    client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: LOCAL_S3_CREDENTIALS });
    context = { store: s3.store(), queue: new ChaoticQueue(), settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry.test', gcGraceSeconds: 0 }, log: silentLogger, now: () => new Date() };
  });
  after(async () => {
    client.destroy();
    await s3.close();
  });

  const put = (key: string, body: Buffer) => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));

  async function scanAndIngest(): Promise<string[]> {
    const running: Promise<unknown>[] = [];
    const scanner = new DropPrefixScanner(context.store, (key) => running.push(ingestBundle(context, key)), silentLogger, 60_000);
    const taken = await scanner.scan();
    await Promise.allSettled(running);
    return taken;
  }

  const record = async (name: string) => (await readJson<PackageRecord>(context.store, packageRecordKey(encodeCoordinate({ name, version: '1.0.0' }))))?.value;

  it('control: a bundle put as drop/plain.dcos is ingested and taken away', async () => {
    await put('drop/plain.dcos', craftedBundle({ name: 'plain' }));
    await scanAndIngest();
    assert.ok(await record('plain'));
    assert.equal(await context.store.head('drop/plain.dcos'), undefined);
  });

  it('two instances scanning together stage one drop once', async () => {
    await put('drop/twice.dcos', craftedBundle({ name: 'twice' }));
    const queue = new ChaoticQueue();
    const contexts = [0, 1].map(() => ({ ...context, store: s3.store(), queue }));
    const outcomes: Promise<unknown>[] = [];
    await Promise.all(contexts.map((other) => new DropPrefixScanner(other.store, (key) => outcomes.push(ingestBundle(other, key)), silentLogger, 60_000).scan()));
    const settled = await Promise.all(outcomes);
    const staged = settled.filter((outcome) => (outcome as { outcome: string; unchanged?: boolean }).outcome === 'accepted' && !(outcome as { unchanged: boolean }).unchanged);
    assert.equal(staged.length, 1, JSON.stringify(settled));
    assert.equal(queue.sent.filter((job) => job.kind === 'publish').length, 1, 'one publish job');
    assert.equal(await context.store.head('drop/twice.dcos'), undefined);
  });

  it('says once, with the reason, that it cannot take a bundle `aws s3 cp` put as "drop/My Bundle [v2].dcos"', async () => {
    await put('drop/My Bundle [v2].dcos', craftedBundle({ name: 'bracketed' }));
    const lines: string[] = [];
    const scanner = new DropPrefixScanner(context.store, () => assert.fail('nothing to ingest'), createLogger({ write: (line) => lines.push(line) }), 60_000);
    assert.deepEqual(await scanner.scan(), []);
    assert.deepEqual(await scanner.scan(), []);
    const warnings = lines.map((line) => JSON.parse(line) as { level: string; message: string; key?: string; reason?: string }).filter((line) => line.level === 'warn');
    assert.equal(warnings.length, 1, 'said once');
    assert.equal(warnings[0]!.key, 'drop/My Bundle [v2].dcos');
    assert.match(warnings[0]!.message, /rename it/);
    assert.match(warnings[0]!.reason ?? '', /characters outside/);
  });

  it('still ingests a valid drop when 100 objects it cannot take sort before it', async () => {
    for (let index = 0; index < 100; index++) await put(`drop/0-copy #${String(index).padStart(3, '0')}.dcos`, Buffer.from('not yet'));
    await put('drop/zz-good.dcos', craftedBundle({ name: 'behind' }));
    let taken: string[] = [];
    for (let scan = 0; scan < 3; scan++) taken = await scanAndIngest();
    assert.ok(await record('behind'), `drop/zz-good.dcos was ingested (the last scan took ${taken.length}, the last of them ${taken[taken.length - 1]})`);
  });
});
