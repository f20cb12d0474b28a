/**
 * Attack on the directory store's batched put (BatchedWriter, fs-object-store.ts): small chunks
 * are batched into megabyte writes. Every shape of body must read back byte for byte; a body that
 * fails midway leaves nothing (no object, no temporary file, the previous version intact). A body
 * that hands out the same buffer again, refilled, must be stored as it was handed out (the port
 * says nothing of a chunk's lifetime: the review found a version that held chunks until a writev
 * storing the refilled bytes; small chunks are now copied, large ones written before the next).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { freshStore } from './review11-helpers.ts';

async function* chunksOf(parts: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

async function filesUnder(directory: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) if (entry.isFile()) found.push(join(entry.parentPath ?? entry.path, entry.name));
  return found;
}

describe('directory store put: bodies of every shape', () => {
  const shapes: [string, () => Uint8Array[]][] = [
    ['ten thousand one-byte chunks', () => Array.from({ length: 10_000 }, (_, index) => Buffer.from([index & 255]))],
    ['1025 chunks of 3 bytes (past the 1024 buffers of one writev)', () => Array.from({ length: 1025 }, (_, index) => Buffer.from([index & 255, (index >> 8) & 255, 7]))],
    ['3000 chunks of 1000 bytes (several writevs by count and by size)', () => Array.from({ length: 3000 }, () => randomBytes(1000))],
    ['zero-length chunks first, between and last', () => [Buffer.alloc(0), randomBytes(10), new Uint8Array(0), randomBytes(70_000), Buffer.alloc(0)]],
    ['only zero-length chunks', () => [Buffer.alloc(0), new Uint8Array(0)]],
    [
      'views into one shared ArrayBuffer at odd offsets, overlapping and out of order',
      () => {
        const shared = new Uint8Array(randomBytes(3 * 1024 * 1024 + 13)).buffer;
        const views: Uint8Array[] = [];
        for (let offset = 1; offset + 4099 < shared.byteLength; offset += 4093) views.push(new Uint8Array(shared, offset, 4099));
        views.push(new Uint8Array(shared, 7, 1), Buffer.from(shared, 3, 1 << 20), new Uint8Array(shared, 0, 0));
        return views.reverse();
      },
    ],
    ['one chunk just under, at and over a MiB, then tiny', () => [randomBytes((1 << 20) - 1), randomBytes(1), randomBytes(1 << 20), randomBytes((1 << 20) + 1), randomBytes(2)]],
  ];
  for (const [name, make] of shapes) {
    it(`${name} read back byte for byte`, async () => {
      const { store } = await freshStore();
      const parts = make();
      const expected = Buffer.concat(parts);
      await store.put('shape/object', chunksOf(parts), { contentType: 'application/x-test', metadata: { a: 'b' } });
      const object = await store.get('shape/object');
      assert.equal(object.size, expected.length);
      assert.equal(object.contentType, 'application/x-test');
      assert.deepEqual(object.metadata, { a: 'b' });
      assert.ok((await readAllBytes(object.body)).equals(expected));
      if (expected.length > 10) {
        const range = await store.get('shape/object', { range: { start: 5, end: expected.length - 3 } });
        assert.ok((await readAllBytes(range.body)).equals(expected.subarray(5, expected.length - 2)));
      }
    });
  }

  it('a single 64 MiB Uint8Array (not a Buffer) at an offset into its ArrayBuffer', async () => {
    const { store } = await freshStore();
    const backing = new Uint8Array(64 * 1024 * 1024 + 3);
    for (let index = 0; index < backing.length; index += 4096) backing[index] = (index / 4096) & 255;
    const body = backing.subarray(3);
    await store.put('huge', body);
    const read = await readAllBytes((await store.get('huge')).body);
    assert.equal(read.length, body.length);
    assert.ok(read.equals(Buffer.from(body.buffer, body.byteOffset, body.byteLength)));
  });

  it('a body that fails midway (after more than a MiB was written) leaves no object, no temporary file, and the previous version', async () => {
    const { store, root } = await freshStore();
    await store.put('fails/object', Buffer.from('previous'));
    async function* failing(): AsyncGenerator<Uint8Array> {
      for (let index = 0; index < 40; index++) yield randomBytes(64 * 1024);
      throw new Error('the client went away');
    }
    await assert.rejects(store.put('fails/object', failing()), /the client went away/);
    await assert.rejects(store.put('fails/new', failing()), /the client went away/);
    assert.equal((await readAllBytes((await store.get('fails/object')).body)).toString(), 'previous');
    assert.equal(await store.head('fails/new'), undefined);
    const files = await filesUnder(root);
    assert.deepEqual(files.filter((file) => file.endsWith('.tmp')), [], 'no temporary file is left');
    assert.deepEqual((await store.list('fails/')).objects.map((object) => object.key), ['fails/object']);
  });

  it('a body that hands out one buffer, refilled between chunks (a reader reusing its read buffer), is stored as it was handed out', async () => {
    const { store } = await freshStore();
    const reused = Buffer.alloc(16 * 1024);
    const handedOut: Buffer[] = [];
    async function* refilling(): AsyncGenerator<Uint8Array> {
      for (let index = 0; index < 32; index++) {
        reused.fill(index + 1);
        handedOut.push(Buffer.from(reused));
        yield reused;
      }
    }
    await store.put('reused', refilling());
    const stored = await readAllBytes((await store.get('reused')).body);
    const expected = Buffer.concat(handedOut);
    assert.equal(stored.length, expected.length);
    const firstWrong = stored.findIndex((byte, index) => byte !== expected[index]);
    assert.equal(firstWrong, -1, `the stored bytes differ from those handed out from byte ${firstWrong} (chunk ${Math.floor(firstWrong / reused.length)} holds ${stored[firstWrong]}, was handed out as ${expected[firstWrong]})`);
  });
});
