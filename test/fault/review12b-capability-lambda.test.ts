/**
 * review12b: capability views on a Lambda (no streaming).
 * 1. The inline-or-store decision looks at the stored (gzip) size only: a client that takes no gzip
 *    is sent the decompressed view inline, however large (the plain /repo compares what would be
 *    sent). On AWS the cap is 6 MB: a view of 2 MB gzip / 20 MB JSON fails instead of redirecting.
 * 2. "A concurrent request writes the same bytes": not when a publish lands between two requests.
 *    The slower (older version) writer removes "the older ones beside it", which is the newer
 *    object another request was just redirected to: that client follows a redirect to nothing.
 * 3. With reads public, the capability routes take any segment with no credential, and on a Lambda
 *    each distinct segment stores one more object (index/capability/<fingerprint>/…) that
 *    nothing ever removes (gc knows index/tables and index/views only): unauthenticated writes
 *    to the bucket, without bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { makeRepoHandler } from '../../lib/handlers/read-handlers.ts';
import { readAllBytes, type ObjectStore } from '../../lib/ports/object-store.ts';
import { listAllKeys } from '../../lib/registry/json-objects.ts';
import { CAPABILITY_VIEWS_PREFIX } from '../../lib/registry/layout.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { add, contextOf, entry, HOSTS, newStore } from './review9-helpers.ts';

const withResource = (name: string, release: number, padding = 200) => ({
  ...entry(name, '4.0', release, undefined, padding),
  resource: { assets: { uris: { jar: `${HOSTS.publicBaseUrl}/resource/x/sha256%3A${'0'.repeat(64)}/${name}.jar` } } },
});
const capability = { encoded: 'TOKEN-1', fingerprint: 'token:0123456789ab' };

describe('review12b: capability views on a Lambda', { timeout: 60_000 }, () => {
  it('a client that takes no gzip is not sent inline more than the Lambda can answer', async () => {
    const { store } = await newStore();
    const limit = 16 * 1024;
    const context = contextOf(store, { streamResponses: false, maxInlineResponseBytes: limit });
    // Very compressible descriptions: small gzip, large JSON.
    for (let i = 0; i < 20; i++) await add(store, { ...withResource(`pkg${i}`, i + 1), description: 'a'.repeat(4000) });
    const base = { accept: undefined, acceptEncoding: undefined, userAgent: 'curl/8', ifNoneMatch: undefined };
    const plain = await serveRepository(context, base);
    assert.equal(plain.kind, 'redirect', 'control: the plain /repo redirects a view this large');
    const reply = await serveRepository(context, { ...base, capability });
    if (reply.kind === 'stream') {
      const bytes = (await readAllBytes(reply.body)).length;
      assert.ok(bytes <= limit, `the capability view is answered inline with ${bytes} bytes, over the ${limit} inline limit`);
    }
  });

  it('a publish between two requests does not remove the object one of them redirected to', async () => {
    const { store: real } = await newStore();
    let gateReached!: () => void;
    const reached = new Promise<void>((resolve) => (gateReached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    const store = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'put') {
          return async (key: string, ...rest: unknown[]) => {
            if (key.startsWith(CAPABILITY_VIEWS_PREFIX) && first) {
              first = false;
              gateReached();
              await gate;
            }
            return (target.put as (...a: unknown[]) => Promise<unknown>).call(target, key, ...rest);
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as ObjectStore;
    const context = contextOf(store, { streamResponses: false, maxInlineResponseBytes: 256 });
    await add(real, withResource('alpha', 1));
    const request = { accept: undefined, acceptEncoding: 'gzip', userAgent: 'cosmos/0.6.3 dcos/2.1.0', ifNoneMatch: undefined, capability };
    const slow = serveRepository(context, request); // version 1, held in its put
    await reached;
    await add(real, withResource('beta', 2)); // a publish
    const fast = await serveRepository(context, request); // version 2, completes
    release();
    await slow;
    assert.equal(fast.kind, 'redirect');
    const key = decodeURIComponent(new URL((fast as { location: string }).location).pathname.slice(1));
    assert.ok(await real.head(key), `the client of version 2 was redirected to ${key}, which the slower request removed; left: ${(await listAllKeys(real, CAPABILITY_VIEWS_PREFIX)).join(', ')}`);
  });

  it('with reads public, garbage capabilities do not write objects to the bucket', async () => {
    const { store } = await newStore();
    const context = contextOf(store, { streamResponses: false, maxInlineResponseBytes: 256 });
    await add(store, withResource('alpha', 1));
    const handler = makeRepoHandler({
      context,
      auth: { entries: async () => [], loopbackWithoutToken: false, readProtected: false },
      keyPrefix: '',
      triggerIngest: async () => undefined,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const event = {
        version: '2.0',
        routeKey: 'GET /c/{capability}/repo',
        rawPath: `/c/garbage-${i}/repo`,
        rawQueryString: '',
        headers: { 'accept-encoding': 'gzip', 'user-agent': 'anyone' },
        pathParameters: { capability: `garbage-${i}` },
        requestContext: { requestId: `r${i}`, http: { method: 'GET', path: `/c/garbage-${i}/repo`, sourceIp: '203.0.113.9', protocol: 'HTTP/1.1', userAgent: 'anyone' } },
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyEventV2;
      const result = (await handler(event, {} as Context)) as { statusCode: number };
      statuses.push(result.statusCode);
    }
    const stored = await listAllKeys(store, CAPABILITY_VIEWS_PREFIX);
    await collectGarbage(context).catch(() => undefined);
    const afterGc = await listAllKeys(store, CAPABILITY_VIEWS_PREFIX);
    assert.equal(stored.length, 0, `25 anonymous requests (statuses ${[...new Set(statuses)].join(',')}) stored ${stored.length} objects; after gc: ${afterGc.length}`);
  });
});
