/**
 * The read cache is a store like any other: the conformance suite runs through it (every key
 * cacheable), and it never answers with bytes of a version that is no longer stored, even when
 * another process (another store over the same directory) replaced the object.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { withReadCache } from '../../lib/adapters/object-store/read-cache.ts';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { describeObjectStore } from './object-store-suite.ts';

describeObjectStore('filesystem behind the read cache', async () => withReadCache(new FsObjectStore(await temporaryDirectory('cached-store-')), { cacheable: () => true, maxBytes: 1024 * 1024 }), {
  presign: false,
  raceIterations: 200,
});

describe('read cache', () => {
  it('serves a version it read twice from memory, and the new version once another writer replaced it', async () => {
    const root = await temporaryDirectory('cached-store-');
    const elsewhere = new FsObjectStore(root);
    let bodyReads = 0;
    const counting = new FsObjectStore(root);
    const originalGet = counting.get.bind(counting);
    counting.get = async (...args) => {
      bodyReads++;
      return originalGet(...args);
    };
    const cached = withReadCache(counting, { cacheable: (key) => key === 'index/repo.json.gz', maxBytes: 1024 * 1024 });
    await elsewhere.put('index/repo.json.gz', Buffer.from('first'));
    const read = async (): Promise<string> => (await readAllBytes((await cached.get('index/repo.json.gz')).body)).toString();
    assert.equal(await read(), 'first');
    assert.equal(await read(), 'first');
    assert.equal(bodyReads, 2, 'kept from the second read of one version');
    assert.equal(await read(), 'first');
    assert.equal(bodyReads, 2, 'the third came from memory');
    await elsewhere.put('index/repo.json.gz', Buffer.from('second'));
    assert.equal(await read(), 'second', 'a version replaced behind its back is never served');
    await elsewhere.delete('index/repo.json.gz');
    await assert.rejects(cached.get('index/repo.json.gz'), /no object/);
  });

  it('serves an object larger than its bound (never kept) whole, read after read', async () => {
    const root = await temporaryDirectory('cached-store-');
    const cached = withReadCache(new FsObjectStore(root), { cacheable: () => true, maxBytes: 10 });
    await cached.put('big', Buffer.alloc(11, 1));
    for (let round = 0; round < 3; round++) assert.equal((await readAllBytes((await cached.get('big')).body)).length, 11);
  });
});
