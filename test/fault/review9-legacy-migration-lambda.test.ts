/**
 * Attack: a legacy (pre-layout) index migrated by the reconciler's ensureMediaObjectsCurrent in a
 * Lambda deployment (hosts carry materializeViewsAbove). The migration commit is made with hosts
 * rebuilt from metadata, dropping materializeViewsAbove: large views are never stored, and the
 * Lambda /repo then redirects to a presigned URL of an object that does not exist.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ensureMediaObjectsCurrent } from '../../lib/registry/index-store/index-writer.ts';
import { INDEX_KEY } from '../../lib/registry/layout.ts';
import { hostsOf } from '../../lib/registry/publisher.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { repositoryVariant } from '../../lib/registry/index-document.ts';
import { contextOf, entry, gunzipDoc, newStore, readAllBytes } from './review9-helpers.ts';

it('after migrating a legacy index in Lambda mode, every redirect names a stored object holding the view', async () => {
  const { store } = await newStore();
  const limit = 4 * 1024;
  const packages = [
    entry('plain', '2.0', 1, undefined, 3000),
    entry('ten', '4.0', 2, '1.10', 3000),
    entry('twelve', '4.0', 3, '1.12', 3000),
    entry('twoone', '5.0', 4, '2.1', 3000),
  ];
  const document = { packages };
  await store.put(INDEX_KEY, gzipSync(Buffer.from(JSON.stringify(document))), { contentType: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5', contentEncoding: 'gzip' });
  const context = contextOf(store, { maxInlineResponseBytes: limit, streamResponses: false });
  assert.equal(await ensureMediaObjectsCurrent(store, hostsOf(context)), true);
  const failures: string[] = [];
  for (const [accept, ua] of [
    ['application/vnd.dcos.universe.repo+json;version=v5', 'cosmos/0.6 dcos/1.12.0'],
    ['application/vnd.dcos.universe.repo+json;version=v4', 'cosmos/0.5 dcos/1.10.0'],
    ['application/vnd.dcos.universe.repo+json;version=v3', 'cosmos/0.3 dcos/1.10.0'],
  ] as const) {
    const reply = await serveRepository(context, { accept, acceptEncoding: 'gzip', userAgent: ua, ifNoneMatch: undefined });
    if (reply.kind !== 'redirect') continue;
    const key = decodeURIComponent(new URL(reply.location).pathname.slice(1));
    try {
      const object = await store.get(key);
      const got = await gunzipDoc(await readAllBytes(object.body));
      const media = accept.slice(-2) as 'v5' | 'v4' | 'v3';
      assert.deepEqual(got, repositoryVariant(document, media, ua.split('dcos/')[1]!.split('.').slice(0, 2).join('.')));
    } catch (error) {
      failures.push(`${accept} ${ua}: redirect to ${key}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  assert.deepEqual(failures, []);
});
