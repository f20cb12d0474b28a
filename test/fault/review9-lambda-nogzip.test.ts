/**
 * Attack: Lambda mode (streamResponses=false). The inline-size check is made on the gzip size of
 * the view, but a client that takes no gzip is sent the decompressed document, gathered into one
 * Lambda result. A view whose gzip is under the limit but whose JSON is far above it is sent inline.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fromReply } from '../../lib/http/api-gateway.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { add, contextOf, entry, HOSTS, newStore } from './review9-helpers.ts';

it('a non-gzip client never gets an inline Lambda body above maxInlineResponseBytes', async () => {
  const { store } = await newStore();
  const limit = 8 * 1024;
  // Highly compressible: small gzip, large JSON.
  for (let i = 0; i < 5; i++) {
    const e = entry(`pkg${i}`, '4.0', i + 1);
    e.description = 'a'.repeat(20000);
    await add(store, e, { ...HOSTS, materializeViewsAbove: limit });
  }
  const context = contextOf(store, { maxInlineResponseBytes: limit, streamResponses: false });
  const reply = await serveRepository(context, { accept: undefined, acceptEncoding: undefined, userAgent: 'cosmos/0.6 dcos/2.1.0', ifNoneMatch: undefined });
  const result = await fromReply(reply, { stream: false });
  const bodyBytes = result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8').length : 0;
  const encodedBytes = result.body?.length ?? 0;
  assert.ok(result.statusCode === 307 || bodyBytes <= limit, `status ${result.statusCode}: a ${bodyBytes}-byte body (${encodedBytes} base64 chars) sent inline above the ${limit}-byte limit`);
});
