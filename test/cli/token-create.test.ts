/**
 * `token create` as an operator uses it: the printed line, added as is to REGISTRY_AUTH_TOKENS,
 * lets the printed token do what its scope allows and no more (the built CLI and server).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { startRegistryProcess } from '../helpers/registry-process.ts';

interface Created {
  scope: string;
  token: string;
  entry: string;
  fingerprint: string;
}

async function create(scope: string): Promise<Created> {
  const run = await runBuiltCli(['token', 'create', `--scope=${scope}`, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Created;
}

describe('dcos-registry token create', () => {
  it('prints a token and a hashed line that grants it its scope on a registry, as printed', async () => {
    const read = await create('read');
    const write = await create('write');
    assert.match(write.entry, /^write:sha256:[0-9a-f]{64}$/);
    assert.ok(!write.entry.includes(write.token));
    assert.notEqual(read.token, write.token);
    const work = await mkdtemp(join(tmpdir(), 'token-create-'));
    const server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, 'data'), REGISTRY_AUTH_TOKENS: `${read.entry},${write.entry}` });
    try {
      const listed = await runBuiltCli(['list', `--url=${server.url}`, '--json'], { env: { DCOS_REGISTRY_TOKEN: write.token } });
      assert.equal(listed.code, 0, listed.stderr);
      const refused = await runBuiltCli(['list', `--url=${server.url}`, '--json'], { env: { DCOS_REGISTRY_TOKEN: read.token } });
      assert.equal(refused.code, 1);
      const envelope = JSON.parse(refused.stderr.trim().split('\n').pop()!) as { type: string; message: string };
      assert.equal(envelope.type, 'Forbidden');
      assert.match(envelope.message, new RegExp(read.fingerprint));
      const admin = await runBuiltCli(['fsck', `--url=${server.url}`, '--json'], { env: { DCOS_REGISTRY_TOKEN: write.token } });
      assert.equal(admin.code, 1, 'maintenance needs admin');
    } finally {
      await server.kill();
      await rm(work, { recursive: true, force: true });
    }
  });

  it('refuses an unknown scope, as an envelope under --json', async () => {
    const run = await runBuiltCli(['token', 'create', '--scope=raed', '--json']);
    assert.equal(run.code, 1);
    assert.equal((JSON.parse(run.stderr) as { type: string }).type, 'InvalidOption');
  });
});
