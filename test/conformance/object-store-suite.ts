/**
 * The storage contract, run against every ObjectStore adapter. An adapter's test file is a few
 * lines that call describeObjectStore with a factory; a missing backend fails, never skips.
 * What only some test backends can do (inject faults, fake an interrupted write) comes in the
 * options; the cases needing it are registered only for the adapters that pass it.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  composeObject,
  copyStoredRange,
  InvalidKeyError,
  putInSegments,
  partBuffers,
  ObjectNotFoundError,
  ObjectStoreError,
  PreconditionFailedError,
  readAllBytes,
  type ComposedPart,
  type ObjectStore,
  type SegmentChunk,
} from '../../lib/ports/object-store.ts';
import { seededRandom } from '../helpers/seeded-random.ts';
import type { FaultSpec } from '../helpers/local-aws/local-s3.ts';

export interface StoreFactory {
  /** A store whose keys are isolated from every other test's. */
  (): Promise<ObjectStore>;
}

/** Makes the backend answer errors (S3 status and code) to the next matching requests. */
export interface FaultInjector {
  inject(spec: FaultSpec): Promise<void>;
  clear(): Promise<void>;
  /** Matching requests still to be answered with an error, over every injected fault. */
  remaining(): Promise<number>;
}

export interface ConformanceOptions {
  readonly presign: boolean;
  /** Iterations of the concurrent put and delete in one directory. */
  readonly raceIterations: number;
  readonly faults?: FaultInjector;
  /**
   * Why the server under test cannot be held to byte order of keys across folders, if it cannot
   * (the test is then reported skipped with this reason, never passed): S3 and MinIO list in
   * UTF-8 byte order; s3rver, the local S3 server, lists in its directory walk's order.
   */
  readonly unorderedAcrossFolders?: string;
  /** Leaves behind what a write killed midway leaves, as of now (fs: a temporary file; S3: an upload never completed). */
  readonly abandonWrite?: (store: ObjectStore, key: string, body: Uint8Array) => Promise<void>;
  /** The same, as if the write had been killed `ageMs` ago, where the backend lets a test backdate it. */
  readonly abandonOldWrite?: (store: ObjectStore, key: string, body: Uint8Array, ageMs: number) => Promise<void>;
}

const HOUR_MS = 60 * 60 * 1000;

const text = (value: string): Buffer => Buffer.from(value, 'utf8');

/** `length` bytes, the same for the same seed: content a test can tell apart from other content. */
function randomBytesOf(seed: number, length: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

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

async function withFaults<T>(faults: FaultInjector, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    await faults.clear();
  }
}

const isTransientStoreError = (error: unknown): boolean => {
  assert.ok(error instanceof ObjectStoreError, String(error));
  assert.ok(!(error instanceof PreconditionFailedError), `a conflict is not a failed condition: ${String(error)}`);
  return true;
};

export function describeObjectStore(adapter: string, makeStore: StoreFactory, options: ConformanceOptions): void {
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

    // Composition goes through composeObject, as the registry writes: a store with compose()
    // composes, one without is handed the bytes. The contract is the same for both.
    it('composes an object of written bytes and stored ranges: their concatenation, independent of its sources afterwards', async () => {
      const store = await makeStore();
      const first = randomBytesOf(1, 300_000);
      const second = randomBytesOf(2, 200_000);
      const a = await store.put('compose/a', first);
      const b = await store.put('compose/b', second);
      const parts: ComposedPart[] = [
        { bytes: first.subarray(1000, 90_000), storedAt: { key: 'compose/a', etag: a.etag, offset: 1000 } },
        { bytes: text('written in between') },
        // Several buffers as one part, the way a run of index entries is handed over.
        { bytes: [second.subarray(500, 700), second.subarray(700, 701), second.subarray(701)], storedAt: { key: 'compose/b', etag: b.etag, offset: 500 } },
        { bytes: first.subarray(0, 10), storedAt: { key: 'compose/a', etag: a.etag, offset: 0 } },
        { bytes: new Uint8Array(0) },
        { bytes: first.subarray(90_000, 300_000), storedAt: { key: 'compose/a', etag: a.etag, offset: 90_000 } },
      ];
      const expected = Buffer.concat(parts.flatMap(partBuffers));
      const composed = await composeObject(store, 'compose/c', parts, { contentType: 'application/x-test', contentEncoding: 'gzip', metadata: { Generation: '7' } });
      const object = await store.get('compose/c');
      assert.equal(object.etag, composed.etag);
      assert.equal(object.size, expected.length);
      assert.equal(object.contentType, 'application/x-test');
      assert.equal(object.contentEncoding, 'gzip');
      assert.deepEqual(object.metadata, { generation: '7' });
      assert.ok((await readAllBytes(object.body)).equals(expected));
      // Ranges across the parts' seams.
      for (const [start, end] of [[88_990, 89_030], [89_000, 89_000 + 18 + 5], [0, expected.length - 1], [expected.length - 3, expected.length - 1]] as const) {
        const ranged = await readAllBytes((await store.get('compose/c', { range: { start, end } })).body);
        assert.ok(ranged.equals(expected.subarray(start, end + 1)), `range ${start}-${end}`);
      }
      await store.put('compose/a', text('replaced'));
      await store.delete('compose/b');
      assert.ok((await readAllBytes((await store.get('compose/c')).body)).equals(expected), 'the sources changed, the composed object did not');
      assert.deepEqual((await store.list('compose/')).objects.map((info) => info.key), ['compose/a', 'compose/c']);
    });

    it('takes the bytes given where the stored location names a version that is gone', async () => {
      const store = await makeStore();
      const old = randomBytesOf(3, 50_000);
      const { etag } = await store.put('stale/source', old);
      await store.put('stale/source', randomBytesOf(4, 50_000));
      await composeObject(store, 'stale/target', [{ bytes: old.subarray(100, 40_000), storedAt: { key: 'stale/source', etag, offset: 100 } }]);
      assert.ok((await readAllBytes((await store.get('stale/target')).body)).equals(old.subarray(100, 40_000)));
      await composeObject(store, 'stale/missing', [{ bytes: text('kept'), storedAt: { key: 'stale/never-written', etag: '"x"', offset: 0 } }]);
      assert.equal((await readAllBytes((await store.get('stale/missing')).body)).toString(), 'kept');
    });

    it('composes over its own source under If-Match, and a stale condition fails changing nothing', async () => {
      const store = await makeStore();
      const start = randomBytesOf(5, 100_000);
      const { etag } = await store.put('self', start);
      const next = Buffer.concat([start.subarray(0, 50_000), text('inserted'), start.subarray(50_000)]);
      const parts = (source: string): ComposedPart[] => [
        { bytes: start.subarray(0, 50_000), storedAt: { key: 'self', etag: source, offset: 0 } },
        { bytes: text('inserted') },
        { bytes: start.subarray(50_000), storedAt: { key: 'self', etag: source, offset: 50_000 } },
      ];
      const composed = await composeObject(store, 'self', parts(etag), { ifMatch: etag });
      assert.ok((await readAllBytes((await store.get('self')).body)).equals(next));
      await assert.rejects(composeObject(store, 'self', parts(etag), { ifMatch: etag }), PreconditionFailedError);
      await assert.rejects(composeObject(store, 'self', [{ bytes: text('other') }], { ifNoneMatch: '*' }), PreconditionFailedError);
      const after = await store.get('self');
      assert.equal(after.etag, composed.etag);
      assert.ok((await readAllBytes(after.body)).equals(next), 'a failed condition changed nothing');
      await assert.rejects(composeObject(store, 'fresh', [{ bytes: text('x') }], { ifMatch: '"nothing"' }), PreconditionFailedError);
      assert.equal(await store.head('fresh'), undefined);
    });

    it('keeps a chain of 120 compositions, each inserting into the last, byte for byte', async () => {
      const store = await makeStore();
      const random = seededRandom(9);
      let model: Buffer = randomBytesOf(6, 20_000);
      let { etag } = await store.put('chain', model);
      for (let round = 0; round < 120; round++) {
        // Cut the current bytes at a few points; keep the pieces from storage, insert new ones, drop some.
        const cuts = [0, ...Array.from({ length: 3 }, () => Math.floor(random() * model.length)).sort((x, y) => x - y), model.length];
        const parts: ComposedPart[] = [];
        for (let index = 0; index + 1 < cuts.length; index++) {
          const [from, to] = [cuts[index]!, cuts[index + 1]!];
          if (random() < 0.15) continue;
          parts.push({ bytes: model.subarray(from, to), storedAt: { key: 'chain', etag, offset: from } });
          if (random() < 0.5) parts.push({ bytes: randomBytesOf(1000 + round * 10 + index, 1 + Math.floor(random() * 3000)) });
        }
        const next = Buffer.concat(parts.flatMap(partBuffers));
        etag = (await composeObject(store, 'chain', parts, { ifMatch: etag })).etag;
        model = next;
        if (round % 20 === 19) assert.ok((await readAllBytes((await store.get('chain')).body)).equals(model), `round ${round}`);
      }
      assert.ok((await readAllBytes((await store.get('chain')).body)).equals(model));
      assert.equal((await store.head('chain'))?.size, model.length);
    });

    // Segmented writes and range copies go through putInSegments and copyStoredRange, as ingest
    // writes: a store with putSegments/copyRange does them itself, one without is handed the bytes.
    it('writes a body in segments as exactly its bytes, and copies ranges of it that outlive it', async () => {
      const store = await makeStore();
      const pieces = [randomBytesOf(21, 3000), randomBytesOf(22, 2 * 1024 * 1024 + 17), randomBytesOf(23, 5000), randomBytesOf(24, 1024 * 1024), randomBytesOf(25, 1)];
      async function* segmented(): AsyncGenerator<SegmentChunk> {
        // Segments 1 and 3 apart, 3 directly after 2 and split over chunks of odd sizes.
        for (const [segment, bytes] of pieces.entries()) {
          for (let offset = 0; offset < bytes.length; offset += 65_537) yield { bytes: bytes.subarray(offset, offset + 65_537), segment, apart: segment % 2 === 1 };
        }
      }
      const whole = Buffer.concat(pieces);
      const written = await putInSegments(store, 'segments/bundle', segmented(), { contentType: 'application/zip', metadata: { kind: 'bundle' } });
      const head = await store.head('segments/bundle');
      assert.equal(head?.etag, written.etag);
      assert.equal(head?.size, whole.length);
      assert.equal(head?.contentType, 'application/zip');
      assert.deepEqual(head?.metadata, { kind: 'bundle' });
      assert.ok((await readAllBytes((await store.get('segments/bundle')).body)).equals(whole));
      const across = await readAllBytes((await store.get('segments/bundle', { range: { start: 2990, end: 2990 + 2 * 1024 * 1024 + 100 } })).body);
      assert.ok(across.equals(whole.subarray(2990, 2990 + 2 * 1024 * 1024 + 101)), 'a range across segments');
      // A segment exactly, a range across three, and the empty range.
      const member = { key: 'segments/bundle', etag: written.etag, offset: 3000, length: pieces[1]!.length };
      const spanning = { key: 'segments/bundle', etag: written.etag, offset: 100, length: whole.length - 101 };
      const copied = await copyStoredRange(store, 'segments/member', member, { contentType: 'application/octet-stream', ifNoneMatch: '*' });
      assert.ok(copied);
      assert.ok(await copyStoredRange(store, 'segments/spanning', spanning));
      assert.ok(await copyStoredRange(store, 'segments/empty', { ...member, length: 0 }));
      assert.equal((await store.head('segments/member'))?.etag, copied.etag);
      assert.equal((await store.head('segments/member'))?.contentType, 'application/octet-stream');
      await assert.rejects(copyStoredRange(store, 'segments/member', member, { ifNoneMatch: '*' }), PreconditionFailedError);
      await store.delete('segments/bundle');
      assert.ok((await readAllBytes((await store.get('segments/member')).body)).equals(pieces[1]!), 'the copy outlives its source');
      assert.ok((await readAllBytes((await store.get('segments/member', { range: { start: 5, end: 9 } })).body)).equals(pieces[1]!.subarray(5, 10)));
      assert.ok((await readAllBytes((await store.get('segments/spanning')).body)).equals(whole.subarray(100, whole.length - 1)));
      assert.equal((await store.head('segments/empty'))?.size, 0);
      assert.deepEqual(await listAll(store, 'segments/'), ['segments/empty', 'segments/member', 'segments/spanning']);
    });

    it('copies no range of a version that is gone or outside it, writing nothing; a cut segmented body writes nothing', async () => {
      const store = await makeStore();
      const bytes = randomBytesOf(31, 200_000);
      const { etag } = await store.put('ranges/source', bytes);
      assert.equal(await copyStoredRange(store, 'ranges/outside', { key: 'ranges/source', etag, offset: 100_000, length: 100_001 }), undefined);
      assert.equal(await copyStoredRange(store, 'ranges/never', { key: 'ranges/never-written', etag, offset: 0, length: 1 }), undefined);
      await store.put('ranges/source', text('replaced'));
      assert.equal(await copyStoredRange(store, 'ranges/stale', { key: 'ranges/source', etag, offset: 0, length: 10 }), undefined);
      async function* cut(): AsyncGenerator<SegmentChunk> {
        yield { bytes: bytes.subarray(0, 1000), segment: 0, apart: false };
        yield { bytes: bytes.subarray(1000, 150_000), segment: 1, apart: true };
        throw new Error('the client went away');
      }
      await assert.rejects(putInSegments(store, 'ranges/cut', cut()), /went away/);
      assert.deepEqual(await listAll(store, 'ranges/'), ['ranges/source']);
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

    it('lists in the order of the keys as strings, whatever characters sort before the slash, page by page of every size', async (context) => {
      if (options.unorderedAcrossFolders) return context.skip(options.unorderedAcrossFolders);
      const store = await makeStore();
      // Space, '(', '+', ',', '-' and '.' sort before '/': a directory named 'a' must not put its
      // keys before the key 'a-b', nor 'a b/x' after 'a/x'. (No key that is also a folder of
      // others: s3rver, the local S3 server, stores objects as files and cannot hold both.)
      const keys = ['order/a/x', 'order/a b/x', 'order/a-b', 'order/a.c/y', 'order/a/x y', 'order/a(1)', 'order/a+/z', 'order/a,b', 'order/b/c/d', 'order/A'];
      for (const key of keys) await store.put(key, text(key));
      const sorted = [...keys].sort();
      for (const limit of [1, 2, 3, 5, 1000]) assert.deepEqual(await listAll(store, 'order/', limit), sorted, `pages of ${limit}`);
      assert.deepEqual(await listAll(store, 'order/a', 2), sorted.filter((key) => key.startsWith('order/a')));
      assert.deepEqual(await listAll(store, 'order/b/', 1), ['order/b/c/d']);
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

    it(`keeps puts working while deletes prune their directory (${options.raceIterations} rounds)`, async () => {
      const store = await makeStore();
      const rounds = options.raceIterations;
      const key = (index: number): string => `race/dir/sub/a${index}`;
      // Two loops. The putter puts objects one by one into one directory, reads each back and hands
      // it to the deleter, and puts the next once that one is deleted: each put starts with its
      // directories pruned. The deleter runs flat out: it deletes the object handed to it (the only
      // one in the directory, so the directories are pruned), and otherwise a key never written in
      // that directory, whose prune races the put making the directories again and creating its
      // temporary file.
      let handed: number | undefined;
      let deleted: (() => void) | undefined;
      let putterDone = false;
      const failedPuts: string[] = [];
      const misreads: string[] = [];
      const putter = (async () => {
        try {
          for (let index = 0; index < rounds; index++) {
            try {
              await store.put(key(index), text(key(index)));
              const content = (await readAllBytes((await store.get(key(index))).body)).toString();
              if (content !== key(index)) misreads.push(`${key(index)}: ${content}`);
            } catch (error) {
              failedPuts.push(`${key(index)}: ${String(error)}`);
            }
            // The last one stays, to be read back at the end.
            if (index === rounds - 1) break;
            await new Promise<void>((resolve) => {
              deleted = resolve;
              handed = index;
            });
          }
        } finally {
          putterDone = true;
        }
      })();
      const deleter = (async () => {
        let deletes = 0;
        while (!putterDone) {
          const index = handed;
          handed = undefined;
          await store.delete(index === undefined ? 'race/dir/sub/never-written' : key(index));
          if (index !== undefined) {
            deletes++;
            deleted?.();
          }
        }
        return deletes;
      })();
      const [, deletes] = await Promise.all([putter, deleter]);
      assert.deepEqual(failedPuts.slice(0, 5), [], `${failedPuts.length} of ${rounds} puts failed`);
      assert.deepEqual(misreads.slice(0, 5), []);
      assert.equal(deletes, rounds - 1);
      const last = key(rounds - 1);
      assert.deepEqual(await listAll(store, 'race/'), [last], 'the object not deleted, alone');
      assert.equal((await readAllBytes((await store.get(last)).body)).toString(), last);
    });

    it('leaves nothing behind when a put\'s body fails midway', async (context) => {
      const store = await makeStore();
      // Past one S3 part, so a multipart upload is under way when the body fails.
      async function* failing(): AsyncGenerator<Uint8Array> {
        for (let index = 0; index < 17; index++) yield Buffer.alloc(1024 * 1024, index);
        throw new Error('the body broke');
      }
      await assert.rejects(store.put('broken/body.bin', failing(), { contentType: 'application/octet-stream' }), /the body broke/);
      assert.equal(await store.head('broken/body.bin'), undefined);
      assert.deepEqual(await listAll(store, ''), []);
      if (!store.sweepAbandonedWrites) {
        context.diagnostic(`${adapter} has no sweep of abandoned writes`);
        return;
      }
      assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: 0, bytes: 0 }, 'the failed put cleaned up after itself');
    });

    const { abandonWrite, abandonOldWrite, faults } = options;
    if (abandonWrite) {
      it('sweeps an interrupted write once older than the age, keeping fresh ones and objects', async () => {
        const store = await makeStore();
        assert.ok(store.sweepAbandonedWrites, `${adapter} can leave writes behind, so it must sweep them`);
        await store.put('sweep/live', text('live'));
        await abandonWrite(store, 'sweep/abandoned.bin', Buffer.alloc(1000, 7));
        assert.deepEqual(await store.sweepAbandonedWrites(HOUR_MS), { removed: 0, bytes: 0 }, 'a fresh one is kept');
        assert.equal(await store.head('sweep/abandoned.bin'), undefined, 'an interrupted write is invisible');
        assert.deepEqual(await listAll(store, ''), ['sweep/live']);
        assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: 1, bytes: 1000 });
        assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: 0, bytes: 0 }, 'removed for good');
        assert.equal((await readAllBytes((await store.get('sweep/live')).body)).toString(), 'live');
      });
    }

    if (abandonOldWrite) {
      it('sweeps a write killed long ago, leaving nothing behind', async () => {
        const store = await makeStore();
        assert.ok(store.sweepAbandonedWrites);
        await abandonOldWrite(store, 'killed/deep/write.bin', Buffer.alloc(1000, 9), 2 * HOUR_MS);
        await abandonWrite?.(store, 'killed/deep/fresh.bin', Buffer.alloc(10, 1));
        assert.deepEqual(await store.sweepAbandonedWrites(HOUR_MS), { removed: 1, bytes: 1000 }, 'the old one only');
        assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: abandonWrite ? 1 : 0, bytes: abandonWrite ? 10 : 0 });
        assert.deepEqual(await listAll(store, ''), []);
      });
    }

    if (faults) {
      const faultKey = (name: string): string => `faults/${randomUUID()}/${name}`;

      it('retries a 409 ConditionalRequestConflict on a create-only put, keeping one winner', async () => {
        const store = await makeStore();
        await withFaults(faults, async () => {
          const key = faultKey('create');
          await faults.inject({ method: 'PUT', keyContains: key, status: 409, code: 'ConditionalRequestConflict', times: 1 });
          await store.put(key, text('first'), { ifNoneMatch: '*' });
          assert.equal(await faults.remaining(), 0, 'the conflict was answered');
          assert.equal((await readAllBytes((await store.get(key)).body)).toString(), 'first');
          await assert.rejects(store.put(key, text('second'), { ifNoneMatch: '*' }), PreconditionFailedError);

          const raced = faultKey('race');
          await faults.inject({ method: 'PUT', keyContains: raced, status: 409, code: 'ConditionalRequestConflict', times: 2 });
          const results = await Promise.allSettled(
            Array.from({ length: 10 }, (_, index) => store.put(raced, text(`writer ${index}`), { ifNoneMatch: '*' })),
          );
          assert.equal(await faults.remaining(), 0);
          const winners = results.filter((result) => result.status === 'fulfilled');
          assert.equal(winners.length, 1);
          for (const result of results) {
            if (result.status === 'rejected') assert.ok(result.reason instanceof PreconditionFailedError, String(result.reason));
          }
          assert.equal((await store.head(raced))?.etag, (winners[0] as PromiseFulfilledResult<{ etag: string }>).value.etag);
        });
      });

      it('reports a conflict outlasting the retries as a transient ObjectStoreError, writing nothing', async () => {
        const store = await makeStore();
        await withFaults(faults, async () => {
          const key = faultKey('conflicted');
          await faults.inject({ method: 'PUT', keyContains: key, status: 409, code: 'ConditionalRequestConflict', times: 100 });
          await assert.rejects(store.put(key, text('never'), { ifNoneMatch: '*' }), isTransientStoreError);
          assert.ok((await faults.remaining()) < 99, 'the conflict was retried');
          await faults.clear();
          assert.equal(await store.head(key), undefined);

          const { etag } = await store.put(key, text('base'));
          await faults.inject({ method: 'PUT', keyContains: key, status: 409, code: 'ConditionalRequestConflict', times: 100 });
          await assert.rejects(store.put(key, text('replaced'), { ifMatch: etag }), isTransientStoreError);
          await faults.clear();
          assert.equal((await readAllBytes((await store.get(key)).body)).toString(), 'base');
        });
      });

      it('retries a 409 on completing a create-only put in parts, and aborts the upload when it persists', async () => {
        const store = await makeStore();
        const bytes = Buffer.alloc(17 * 1024 * 1024, 5);
        await withFaults(faults, async () => {
          const key = faultKey('parts');
          // POST with uploadId: CompleteMultipartUpload (starting one is POST ?uploads).
          await faults.inject({ method: 'POST', query: 'uploadId', keyContains: key, status: 409, code: 'ConditionalRequestConflict', times: 1 });
          await store.put(key, chunked(bytes, 1024 * 1024), { ifNoneMatch: '*' });
          assert.equal(await faults.remaining(), 0);
          assert.equal((await store.head(key))?.size, bytes.length);

          const conflicted = faultKey('parts-conflicted');
          await faults.inject({ method: 'POST', query: 'uploadId', keyContains: conflicted, status: 409, code: 'ConditionalRequestConflict', times: 100 });
          await assert.rejects(store.put(conflicted, chunked(bytes, 1024 * 1024), { ifNoneMatch: '*' }), isTransientStoreError);
          assert.ok((await faults.remaining()) < 99, 'the completion was retried');
          await faults.clear();
          assert.equal(await store.head(conflicted), undefined);
          if (store.sweepAbandonedWrites) assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: 0, bytes: 0 }, 'the upload was aborted');
        });
      });

      it('rides out 503 SlowDown and 500 InternalError answered once (the SDK retries them)', async () => {
        const store = await makeStore();
        await withFaults(faults, async () => {
          const key = faultKey('busy');
          await faults.inject({ method: 'PUT', keyContains: key, status: 503, code: 'SlowDown', times: 1 });
          await store.put(key, text('through'), { ifNoneMatch: '*' });
          assert.equal(await faults.remaining(), 0);
          await faults.inject({ method: 'GET', keyContains: key, status: 503, code: 'SlowDown', times: 1 });
          assert.equal((await readAllBytes((await store.get(key)).body)).toString(), 'through');
          assert.equal(await faults.remaining(), 0);
          await faults.inject({ method: 'HEAD', keyContains: key, status: 500, code: 'InternalError', times: 1 });
          assert.equal((await store.head(key))?.size, 'through'.length);
          assert.equal(await faults.remaining(), 0);
        });
      });

      it('still reports 412 PreconditionFailed as PreconditionFailedError, without retrying', async () => {
        const store = await makeStore();
        await withFaults(faults, async () => {
          const key = faultKey('failed-condition');
          await faults.inject({ method: 'PUT', keyContains: key, status: 412, code: 'PreconditionFailed', times: 2 });
          await assert.rejects(store.put(key, text('x'), { ifNoneMatch: '*' }), PreconditionFailedError);
          assert.equal(await faults.remaining(), 1, 'answered once, not retried');
          await faults.clear();
          assert.equal(await store.head(key), undefined);
        });
      });

      it('copies no range whose source changes during the copy (412 on a part), leaving no object and no upload', async () => {
        const store = await makeStore();
        await withFaults(faults, async () => {
          const source = faultKey('copy-source');
          const bytes = randomBytesOf(41, 300_000);
          const { etag } = await store.put(source, bytes);
          const target = faultKey('copy-target');
          // What S3 answers a part copy held to an ETag the source no longer has.
          await faults.inject({ method: 'PUT', keyContains: target, query: 'uploadId', status: 412, code: 'PreconditionFailed', times: 1 });
          assert.equal(await copyStoredRange(store, target, { key: source, etag, offset: 10, length: 200_000 }), undefined);
          assert.equal(await faults.remaining(), 0, 'the copy reached the store');
          assert.equal(await store.head(target), undefined);
          if (store.sweepAbandonedWrites) assert.equal((await store.sweepAbandonedWrites(0)).removed, 0, 'the upload was aborted, not left');
          assert.ok(await copyStoredRange(store, target, { key: source, etag, offset: 10, length: 200_000 }), 'once it holds, the copy is made');
          assert.ok((await readAllBytes((await store.get(target)).body)).equals(bytes.subarray(10, 200_010)));
        });
      });
    }

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
