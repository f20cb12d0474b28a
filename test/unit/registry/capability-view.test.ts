/**
 * Capability views (lib/registry/capability): the byte replacement across any chunking, and on
 * a Lambda (no streaming) a view too large to answer inline stored once per index version and
 * token and collected once older than the grace window, with the resource URLs of the stored index prefixed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { InProcessJobQueue } from '../../../lib/adapters/job-queue/in-process-job-queue.ts';
import { readAllBytes } from '../../../lib/ports/object-store.ts';
import { ByteReplace, capabilityEtag } from '../../../lib/registry/capability/capability-view.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../../lib/registry/context.ts';
import { listAllKeys } from '../../../lib/registry/json-objects.ts';
import { CAPABILITY_VIEWS_PREFIX } from '../../../lib/registry/layout.ts';
import { serveRepository } from '../../../lib/registry/serve.ts';
import { collectGarbage } from '../../../lib/registry/maintenance/garbage-collector.ts';
import { silentLogger } from '../../../lib/support/logger.ts';
import { add, entry, HOSTS, newStore } from '../../fault/review9-helpers.ts';

async function replaced(text: string, from: string, to: string, chunk: number): Promise<string> {
  const pieces: Buffer[] = [];
  const source = Buffer.from(text);
  for (let at = 0; at < source.length; at += chunk) pieces.push(source.subarray(at, at + chunk));
  const out: Buffer[] = [];
  for await (const part of Readable.from(pieces).pipe(new ByteReplace(Buffer.from(from), Buffer.from(to)))) out.push(part as Buffer);
  return Buffer.concat(out).toString();
}

describe('capability views', () => {
  it('replaces every occurrence whatever the chunk boundaries, including adjacent and overlapping-looking ones', async () => {
    const from = '"https://r/resource/';
    const to = '"https://r/c/TOKEN/resource/';
    const texts = [
      `{"a":${from}x","b":[${from}y",${from}z"]}`,
      `${from}${from}${from}`,
      '"https://r/resourc no match "https://r/resource',
      `${'"https://r/'.repeat(5)}${from}end`,
      randomBytes(3000).toString('base64').replace(/A/g, from),
    ];
    for (const text of texts) {
      const expected = text.split(from).join(to);
      for (const chunk of [1, 2, 3, 7, from.length - 1, from.length, from.length + 1, 64, 100_000]) {
        assert.equal(await replaced(text, from, to, chunk), expected, `chunk ${chunk}: ${text.slice(0, 40)}`);
      }
    }
  });

  it('tells tokens apart in the ETag, and keeps the stored ETag in it', () => {
    assert.equal(capabilityEtag('"abc"', 'token:0123456789ab'), '"abc-c0123456789ab"');
    assert.notEqual(capabilityEtag('"abc"', 'token:0123456789ab'), capabilityEtag('"abc"', 'token:ba9876543210'));
    assert.equal(capabilityEtag('W/"abc"', 'token:0123456789ab'), '"abc-c0123456789ab"');
  });

  it('on a Lambda, stores a large view once per index version and token, prefixed; gc removes them past the window', async () => {
    const { store } = await newStore();
    const context: RegistryContext = {
      store,
      queue: new InProcessJobQueue(silentLogger),
      settings: { ...DEFAULT_SETTINGS, publicBaseUrl: HOSTS.publicBaseUrl, streamResponses: false, maxInlineResponseBytes: 256 },
      log: silentLogger,
      now: () => new Date(),
    };
    const withResource = (name: string, release: number) => ({ ...entry(name, '4.0', release), resource: { assets: { uris: { jar: `${HOSTS.publicBaseUrl}/resource/x/sha256%3A${'0'.repeat(64)}/${name}.jar` } } } });
    await add(store, withResource('alpha', 1));
    const request = { accept: undefined, acceptEncoding: 'gzip', userAgent: 'cosmos/0.6.3 dcos/2.1.0', ifNoneMatch: undefined, capability: { encoded: 'TOKEN-1', fingerprint: 'token:0123456789ab' } };
    const first = await serveRepository(context, request);
    assert.equal(first.kind, 'redirect');
    const stored = await listAllKeys(store, CAPABILITY_VIEWS_PREFIX);
    assert.equal(stored.length, 1);
    const document = gunzipSync(await readAllBytes((await store.get(stored[0]!)).body)).toString();
    assert.match(document, new RegExp(`"${HOSTS.publicBaseUrl}/c/TOKEN-1/resource/x/`));
    assert.doesNotMatch(document, new RegExp(`"${HOSTS.publicBaseUrl}/resource/`));
    // Asked again: the same object, not written again.
    const etagBefore = (await store.head(stored[0]!))!.etag;
    assert.equal((await serveRepository(context, request)).kind, 'redirect');
    assert.equal((await store.head(stored[0]!))!.etag, etagBefore);
    // A new index version: a new object beside it (the older one may still be a redirect's target).
    await add(store, withResource('beta', 2));
    await serveRepository(context, request);
    const after = await listAllKeys(store, CAPABILITY_VIEWS_PREFIX);
    assert.equal(after.length, 2);
    const newest = after.find((key) => key !== stored[0])!;
    assert.match(gunzipSync(await readAllBytes((await store.get(newest)).body)).toString(), /c\/TOKEN-1\/resource\/x\/[^"]*beta\.jar/);
    // Garbage collection removes them once older than the window; none while younger.
    await collectGarbage({ ...context, settings: { ...context.settings, gcGraceSeconds: 3600 } });
    assert.equal((await listAllKeys(store, CAPABILITY_VIEWS_PREFIX)).length, 2);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await collectGarbage({ ...context, settings: { ...context.settings, gcGraceSeconds: 0, staleAfterSeconds: 1 } });
    assert.deepEqual(await listAllKeys(store, CAPABILITY_VIEWS_PREFIX), []);
  });
});
