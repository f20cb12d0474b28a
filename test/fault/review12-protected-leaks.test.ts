/**
 * review12: protected reads that leak past the credential check.
 * - A resource answered to a read token carries `Cache-Control: public, max-age=31536000,
 *   immutable`: `public` lets every shared cache (a corporate proxy, a CDN in front of the
 *   registry) store an authenticated response and hand it to callers with no token (RFC 9111 §3.5).
 * - A malformed JSON array of token entries fails the start with the JSON parser's message, which
 *   quotes the text around the error: part of a token (docs: "errors name the entry by position only").
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tokenEntriesFrom } from '../../lib/config/environment.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';

const READ = 'review12-leaks-read-token-0001';
const WRITE = 'review12-leaks-write-token-001';

describe('review12: protected reads do not leak', { timeout: 120_000 }, () => {
  it('a protected resource is not marked cacheable by shared caches', async () => {
    const work = await mkdtemp(join(tmpdir(), 'review12-leaks-'));
    const registry = await startEmbeddedRegistry({ tokens: `read:${READ},write:${WRITE}`, env: { REGISTRY_READ_PROTECTION: 'true' } });
    try {
      const added = await httpAdd(registry.url, WRITE, await readFile(await writeSampleBundle(work)));
      assert.equal(added.status, 'Accepted');
      await registry.settled();
      const repo = await fetch(`${registry.url}/repo`, { headers: { authorization: `Bearer ${READ}` } });
      const url = [...(await repo.text()).matchAll(/"(http:\/\/[^"]*\/resource\/[^"]+)"/g)][0]?.[1];
      assert.ok(url, 'the repository names a resource');
      assert.equal((await fetch(url)).status, 401, 'the resource needs the token');
      const resource = await fetch(url, { headers: { authorization: `Bearer ${READ}` } });
      assert.equal(resource.status, 200);
      await resource.arrayBuffer();
      const cacheControl = resource.headers.get('cache-control') ?? '';
      assert.doesNotMatch(cacheControl, /\bpublic\b/, `a shared cache may store this authenticated response and serve it without a token: ${cacheControl}`);
    } finally {
      await registry.close();
      await rm(work, { recursive: true, force: true });
    }
  });

  it('a malformed token configuration is refused without quoting any of it', () => {
    const secret = 'Zq9sEcReTtOkEnVaLuE';
    for (const text of [`[read:${secret}]`, `["read:ok", write:${secret}]`, `[ "admin:${secret}" , ]`]) {
      let message = '';
      try {
        tokenEntriesFrom({ REGISTRY_AUTH_TOKENS: text });
      } catch (error) {
        message = (error as Error).message;
      }
      assert.notEqual(message, '', `refused: ${text}`);
      // Any 4 consecutive characters of the secret in the message is a leak.
      for (let i = 0; i + 4 <= secret.length; i++) assert.ok(!message.includes(secret.slice(i, i + 4)), `the error quotes the token: ${message}`);
    }
  });
});
