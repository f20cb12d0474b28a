import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorize, isLoopback, staticTokens, tokenMatches } from '../../../lib/http/auth.ts';
import { UnauthorizedError } from '../../../lib/registry/registry-errors.ts';

describe('management authentication', () => {
  it('accepts only a configured bearer token', async () => {
    const policy = staticTokens(['alpha-token', 'beta-token'], { loopbackWithoutToken: true });
    await authorize(policy, 'Bearer beta-token', '10.1.2.3');
    await assert.rejects(authorize(policy, 'Bearer gamma-token', '127.0.0.1'), UnauthorizedError);
    await assert.rejects(authorize(policy, undefined, '127.0.0.1'), /Missing bearer token/);
    await assert.rejects(authorize(policy, 'Basic YWxwaGE6dG9rZW4=', '127.0.0.1'), /Missing bearer token/);
  });

  it('with no token configured, accepts loopback callers only (embedded), or nobody (AWS)', async () => {
    const embedded = staticTokens([], { loopbackWithoutToken: true });
    await authorize(embedded, undefined, '127.0.0.1');
    await authorize(embedded, undefined, '::1');
    await authorize(embedded, undefined, '::ffff:127.0.0.1');
    await assert.rejects(authorize(embedded, undefined, '192.168.1.20'), /accepted from this machine only/);
    await assert.rejects(authorize(staticTokens([''], { loopbackWithoutToken: false }), undefined, '127.0.0.1'), UnauthorizedError);
  });

  it('compares tokens whatever their length, without early exit', () => {
    assert.equal(tokenMatches('a', ['a']), true);
    assert.equal(tokenMatches('a'.repeat(1000), ['a']), false);
    assert.equal(tokenMatches('', ['x']), false);
    assert.equal(isLoopback('127.8.9.10'), true);
    assert.equal(isLoopback('128.0.0.1'), false);
  });
});
