/**
 * review12: a pull token presented as Bearer to /v2/token is accepted as a `read` credential and
 * mints a fresh pull token, for any repository and with a new five-minute expiry. So a pull token
 * (a) escapes its repository scope, and (b) renews itself forever: removing the read token that
 * obtained it does not stop the client (docs/security.md: "to stop a client, remove its read token";
 * "pull tokens it obtained, for five minutes more"). Also: a token minted anonymously while reads
 * were public stays good (and renewable) once protection is switched on (same storage, same key).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serverConfigFrom } from '../../lib/config/environment.ts';
import { startRegistryServer, type RunningRegistry } from '../../lib/server/registry-server.ts';
import { silentLogger } from '../../lib/support/logger.ts';

const READ = 'review12-read-token-000000001';
const WRITE = 'review12-write-token-00000001';

async function start(dataDir: string, tokens: string, protectedReads: boolean): Promise<RunningRegistry> {
  const config = serverConfigFrom({ PORT: '0', REGISTRY_DATA_DIR: dataDir, REGISTRY_AUTH_TOKENS: tokens, REGISTRY_READ_PROTECTION: protectedReads ? 'true' : 'false', REGISTRY_DROP_SCAN_SECONDS: '60' });
  return startRegistryServer(config, { log: silentLogger });
}

const basic = (token: string): string => `Basic ${Buffer.from(`agent:${token}`).toString('base64')}`;

async function tokenFor(url: string, authorization: string | undefined, repository: string): Promise<{ status: number; token?: string }> {
  const response = await fetch(`${url}/v2/token?service=x&scope=repository:${repository}:pull`, { headers: authorization ? { authorization } : {} });
  const body = (await response.json()) as { token?: string };
  return { status: response.status, ...(body.token ? { token: body.token } : {}) };
}

const grantOf = (token: string): { sub: string; repositories: string[]; exp: number } =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; repositories: string[]; exp: number };

describe('review12: pull tokens minting pull tokens', { timeout: 60_000 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('a pull token for team/a is refused at /v2/token (it must not mint one for team/b)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'review12-pt-'));
    dirs.push(dataDir);
    const registry = await start(dataDir, `read:${READ},write:${WRITE}`, true);
    try {
      const first = await tokenFor(registry.url, basic(READ), 'team/a');
      assert.equal(first.status, 200);
      assert.deepEqual(grantOf(first.token!).repositories, ['team/a']);
      // The pull token used as the credential of the token endpoint.
      const second = await tokenFor(registry.url, `Bearer ${first.token}`, 'team/b');
      assert.equal(second.status, 401, `a pull token for team/a minted ${second.token ? JSON.stringify(grantOf(second.token)) : 'something'}`);
    } finally {
      await registry.close();
    }
  });

  it('removing the read token stops new pull tokens (a pull token cannot renew itself)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'review12-pt-'));
    dirs.push(dataDir);
    let registry = await start(dataDir, `read:${READ},write:${WRITE}`, true);
    const first = await tokenFor(registry.url, basic(READ), 'team/a');
    await registry.close();
    // The operator removes the read token (rotation / revocation) and restarts.
    registry = await start(dataDir, `write:${WRITE}`, true);
    try {
      assert.equal((await tokenFor(registry.url, basic(READ), 'team/a')).status, 401, 'the removed read token is refused');
      const renewed = await tokenFor(registry.url, `Bearer ${first.token}`, 'team/a');
      assert.equal(renewed.status, 401, `the old pull token renewed itself: ${renewed.token ? JSON.stringify(grantOf(renewed.token)) : ''}`);
    } finally {
      await registry.close();
    }
  });

  it('a token minted anonymously while reads were public is not a credential once reads are protected', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'review12-pt-'));
    dirs.push(dataDir);
    let registry = await start(dataDir, `read:${READ},write:${WRITE}`, false);
    const anonymous = await tokenFor(registry.url, undefined, 'team/a');
    assert.equal(anonymous.status, 200);
    assert.equal(grantOf(anonymous.token!).sub, 'anonymous');
    await registry.close();
    registry = await start(dataDir, `read:${READ},write:${WRITE}`, true);
    try {
      const manifest = await fetch(`${registry.url}/v2/team/a/tags/list`, { headers: { authorization: `Bearer ${anonymous.token}` } });
      // 404 NAME_UNKNOWN means it got past authentication.
      assert.equal(manifest.status, 401, `an anonymous pull token passed authentication (status ${manifest.status})`);
    } finally {
      await registry.close();
    }
  });

  it('a pull token for team/a does not list the catalog of every repository', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'review12-pt-'));
    dirs.push(dataDir);
    const registry = await start(dataDir, `read:${READ},write:${WRITE}`, true);
    try {
      const first = await tokenFor(registry.url, basic(READ), 'team/a');
      const catalog = await fetch(`${registry.url}/v2/_catalog`, { headers: { authorization: `Bearer ${first.token}` } });
      assert.equal(catalog.status, 401, `catalog answered ${catalog.status} to a token for team/a only`);
    } finally {
      await registry.close();
    }
  });
});
