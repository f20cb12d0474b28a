/**
 * Every route of the route table × every kind of caller (none, a wrong token, a forged and an
 * expired pull token, each scope as Bearer, read as Basic; in the path on capability routes),
 * over real HTTP against the embedded registry, with reads public and with reads protected: the status each must get (a refusal is
 * 401 without a valid credential, 403 with one of too narrow a scope), and a refusal changes
 * nothing in storage. Generated from ROUTES, so a route added to the table is checked here too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { grants, type RequiredScope, type Scope } from '../../lib/auth/scopes.ts';
import { hashedEntryLine } from '../../lib/auth/token-entries.ts';
import { issuePullToken } from '../../lib/auth/bearer-tokens.ts';
import { tokenFingerprint } from '../../lib/http/auth.ts';
import { tokenSigningKey } from '../../lib/registry/token-signing-key.ts';
import { ROUTES, type Route } from '../../lib/http/routes.ts';
import type { ObjectStore } from '../../lib/ports/object-store.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';

const TOKENS: Record<Scope, string> = { read: 'scope-test-read-token-0001', write: 'scope-test-write-token-001', admin: 'scope-test-admin-token-001' };
// One of each form: a plain scoped entry, a hashed one, and a bare (admin) token.
const ENTRIES = [`read:${TOKENS.read}`, hashedEntryLine('write', TOKENS.write), TOKENS.admin].join(',');

interface Caller {
  readonly label: string;
  readonly authorization?: string;
  /** What it puts in a capability URL's `{capability}` segment (those routes read no header). */
  readonly capability: string;
  /** The scope it holds, if its credential is valid. */
  readonly scope?: Scope;
}

const basic = (password: string): string => `Basic ${Buffer.from(`agent:${password}`).toString('base64')}`;
const CALLERS: readonly Caller[] = [
  { label: 'no credential', capability: 'none' },
  { label: 'a wrong bearer token', authorization: 'Bearer not-a-configured-token', capability: 'not-a-configured-token' },
  // Docker's pull token shape, not issued by this registry: refused like any unknown token.
  { label: 'a forged pull token', authorization: 'Bearer v1.eyJzdWIiOiJ4In0.AAAA', capability: 'v1.eyJzdWIiOiJ4In0.AAAA' },
  { label: 'a read token', authorization: `Bearer ${TOKENS.read}`, scope: 'read', capability: TOKENS.read },
  { label: 'a read token as Basic password', authorization: basic(TOKENS.read), scope: 'read', capability: TOKENS.read },
  { label: 'a write token (hashed entry)', authorization: `Bearer ${TOKENS.write}`, scope: 'write', capability: TOKENS.write },
  { label: 'an admin token (bare entry)', authorization: `Bearer ${TOKENS.admin}`, scope: 'admin', capability: TOKENS.admin },
];

/** A concrete request for a route: its parameters filled in, a body where it takes one. */
function requestOf(route: Route, caller: Caller): { path: string; body?: string } {
  const path = route.path
    .replace('{capability}', encodeURIComponent(caller.capability))
    .replace('{coordinate}', 'hello-world%2F1.0.0')
    .replace('{digest}', `sha256%3A${'0'.repeat(64)}`)
    .replace('{filename}', 'file.bin')
    .replace('{uploadId}', '00000000-0000-4000-8000-000000000000')
    .replace('{name}', 'hello-world')
    .replace('{version}', '1.0.0')
    .replace('{proxy+}', 'library/hello/manifests/1.0');
  if (route.method === 'POST' && route.path === '/v1/uploads') return { path, body: JSON.stringify({ fileName: 'x.dcos', size: 10 }) };
  if (route.method === 'POST' && route.path.startsWith('/v1/')) return { path, body: '{}' };
  return { path };
}

async function snapshot(store: ObjectStore): Promise<string> {
  const lines: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.list('', token === undefined ? {} : { token });
    for (const object of page.objects) lines.push(`${object.key} ${object.etag}`);
    token = page.nextToken;
  } while (token !== undefined);
  return lines.join('\n');
}

function expectedStatus(required: RequiredScope, caller: Caller): 'allowed' | 401 | 403 {
  if (required === 'public') return 'allowed';
  if (!caller.scope) return 401;
  return grants(caller.scope, required) ? 'allowed' : 403;
}

describe('the route table gives each function the scope the threat model says', () => {
  // A function added to the table must be placed here, in a scope, on purpose.
  const SCOPE_OF_FUNCTION: Record<string, RequiredScope> = {
    health: 'public',
    repo: 'read',
    resource: 'read',
    registry: 'read',
    upload: 'write',
    describe: 'write',
    remove: 'write',
    admin: 'admin',
  };
  it('every route', () => {
    for (const route of ROUTES) assert.equal(route.scope, SCOPE_OF_FUNCTION[route.functionName], `${route.method} ${route.path}`);
  });
});

for (const readProtection of [false, true]) {
  describe(`every route × every caller, reads ${readProtection ? 'protected' : 'public'}`, () => {
    let registry: RegistryUnderTest;
    let callers: readonly Caller[] = CALLERS;
    before(async () => {
      registry = await startEmbeddedRegistry({ tokens: ENTRIES, env: { REGISTRY_READ_PROTECTION: String(readProtection) } });
      // A pull token this registry signed for the read token, expired a second ago.
      const expired = issuePullToken(await tokenSigningKey(registry.store), { sub: tokenFingerprint(TOKENS.read), repositories: ['library/hello'], exp: Math.floor(Date.now() / 1000) - 1 });
      callers = [...CALLERS, { label: 'an expired pull token', authorization: `Bearer ${expired}`, capability: expired }];
    });
    after(async () => registry.close());

    for (const route of ROUTES) {
      it(`${route.method} ${route.path} (${route.scope})`, async () => {
        const required: RequiredScope = route.scope === 'read' && !readProtection ? 'public' : route.scope;
        for (const caller of callers) {
          const { path, body } = requestOf(route, caller);
          const expected = expectedStatus(required, caller);
          // Settle what an allowed call before set going (an ingest, a collection) before comparing.
          await registry.settled();
          const before = expected === 'allowed' ? '' : await snapshot(registry.store);
          const response = await fetch(`${registry.url}${path}`, {
            method: route.method,
            headers: { ...(caller.authorization && !route.credential ? { authorization: caller.authorization } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body } : {}),
          });
          const text = await response.text();
          const what = `${route.method} ${path} with ${caller.label}: ${response.status} ${text.slice(0, 200)}`;
          if (expected === 'allowed') {
            assert.ok(response.status !== 401 && response.status !== 403, what);
            continue;
          }
          assert.equal(response.status, expected, what);
          // A HEAD answer has no body to carry the envelope.
          if (route.method !== 'HEAD') {
            const envelope = JSON.parse(text) as { type: string; message: string };
            assert.equal(envelope.type, expected === 401 ? 'Unauthorized' : 'Forbidden', what);
          }
          for (const token of Object.values(TOKENS)) assert.ok(!text.includes(token), `${what}: the answer names a token`);
          if (expected === 401) {
            const challenge = response.headers.get('www-authenticate') ?? '';
            // Docker's API sends clients to its token endpoint; other reads (and that endpoint) ask for Basic.
            const expectedChallenge = route.functionName === 'registry' && route.path !== '/v2/token' ? /^Bearer realm="[^"]+\/v2\/token",service=/ : route.scope === 'read' ? /^Basic realm=/ : /^Bearer realm="dcos-registry"/;
            assert.match(challenge, expectedChallenge, what);
          }
          await registry.settled();
          assert.equal(await snapshot(registry.store), before, `${what}: a refused call changed storage`);
        }
      });
    }
  });
}

describe('no token configured', () => {
  it('management is open to loopback callers only while the server listens on loopback alone', async () => {
    for (const [host, expected] of [['127.0.0.1', 200], ['0.0.0.0', 401]] as const) {
      // A public URL given: on all interfaces the server would otherwise need exactly one network address.
      const registry = await startEmbeddedRegistry({ tokens: '', env: { HOST: host, REGISTRY_PUBLIC_URL: 'http://registry.test:8080' } });
      try {
        const port = new URL(registry.url).port;
        const response = await fetch(`http://127.0.0.1:${port}/v1/packages`);
        assert.equal(response.status, expected, `listening on ${host}: ${await response.text()}`);
        // Reads stay public either way.
        assert.equal((await fetch(`http://127.0.0.1:${port}/repo`)).status, 200);
      } finally {
        await registry.close();
      }
    }
  });
});
