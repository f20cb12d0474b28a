/**
 * The storage contract, run against every ObjectStore adapter. An adapter's test file is a few
 * lines that call describeObjectStore with a factory; a missing backend fails, never skips.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  InvalidKeyError,
  ObjectNotFoundError,
  PreconditionFailedError,
  readAllBytes,
  type ObjectStore,
} from '../../lib/ports/object-store.ts';

export interface StoreFactory {
  /** A store whose keys are isolated from every other test's. */
  (): Promise<ObjectStore>;
}

const text = (value: string): Buffer => Buffer.from(value, 'utf8');

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function listAll(store: ObjectStore, prefix: string, limit?: number): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.list(prefix, { ...(token ? { token } : {}), ...(limit ? { limit } : {}) });
    keys.push(...page.objects.map((object) => object.key));
    token = page.nextToken;
  } while (token);
  return keys;
}

export function describeObjectStore(adapter: string, makeStore: StoreFactory, options: { presign: boolean }): void {
  describe(`ObjectStore conformance: ${adapter}`, () => {
    it('round-trips content, content type, encoding and metadata', async () => {
      const store = await makeStore();
      const { etag } = await store.put('docs/a.json', text('{"a":1}'), {
        contentType: 'application/json',
        contentEncoding: 'gzip',
        metadata: { entries: '3' },
      });
      const object = await store.get('docs/a.json');
      assert.equal((await readAllBytes(object.body)).toString(), '{"a":1}');
      assert.equal(object.etag, etag);
      assert.equal(object.size, 7);
      const head = await store.head('docs/a.json');
      assert.equal(head?.etag, etag);
      assert.equal(head?.contentType, 'application/json');
      assert.equal(head?.contentEncoding, 'gzip');
      assert.deepEqual(head?.metadata, { entries: '3' });
      // Written just now (S3 keeps seconds; the clocks may differ by a little).
      assert.ok(Math.abs((head?.lastModified.getTime() ?? 0) - Date.now()) < 60_000, String(head?.lastModified));
      const listed = (await store.list('docs/')).objects[0];
      assert.ok(Math.abs((listed?.lastModified.getTime() ?? 0) - Date.now()) < 60_000);
    });

    it('reports a missing object as ObjectNotFoundError naming the adapter, and head as undefined', async () => {
      const store = await makeStore();
      assert.equal(await store.head('missing/thing'), undefined);
      await assert.rejects(store.get('missing/thing'), (error: unknown) => {
        assert.ok(error instanceof ObjectNotFoundError);
        assert.match(error.message, new RegExp(`^${store.name}: `));
        return true;
      });
    });

    it('streams a large body of unknown length (17 MiB) and reads byte ranges', async () => {
      const store = await makeStore();
      const bytes = Buffer.alloc(17 * 1024 * 1024 + 3);
      for (let index = 0; index + 4 <= bytes.length; index += 4096) bytes.writeUInt32LE(index, index);
      await store.put('big/blob', chunked(bytes, 64 * 1024), { contentType: 'application/octet-stream' });
      const whole = await readAllBytes((await store.get('big/blob')).body);
      assert.equal(createHash('sha256').update(whole).digest('hex'), createHash('sha256').update(bytes).digest('hex'));
      const ranged = await store.get('big/blob', { range: { start: 4096 * 3, end: 4096 * 3 + 99 } });
      assert.equal(ranged.size, bytes.length, 'size is the whole object, also for a range');
      assert.deepEqual(await readAllBytes(ranged.body), bytes.subarray(4096 * 3, 4096 * 3 + 100));
      const tail = await readAllBytes((await store.get('big/blob', { range: { start: bytes.length - 5, end: bytes.length - 1 } })).body);
      assert.deepEqual(tail, bytes.subarray(bytes.length - 5));
    });

    it('stores empty objects', async () => {
      const store = await makeStore();
      await store.put('empty', new Uint8Array(0));
      const object = await store.get('empty');
      assert.equal(object.size, 0);
      assert.equal((await readAllBytes(object.body)).length, 0);
    });

    it('changes the ETag when the content changes', async () => {
      const store = await makeStore();
      const first = await store.put('k', text('one'));
      const second = await store.put('k', text('two'));
      assert.notEqual(first.etag, second.etag);
      assert.equal((await store.head('k'))?.etag, second.etag);
    });

    it('creates with If-None-Match: * only when absent, leaving the existing object untouched', async () => {
      const store = await makeStore();
      await store.put('once', text('first'), { ifNoneMatch: '*' });
      await assert.rejects(store.put('once', text('second'), { ifNoneMatch: '*' }), PreconditionFailedError);
      assert.equal((await readAllBytes((await store.get('once')).body)).toString(), 'first');
    });

    it('replaces with If-Match only the version it names', async () => {
      const store = await makeStore();
      const { etag } = await store.put('cas', text('v1'));
      const next = await store.put('cas', text('v2'), { ifMatch: etag });
      await assert.rejects(store.put('cas', text('v3'), { ifMatch: etag }), PreconditionFailedError);
      assert.equal((await readAllBytes((await store.get('cas')).body)).toString(), 'v2');
      await store.put('cas', text('v3'), { ifMatch: next.etag });
      await assert.rejects(store.put('never-written', text('x'), { ifMatch: etag }), PreconditionFailedError);
      assert.equal(await store.head('never-written'), undefined);
    });

    it('lets exactly one of 10 concurrent creators win', async () => {
      const store = await makeStore();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) => store.put('race/create', text(`writer ${index}`), { ifNoneMatch: '*' })),
      );
      const winners = results.filter((result) => result.status === 'fulfilled');
      assert.equal(winners.length, 1);
      for (const result of results) {
        if (result.status === 'rejected') assert.ok(result.reason instanceof PreconditionFailedError, String(result.reason));
      }
      const content = (await readAllBytes((await store.get('race/create')).body)).toString();
      assert.equal((await store.head('race/create'))?.etag, (winners[0] as PromiseFulfilledResult<{ etag: string }>).value.etag, content);
    });

    it('lets exactly one of 10 concurrent compare-and-swaps on one version win', async () => {
      const store = await makeStore();
      const { etag } = await store.put('race/cas', text('base'));
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) => store.put('race/cas', text(`writer ${index}`), { ifMatch: etag })),
      );
      assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
      assert.equal(results.filter((result) => result.status === 'rejected' && result.reason instanceof PreconditionFailedError).length, 9);
    });

    it('deletes idempotently', async () => {
      const store = await makeStore();
      await store.put('gone', text('x'));
      await store.delete('gone');
      await store.delete('gone');
      await store.delete('never/existed');
      assert.equal(await store.head('gone'), undefined);
    });

    it('lists by prefix in key order, page by page, without neighbouring prefixes', async () => {
      const store = await makeStore();
      const keys = ['list/a/1', 'list/a/2', 'list/a/3', 'list/ab/1', 'list/b/1', 'list/a/sub/deeper'];
      for (const key of keys) await store.put(key, text(key));
      assert.deepEqual(await listAll(store, 'list/a/'), ['list/a/1', 'list/a/2', 'list/a/3', 'list/a/sub/deeper']);
      assert.deepEqual(await listAll(store, 'list/a/', 2), ['list/a/1', 'list/a/2', 'list/a/3', 'list/a/sub/deeper']);
      assert.deepEqual(await listAll(store, 'list/a'), ['list/a/1', 'list/a/2', 'list/a/3', 'list/a/sub/deeper', 'list/ab/1']);
      const page = await store.list('list/', { limit: 1 });
      assert.equal(page.objects.length, 1);
      assert.equal(page.objects[0]?.size, 'list/a/1'.length);
      assert.ok(page.nextToken);
      assert.deepEqual(await listAll(store, 'nothing-here/'), []);
    });

    it('refuses keys that could escape or are malformed, with InvalidKeyError', async () => {
      const store = await makeStore();
      for (const key of ['../escape', 'a/../../b', '/absolute', 'a//b', 'back\\slash', 'per%cent', 'quest?ion', 'new\nline', '', 'a/./b']) {
        await assert.rejects(store.put(key, text('x')), InvalidKeyError, key);
        await assert.rejects(store.get(key), InvalidKeyError, key);
      }
      await assert.rejects(store.list('../'), InvalidKeyError);
    });

    it('leaves nothing behind once every object is deleted', async () => {
      const store = await makeStore();
      for (const key of ['x/1', 'x/y/2', 'z']) await store.put(key, text(key));
      for (const key of await listAll(store, '')) await store.delete(key);
      assert.deepEqual(await listAll(store, ''), []);
    });

    it('assembles an upload in parts through presigned part URLs, where the store offers it', async (context) => {
      const store = await makeStore();
      if (!store.multipart) {
        context.diagnostic(`${adapter} takes bundles in one PUT; no parts to test`);
        assert.equal(await store.head('parts/whole.bin'), undefined);
        return;
      }
      const first = Buffer.alloc(5 * 1024 * 1024, 1);
      const second = text('the last part may be small');
      const uploadId = await store.multipart.start('parts/whole.bin', { contentType: 'application/zip' });
      const etags: string[] = [];
      for (const [index, body] of [first, second].entries()) {
        const url = await store.multipart.presignPart('parts/whole.bin', uploadId, index + 1, 300);
        const response = await fetch(url, { method: 'PUT', body });
        assert.equal(response.status, 200, await response.text());
        etags.push(response.headers.get('etag') ?? '');
      }
      assert.equal(await store.head('parts/whole.bin'), undefined, 'nothing is visible before completion');
      await store.multipart.complete('parts/whole.bin', uploadId, etags.map((etag, index) => ({ partNumber: index + 1, etag })));
      const whole = await readAllBytes((await store.get('parts/whole.bin')).body);
      assert.deepEqual(whole, Buffer.concat([first, second]));
    });

    if (options.presign) {
      it('presigns GET and PUT URLs that work without credentials', async () => {
        const store = await makeStore();
        await store.put('signed/file.bin', text('signed content'), { contentType: 'application/octet-stream' });
        const getUrl = await store.presign('GET', 'signed/file.bin', { expiresIn: 300 });
        assert.ok(getUrl);
        const response = await fetch(getUrl);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), 'signed content');
        const putUrl = await store.presign('PUT', 'signed/upload.bin', { expiresIn: 300 });
        assert.ok(putUrl);
        const put = await fetch(putUrl, { method: 'PUT', body: 'uploaded through a URL' });
        assert.equal(put.status, 200, await put.text());
        assert.equal((await readAllBytes((await store.get('signed/upload.bin')).body)).toString(), 'uploaded through a URL');
      });
    }
  });
}
