import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grants } from '../../../lib/auth/scopes.ts';
import { hashedEntryLine, newToken, parseTokenEntries, parseTokenEntry, splitEntries, TokenEntryError } from '../../../lib/auth/token-entries.ts';
import { authorize, isLoopback, scopeOfToken, staticTokens, tokenFingerprint } from '../../../lib/http/auth.ts';
import { ForbiddenError, UnauthorizedError } from '../../../lib/registry/registry-errors.ts';

const policyOf = (text: string, loopbackWithoutToken = false) => staticTokens(parseTokenEntries(text), { loopbackWithoutToken });

describe('authentication: tokens, their scopes, and what each route needs', () => {
  it('accepts only a configured bearer token; a bare entry is an admin token (as before scopes)', async () => {
    const policy = policyOf('alpha-token,beta-token', true);
    assert.deepEqual(await authorize(policy, 'Bearer beta-token', '10.1.2.3', 'admin'), { actor: tokenFingerprint('beta-token'), scope: 'admin' });
    await assert.rejects(authorize(policy, 'Bearer gamma-token', '127.0.0.1', 'read'), UnauthorizedError);
    await assert.rejects(authorize(policy, undefined, '127.0.0.1', 'read'), /Missing bearer token/);
    await assert.rejects(authorize(policy, 'Basic YWxwaGE6dG9rZW4=', '127.0.0.1', 'write'), /not valid/);
    await assert.rejects(authorize(policy, 'Token beta-token', '127.0.0.1', 'write'), /Missing bearer token/);
  });

  it('takes Basic credentials with the token as password, whatever the user name', async () => {
    const policy = policyOf('read:reader-token-1');
    const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    assert.equal((await authorize(policy, basic('agent', 'reader-token-1'), undefined, 'read')).scope, 'read');
    assert.equal((await authorize(policy, basic('', 'reader-token-1'), undefined, 'read')).scope, 'read');
    await assert.rejects(authorize(policy, basic('reader-token-1', ''), undefined, 'read'), /Missing bearer token/);
    await assert.rejects(authorize(policy, basic('agent', 'reader-token-2'), undefined, 'read'), /not valid/);
    await assert.rejects(authorize(policy, 'Basic !!!', undefined, 'read'), /Missing bearer token/);
  });

  it('a token of a narrower scope is refused with 403 Forbidden naming its fingerprint, never the token', async () => {
    const policy = policyOf(`read:reader-token-1, write:writer-token-1\n${hashedEntryLine('admin', 'admin-token-1')}`);
    const cases: [string, 'read' | 'write' | 'admin', boolean][] = [
      ['reader-token-1', 'read', true], ['reader-token-1', 'write', false], ['reader-token-1', 'admin', false],
      ['writer-token-1', 'read', true], ['writer-token-1', 'write', true], ['writer-token-1', 'admin', false],
      ['admin-token-1', 'read', true], ['admin-token-1', 'write', true], ['admin-token-1', 'admin', true],
    ];
    for (const [token, required, allowed] of cases) {
      const attempt = authorize(policy, `Bearer ${token}`, '10.0.0.1', required);
      if (allowed) assert.equal((await attempt).actor, tokenFingerprint(token));
      else {
        const error = await attempt.then(() => undefined, (caught: unknown) => caught);
        assert.ok(error instanceof ForbiddenError, `${token} for ${required}`);
        assert.equal(error.type, 'Forbidden');
        assert.doesNotMatch(error.message, new RegExp(token));
        assert.match(error.message, new RegExp(tokenFingerprint(token)));
      }
    }
    // A public route asks nothing and checks nothing.
    assert.deepEqual(await authorize(policy, 'Bearer nonsense', undefined, 'public'), { actor: 'anonymous', scope: 'public' });
  });

  it('a hashed entry grants its token; the hash itself is not a token', async () => {
    const token = newToken();
    const line = hashedEntryLine('write', token);
    assert.match(line, /^write:sha256:[0-9a-f]{64}$/);
    const policy = policyOf(line);
    assert.equal((await authorize(policy, `Bearer ${token}`, undefined, 'write')).scope, 'write');
    await assert.rejects(authorize(policy, `Bearer ${line.slice('write:sha256:'.length)}`, undefined, 'read'), UnauthorizedError);
    await assert.rejects(authorize(policy, `Bearer ${line}`, undefined, 'read'), UnauthorizedError);
  });

  it('a token listed in several scopes gets the widest; several tokens per scope (rotation)', () => {
    const entries = parseTokenEntries('read:same-token,admin:same-token,write:old-token,write:new-token');
    assert.equal(scopeOfToken('same-token', entries), 'admin');
    assert.equal(scopeOfToken('old-token', entries), 'write');
    assert.equal(scopeOfToken('new-token', entries), 'write');
    assert.equal(scopeOfToken('other', entries), undefined);
  });

  it('refuses entries that would grant by mistake, naming their position and not their text', () => {
    for (const [text, position] of [['raed:secret-token', 1], ['read:ok-token,admin:', 2], ['write:sha256:ABCDEF', 1], [`read:sha256:${'0'.repeat(63)}`, 1], ['x'.repeat(2000), 1]] as const) {
      const error = (() => {
        try {
          parseTokenEntries(text);
          return undefined;
        } catch (caught) {
          return caught;
        }
      })();
      assert.ok(error instanceof TokenEntryError, text.slice(0, 30));
      assert.equal(error.position, position);
      assert.doesNotMatch(error.message, /secret-token|raed/);
    }
    // An admin token that holds a colon is written with its scope.
    assert.equal(parseTokenEntry('admin:has:colon', 1).scope, 'admin');
    assert.equal(scopeOfToken('has:colon', parseTokenEntries('admin:has:colon')), 'admin');
    assert.deepEqual(splitEntries('["read:a", "write:b"]'), ['read:a', 'write:b']);
    assert.throws(() => splitEntries('["read:a", 3]'), TokenEntryError);
    assert.throws(() => splitEntries('[read:secret-token-text'), (error: unknown) => error instanceof TokenEntryError && !error.message.includes('secret'));
    // A space inside an entry is refused, not split into bare (admin) tokens.
    assert.throws(() => parseTokenEntries('write:correct horse battery'), (error: unknown) => error instanceof TokenEntryError && error.position === 1);
    assert.deepEqual(splitEntries(' a , b\nc '), ['a', 'b', 'c']);
  });

  it('with no token configured, accepts loopback callers only (embedded), or nobody (AWS)', async () => {
    const embedded = policyOf('', true);
    assert.deepEqual(await authorize(embedded, undefined, '127.0.0.1', 'admin'), { actor: 'loopback:127.0.0.1', scope: 'admin' });
    await authorize(embedded, undefined, '::1', 'write');
    await authorize(embedded, undefined, '::ffff:127.0.0.1', 'write');
    await assert.rejects(authorize(embedded, undefined, '192.168.1.20', 'write'), /accepted from this machine only/);
    await assert.rejects(authorize(policyOf('', false), undefined, '127.0.0.1', 'read'), UnauthorizedError);
  });

  it('compares tokens whatever their length; scopes nest', () => {
    const entries = parseTokenEntries('a');
    assert.equal(scopeOfToken('a', entries), 'admin');
    assert.equal(scopeOfToken('a'.repeat(1000), entries), undefined);
    assert.equal(scopeOfToken('', parseTokenEntries('x')), undefined);
    assert.equal(isLoopback('127.8.9.10'), true);
    assert.equal(isLoopback('128.0.0.1'), false);
    assert.equal(grants('read', 'write'), false);
    assert.equal(grants('write', 'read'), true);
    assert.equal(grants('read', 'public'), true);
  });
});
