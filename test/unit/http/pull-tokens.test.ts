import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { issuePullToken, requestedRepositories, verifyPullToken } from '../../../lib/auth/bearer-tokens.ts';

describe('pull tokens (the Docker token flow)', () => {
  const key = randomBytes(32);
  const grant = { sub: 'token:0123456789ab', repositories: ['team/app'], exp: 1_000 };

  it('verifies until it expires, and not a second after', () => {
    const token = issuePullToken(key, grant);
    assert.deepEqual(verifyPullToken(key, token, 999), { valid: true, grant });
    assert.deepEqual(verifyPullToken(key, token, 1_000), { valid: false, reason: 'expired' });
  });

  it('refuses another key, a changed payload, and malformed values', () => {
    const token = issuePullToken(key, grant);
    assert.deepEqual(verifyPullToken(randomBytes(32), token, 0), { valid: false, reason: 'signature' });
    const [, payload, mac] = token.split('.') as [string, string, string];
    const widened = Buffer.from(JSON.stringify({ ...grant, repositories: ['*'] })).toString('base64url');
    assert.equal(payload === widened, false);
    assert.deepEqual(verifyPullToken(key, `v1.${widened}.${mac}`, 0), { valid: false, reason: 'signature' });
    for (const value of ['v1.', 'v1.a', 'v1.a.b.c', `v2.${payload}.${mac}`, 'plain-token']) assert.equal(verifyPullToken(key, value, 0).valid, false, value);
  });

  it('reads the repositories a token request asks to pull, and grants no push', () => {
    assert.deepEqual(requestedRepositories(['repository:team/app:pull', 'repository:b:pull,push', 'repository:c:push', 'registry:catalog:*']), ['team/app', 'b']);
    assert.deepEqual(requestedRepositories(['repository:a:pull repository:b:pull']), ['a', 'b']);
    assert.deepEqual(requestedRepositories([]), []);
    assert.equal(requestedRepositories(Array.from({ length: 33 }, (_, index) => `repository:r${index}:pull`)), undefined);
  });
});
