/**
 * Attack: a stored v5 object that is damaged (truncated; a comment whose numbers are off). Does
 * /repo fail (5xx / error) rather than send a 200 with bytes that are not the index?
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { INDEX_KEY } from '../../lib/registry/layout.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { add, contextOf, entry, newStore, readAllBytes } from './review9-helpers.ts';

async function outcome(context: ReturnType<typeof contextOf>, userAgent: string | undefined): Promise<string> {
  try {
    const reply = await serveRepository(context, { accept: undefined, acceptEncoding: 'gzip', userAgent, ifNoneMatch: undefined });
    if (reply.kind !== 'stream') return reply.kind;
    const body = await readAllBytes(reply.body);
    try { gunzipSync(body); return `200 with valid gzip (${reply.headers.etag})`; } catch (error) { return `200 with corrupt gzip: ${(error as Error).message}`; }
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

it('a truncated v5 object is never sent as a 200', async () => {
  const { store } = await newStore();
  for (const [i, m] of [undefined, '1.10', '2.1'].entries()) await add(store, entry(`pkg-${i}`, '4.0', i + 1, m, 500));
  const bytes = await readAllBytes((await store.get(INDEX_KEY)).body);
  const head = await store.head(INDEX_KEY);
  await store.put(INDEX_KEY, bytes.subarray(0, bytes.length - 300), { contentType: head!.contentType, contentEncoding: 'gzip', metadata: head!.metadata });
  const context = contextOf(store, { streamResponses: true });
  const all = await outcome(context, undefined);
  const older = await outcome(context, 'cosmos dcos/1.10.0');
  assert.ok(!all.startsWith('200 with corrupt') && !older.startsWith('200 with corrupt'), `whole view: ${all}; 1.10 view: ${older}`);
});

it('a comment whose view offset is off is never sent as a 200', async () => {
  const { store } = await newStore();
  for (const [i, m] of [undefined, '1.10', '2.1'].entries()) await add(store, entry(`pkg-${i}`, '4.0', i + 1, m, 500));
  const bytes = await readAllBytes((await store.get(INDEX_KEY)).body);
  const text = bytes.toString('latin1');
  const patched = text.replace(/;1\.10,(\d+),/, (_m, end) => `;1.10,${Number(end) - 7},`);
  assert.notEqual(patched, text);
  const head = await store.head(INDEX_KEY);
  await store.put(INDEX_KEY, Buffer.from(patched, 'latin1'), { contentType: head!.contentType, contentEncoding: 'gzip', metadata: head!.metadata });
  const older = await outcome(contextOf(store, { streamResponses: true }), 'cosmos dcos/1.10.0');
  assert.ok(!older.startsWith('200 with corrupt'), `1.10 view: ${older}`);
});
