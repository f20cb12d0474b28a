import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import type { ObjectStore } from '../../lib/ports/object-store.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { describeObjectStore } from './object-store-suite.ts';

/** What a put killed before its rename leaves: its temporary file beside the object it was writing. */
async function plantTemporaryFile(store: ObjectStore, key: string, body: Uint8Array, ageMs = 0): Promise<string> {
  assert.ok(store instanceof FsObjectStore);
  const path = `${join(store.root, ...key.split('/'))}.obj.${randomBytes(6).toString('hex')}.tmp`;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
  if (ageMs > 0) {
    const then = new Date(Date.now() - ageMs);
    await utimes(path, then, then);
  }
  return path;
}

describeObjectStore('filesystem', async () => new FsObjectStore(await temporaryDirectory('fs-store-')), {
  presign: false,
  // Each round starts a put in pruned directories against a delete pruning them: before the fix
  // more than half the puts lost that race, so a thousand rounds try it hundreds of times.
  raceIterations: 1000,
  abandonWrite: async (store, key, body) => {
    await plantTemporaryFile(store, key, body);
  },
  abandonOldWrite: async (store, key, body, ageMs) => {
    await plantTemporaryFile(store, key, body, ageMs);
  },
});

describe('filesystem store: what interrupted writes leave', () => {
  it('sweeps the directories an abandoned temporary file leaves empty', async () => {
    const root = await temporaryDirectory('fs-store-');
    const store = new FsObjectStore(root);
    await store.put('kept/object', Buffer.from('x'));
    await plantTemporaryFile(store, 'gone/deep/down/object', Buffer.from('partial'));
    assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: 1, bytes: 'partial'.length });
    assert.deepEqual((await readdir(root)).sort(), ['kept']);
  });

  it('sweeps locks left by a process that died holding them, never one that may be held', async () => {
    const root = await temporaryDirectory('fs-store-');
    const store = new FsObjectStore(root);
    const lockOf = (key: string): string => join(root, '.locks', createHash('sha256').update(key).digest('hex'));
    await mkdir(lockOf('dead'), { recursive: true });
    const longAgo = new Date(Date.now() - 10 * 60 * 1000);
    await utimes(lockOf('dead'), longAgo, longAgo);
    await mkdir(lockOf('held'), { recursive: true });
    assert.deepEqual(await store.sweepAbandonedWrites(0), { removed: 1, bytes: 0 }, 'a fresh lock may be held, whatever the age asked');
    await assert.rejects(stat(lockOf('dead')), { code: 'ENOENT' });
    assert.ok((await stat(lockOf('held'))).isDirectory());
  });
});
