/**
 * Composition on a directory, beyond the shared contract: that it writes only the bytes that are
 * not stored (links the rest), keeps its extents bounded, frees what no object names (after the
 * grace), never follows a key rewritten under it, and survives being killed at any line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { COMPOSED_FOLDER, composeInto, MAX_EXTENTS, startVersionFolder } from '../../lib/adapters/object-store/fs-composed.ts';
import { composeObject, InvalidKeyError, PreconditionFailedError, readAllBytes, type ComposedPart } from '../../lib/ports/object-store.ts';
import { seededRandom } from '../helpers/seeded-random.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { objectHeaderOf } from '../helpers/fs-object-header.ts';
import { bytesOf, chainVersion } from './fs-composed-chain.ts';


async function versionFolders(root: string): Promise<string[]> {
  return (await readdir(join(root, COMPOSED_FOLDER)).catch(() => [])).filter((name) => /^[0-9a-f]{24}$/.test(name)).sort();
}

async function writtenBytes(root: string): Promise<number> {
  let total = 0;
  for (const version of await versionFolders(root)) total += await stat(join(root, COMPOSED_FOLDER, version, 'data')).then((info) => info.size, () => 0);
  return total;
}

describe('filesystem store: composition', () => {
  it('writes only the bytes that are not stored, and links the object they come from', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    const big = bytesOf(1, 8 * 1024 * 1024);
    const { etag } = await store.put('index/v5', big);
    const inserted = Buffer.from('a new entry');
    await store.compose('index/v5', [
      { bytes: big.subarray(0, 4_000_000), storedAt: { key: 'index/v5', etag, offset: 0 } },
      { bytes: inserted },
      { bytes: big.subarray(4_000_000), storedAt: { key: 'index/v5', etag, offset: 4_000_000 } },
    ], { ifMatch: etag });
    assert.equal(await writtenBytes(root), inserted.length, 'only the inserted bytes were written');
    const header = await objectHeaderOf(root, 'index/v5');
    assert.equal(header.composed?.extents.length, 3);
    // The replaced object file lives on as the link: its inode's only name now.
    const [version] = await versionFolders(root);
    assert.equal((await stat(join(root, COMPOSED_FOLDER, version!, 'f0'))).nlink, 1);
    assert.ok((await readAllBytes((await store.get('index/v5')).body)).equals(Buffer.concat([big.subarray(0, 4_000_000), inserted, big.subarray(4_000_000)])));
  });

  it(`keeps at most ${MAX_EXTENTS} extents over 300 publishes into one object, writing a fraction of it each time`, async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    const random = seededRandom(2);
    let model = bytesOf(3, 1024 * 1024);
    let { etag } = await store.put('index', model);
    let maxWritten = 0;
    for (let round = 0; round < 300; round++) {
      const at = Math.floor(random() * model.length);
      const entry = bytesOf(100 + round, 2000 + Math.floor(random() * 6000));
      const parts: ComposedPart[] = [
        { bytes: model.subarray(0, at), storedAt: { key: 'index', etag, offset: 0 } },
        { bytes: entry },
        { bytes: model.subarray(at), storedAt: { key: 'index', etag, offset: at } },
      ];
      etag = (await store.compose('index', parts, { ifMatch: etag })).etag;
      model = Buffer.concat([model.subarray(0, at), entry, model.subarray(at)]);
      const header = await objectHeaderOf(root, 'index');
      assert.ok(header.composed!.extents.length <= MAX_EXTENTS, `round ${round}: ${header.composed!.extents.length} extents`);
      // What this round wrote: its version's data file.
      maxWritten = Math.max(maxWritten, header.composed!.files.find((file) => file.name === 'data')?.size ?? 0);
      if (round % 100 === 99) assert.ok((await readAllBytes((await store.get('index')).body)).equals(model), `round ${round}`);
    }
    // Each round wrote its entry and some small neighbouring extents again: far from the object (~3.4 MB).
    assert.ok(maxWritten < model.length / 20, `a round wrote ${maxWritten} bytes of ${model.length}`);
    assert.ok((await readAllBytes((await store.get('index')).body)).equals(model));
  });

  it('writes a small object whole rather than keep a large file alive for a slice of it', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    const big = bytesOf(4, 20 * 1024 * 1024);
    const { etag } = await store.put('big', big);
    await store.compose('small', [{ bytes: big.subarray(5000, 9096), storedAt: { key: 'big', etag, offset: 5000 } }]);
    const header = await objectHeaderOf(root, 'small');
    assert.deepEqual(header.composed?.files.map((file) => file.name), ['data']);
    assert.ok((await readAllBytes((await store.get('small')).body)).equals(big.subarray(5000, 9096)));
  });

  it('never links a key rewritten after it was read: its bytes are written instead', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    const original = bytesOf(5, 3_000_000);
    await store.put('source', original);
    const path = join(root, 'source.obj');
    const { ino, size } = await stat(path);
    // Rewritten between the composition's read of it and its link of the path.
    await store.put('source', bytesOf(6, 3_000_000));
    const folder = await startVersionFolder(root, 'ab'.repeat(12), 'target');
    const layout = await composeInto(folder, 'ab'.repeat(12), [{ bytes: original.subarray(0, 2_000_000), storedAt: { key: 'source', etag: 'e', offset: 0 } }], () => ({
      kind: 'file',
      path,
      ino,
      fileSize: size,
      contentSize: original.length,
    }));
    assert.deepEqual(layout.files.map((file) => file.name), ['data'], 'the new inode was not linked');
    assert.deepEqual(await readdir(folder).then((names) => names.sort()), ['data', 'owner']);
  });

  it('removes the folders of replaced versions only once a sweep has seen them unnamed for the age, and a reader of one reads on meanwhile', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    const first = bytesOf(7, 3 * 1024 * 1024);
    let { etag } = await store.put('k', first);
    const versions: Buffer[] = [];
    let model = first;
    for (let round = 0; round < 5; round++) {
      const entry = bytesOf(20 + round, 1000);
      etag = (await store.compose('k', [{ bytes: model, storedAt: { key: 'k', etag, offset: 0 } }, { bytes: entry }], { ifMatch: etag })).etag;
      model = Buffer.concat([model, entry]);
      versions.push(model);
    }
    assert.equal((await versionFolders(root)).length, 5);
    // A reader of the current version, then it is replaced and swept with a long age.
    const reading = await store.get('k');
    const readerModel = model;
    etag = (await store.compose('k', [{ bytes: model, storedAt: { key: 'k', etag, offset: 0 } }, { bytes: Buffer.from('last') }], { ifMatch: etag })).etag;
    model = Buffer.concat([model, Buffer.from('last')]);
    assert.deepEqual(await store.sweepAbandonedWrites(60_000), { removed: 0, bytes: 0 }, 'seen unnamed just now: kept');
    assert.ok((await readAllBytes(reading.body)).equals(readerModel), 'the replaced version read whole');
    const swept = await store.sweepAbandonedWrites(0);
    assert.equal(swept.removed, 5);
    assert.equal((await versionFolders(root)).length, 1);
    assert.ok((await readAllBytes((await store.get('k')).body)).equals(model));
    await store.delete('k');
    assert.equal((await store.sweepAbandonedWrites(0)).removed, 1);
    assert.deepEqual(await versionFolders(root), []);
  });

  it('keeps its folders out of the keys: they are not listed, and no key may start with them', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    await store.put('a', Buffer.from('x'), { ifNoneMatch: '*' });
    await store.compose('b', [{ bytes: Buffer.from('y') }]);
    assert.deepEqual((await store.list('')).objects.map((info) => info.key), ['a', 'b']);
    for (const key of ['.composed/x', '.locks/y', '.composed']) {
      await assert.rejects(store.put(key, Buffer.from('z')), InvalidKeyError, key);
      await assert.rejects(store.compose(key, [{ bytes: Buffer.from('z') }]), InvalidKeyError, key);
    }
  });

  it('sweeps while compositions run without removing any version an object names (120 rounds)', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const store = new FsObjectStore(root);
    let model = bytesOf(8, 200_000);
    let { etag } = await store.put('race', model);
    for (let round = 0; round < 120; round++) {
      const entry = bytesOf(300 + round, 500);
      const composing = store.compose('race', [{ bytes: model, storedAt: { key: 'race', etag, offset: 0 } }, { bytes: entry }], { ifMatch: etag });
      const sweeping = store.sweepAbandonedWrites(0);
      etag = (await composing).etag;
      await sweeping;
      model = Buffer.concat([model, entry]);
      assert.ok((await readAllBytes((await store.get('race')).body)).equals(model), `round ${round}`);
    }
  });

  it('lets two stores on one directory compose one key while both sweep: every failure is a failed condition, nothing is lost', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const stores = [new FsObjectStore(root), new FsObjectStore(root)];
    await stores[0]!.put('shared', bytesOf(40, 100_000));
    let committed = 0;
    const writer = async (store: FsObjectStore, seed: number): Promise<void> => {
      for (let round = 0; round < 40; round++) {
        const current = await store.get('shared');
        const bytes = await readAllBytes(current.body);
        const entry = bytesOf(seed * 1000 + round, 300);
        try {
          await store.compose('shared', [{ bytes, storedAt: { key: 'shared', etag: current.etag, offset: 0 } }, { bytes: entry }], { ifMatch: current.etag });
          committed++;
        } catch (error) {
          assert.ok(error instanceof PreconditionFailedError, String(error));
        }
        // Marks what it finds unnamed (the other store's compositions in progress among them), removes nothing young.
        await store.sweepAbandonedWrites(60_000);
      }
    };
    await Promise.all([writer(stores[0]!, 1), writer(stores[1]!, 2)]);
    const final = await readAllBytes((await stores[0]!.get('shared')).body);
    assert.equal(final.length, 100_000 + committed * 300, 'every committed composition is in the object');
    await stores[1]!.sweepAbandonedWrites(0);
    assert.equal((await versionFolders(root)).length, 1);
    assert.ok((await readAllBytes((await stores[1]!.get('shared')).body)).equals(final));
  });

  it('is whole after being killed at any point of a composition: the object is one of its versions, and a sweep leaves only its folder', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const script = fileURLToPath(new URL('./fs-composed-chain.ts', import.meta.url));
    const random = seededRandom(11);
    const kills = Number(process.env.COMPOSE_KILLS ?? 12);
    for (let trial = 0; trial < kills; trial++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, root], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // Wait for it to be composing, then kill it at a random moment.
      while (!output.includes('composing')) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 150)));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const store = new FsObjectStore(root);
      const object = await store.get('chain');
      const round = Number(object.metadata.round);
      assert.ok((await readAllBytes(object.body)).equals(chainVersion(round)), `trial ${trial}: the object is version ${round}, whole`);
    }
    const store = new FsObjectStore(root);
    await store.sweepAbandonedWrites(0);
    const header = await objectHeaderOf(root, 'chain');
    assert.deepEqual(await versionFolders(root), header.composed ? [header.composed.version] : []);
    assert.ok((await readAllBytes((await store.get('chain')).body)).equals(chainVersion(Number(header.metadata.round))));
  });

  it('hands a store without compose the same bytes (composeObject falls back to put)', async () => {
    const root = await temporaryDirectory('fs-compose-');
    const inner = new FsObjectStore(root);
    const plain = { ...bind(inner), compose: undefined };
    const { etag } = await inner.put('p', Buffer.from('0123456789'));
    await composeObject(plain, 'q', [{ bytes: Buffer.from('2345'), storedAt: { key: 'p', etag, offset: 2 } }, { bytes: Buffer.from('!') }]);
    assert.equal((await objectHeaderOf(root, 'q')).composed, undefined, 'written as a plain object');
    assert.equal((await readAllBytes((await inner.get('q')).body)).toString(), '2345!');
  });
});

function bind(store: FsObjectStore) {
  return {
    name: store.name,
    head: store.head.bind(store),
    get: store.get.bind(store),
    put: store.put.bind(store),
    delete: store.delete.bind(store),
    list: store.list.bind(store),
    presign: store.presign.bind(store),
  };
}
