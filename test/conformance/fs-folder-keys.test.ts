/**
 * The fs store keeps the sorted keys of a large folder between the pages of a walk
 * (fs-folder-keys.ts). These hold it to what its comment claims: a cached list answers only while
 * the folder's mtime is unchanged and was already old when read; writes through the same store
 * drop it at once; and it is in use (so a reindex reads the folder of every package once, not
 * once a page). A second store on the same root stands for another process.
 */
import assert from 'node:assert/strict';
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const FOLDERS = 1100; // above the size from which a folder's keys are kept

/** A folder `p/` of FOLDERS subfolders, three of them holding an object. */
async function largeFolder(): Promise<{ root: string; folder: string; reader: FsObjectStore; writer: FsObjectStore }> {
  const root = await temporaryDirectory('fs-folder-keys-');
  const folder = join(root, 'p');
  const reader = new FsObjectStore(root);
  await Promise.all(Array.from({ length: FOLDERS }, (_, index) => mkdir(join(folder, String(index).padStart(4, '0')), { recursive: true })));
  for (const key of ['p/0100/x', 'p/0200/x', 'p/0300/x']) await reader.put(key, Buffer.from(key));
  return { root, folder, reader, writer: new FsObjectStore(root) };
}

/** Sets the folder's mtime to a whole second (so that setting it again gives the same value). */
async function setMtime(folder: string, secondsAgo: number): Promise<number> {
  const seconds = Math.floor(Date.now() / 1000) - secondsAgo;
  await utimes(folder, seconds, seconds);
  return seconds;
}

async function continuedKeys(store: FsObjectStore, token: string): Promise<string[]> {
  const keys: string[] = [];
  let next: string | undefined = token;
  while (next !== undefined) {
    const page = await store.list('p/', { token: next, limit: 2 });
    keys.push(...page.objects.map((object) => object.key));
    next = page.nextToken;
  }
  return keys;
}

describe('filesystem store: the keys of a large folder kept between pages', () => {
  it('a folder another process adds to between pages is read again (its mtime moved)', async () => {
    const { folder, reader, writer } = await largeFolder();
    await setMtime(folder, 3600);
    const first = await reader.list('p/', { limit: 1 });
    assert.deepEqual(first.objects.map((object) => object.key), ['p/0100/x']);
    await writer.put('p/0999z/new', Buffer.from('new'));
    assert.deepEqual(await continuedKeys(reader, first.nextToken!), ['p/0200/x', 'p/0300/x', 'p/0999z/new']);
  });

  it('a folder changed less than a clock tick before it was read is not kept, even if its mtime then stays the same', async () => {
    const { folder, reader, writer } = await largeFolder();
    // A file system whose clock has not ticked since: the change after the read leaves the mtime as it was.
    const seconds = await setMtime(folder, 1);
    const first = await reader.list('p/', { limit: 1 });
    await writer.put('p/0999z/new', Buffer.from('new'));
    await utimes(folder, seconds, seconds);
    assert.deepEqual(await continuedKeys(reader, first.nextToken!), ['p/0200/x', 'p/0300/x', 'p/0999z/new']);
  });

  it('is what answers the next page of an old folder, and a write through the same store drops it', async () => {
    const { folder, reader, writer } = await largeFolder();
    const seconds = await setMtime(folder, 3600);
    const first = await reader.list('p/', { limit: 1 });
    // Forged: another process adds a folder and the mtime is set back. Only a kept list misses it.
    await writer.put('p/0999z/unseen', Buffer.from('unseen'));
    await utimes(folder, seconds, seconds);
    assert.deepEqual(await continuedKeys(reader, first.nextToken!), ['p/0200/x', 'p/0300/x'], 'the kept list answered');
    // The same store's own write is seen at once, whatever the mtime says.
    await reader.put('p/0999y/own', Buffer.from('own'));
    await utimes(folder, seconds, seconds);
    assert.deepEqual(await continuedKeys(reader, first.nextToken!), ['p/0200/x', 'p/0300/x', 'p/0999y/own', 'p/0999z/unseen']);
    // And its own delete.
    await reader.delete('p/0999y/own');
    await utimes(folder, seconds, seconds);
    assert.deepEqual(await continuedKeys(reader, first.nextToken!), ['p/0200/x', 'p/0300/x', 'p/0999z/unseen']);
  });

  it('subfolders are read afresh under a kept list, and a small folder is never kept', async () => {
    const { root, folder, reader, writer } = await largeFolder();
    const seconds = await setMtime(folder, 3600);
    const first = await reader.list('p/', { limit: 1 });
    // Another process deletes them (and prunes their folders); the mtime is forged back.
    for (const key of ['p/0100/x', 'p/0200/x', 'p/0300/x']) await writer.delete(key);
    await utimes(folder, seconds, seconds);
    assert.deepEqual(await continuedKeys(reader, first.nextToken!), []);
    const small = new FsObjectStore(root);
    await small.put('q/a/1', Buffer.from('1'));
    const smallFolder = join(root, 'q');
    const smallSeconds = await setMtime(smallFolder, 3600);
    const page = await small.list('q/', { limit: 1 });
    await writer.put('q/b/2', Buffer.from('2'));
    await utimes(smallFolder, smallSeconds, smallSeconds);
    assert.deepEqual((await small.list('q/', { token: page.objects[0]!.key })).objects.map((object) => object.key), ['q/b/2']);
  });
});
