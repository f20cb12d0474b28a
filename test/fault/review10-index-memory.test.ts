/**
 * Review 10, claim 1: the index writer's memory of its last commit (lastCommitted) is used only
 * while the stored v5 object has the ETag it wrote. Attacks: a restore of an older copy of the
 * object (same bytes and metadata as a commit this process made, written again by another
 * instance); many concurrent writers sharing one store instance (so they share that memory) and
 * two more instances on the same directory, with jitter, each entry's full content checked
 * afterwards (a reused scratch buffer would corrupt an entry kept as a slice of it).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { readAllBytes, type ObjectStore } from '../../lib/ports/object-store.ts';
import { readPublishedDocument } from '../../lib/registry/index-store/index-writer.ts';
import { INDEX_KEY } from '../../lib/registry/layout.ts';
import type { JsonObject } from '../../lib/universe/package-model.ts';
import { add, entry, newStore, remove } from './review9-helpers.ts';

function jittery(inner: ObjectStore, seed: number): ObjectStore {
  let state = seed;
  const rnd = () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const delay = () => new Promise((resolve) => setTimeout(resolve, rnd() * 6));
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || !['head', 'get', 'put', 'delete', 'list'].includes(String(prop))) return value;
      return async (...args: unknown[]) => {
        await delay();
        const result = await value.apply(target, args);
        await delay();
        return result;
      };
    },
  });
}

async function names(store: ObjectStore): Promise<string[]> {
  return ((await readPublishedDocument(store, 'v5'))?.document.packages ?? []).map((pkg) => String(pkg.name)).sort();
}

it('a restore of an older index object (written again by another instance) is read, not the memory of the newer commit', async () => {
  const { store: a, directory } = await newStore();
  await add(a, entry('one', '4.0', 1));
  const saved = await a.get(INDEX_KEY);
  const bytes = await readAllBytes(saved.body);
  await add(a, entry('two', '4.0', 2));
  // The operator restores the index as it was after `one` (bytes, type, encoding and metadata).
  const restorer = new FsObjectStore(directory);
  await restorer.put(INDEX_KEY, bytes, {
    ...(saved.contentType ? { contentType: saved.contentType } : {}),
    ...(saved.contentEncoding ? { contentEncoding: saved.contentEncoding } : {}),
    metadata: saved.metadata,
  });
  await add(a, entry('three', '4.0', 3));
  assert.deepEqual(await names(restorer), ['one', 'three'], 'built on the restored object');
});

for (const seed of [11, 12, 13]) {
  it(`entries stay byte-for-byte what was added under concurrent writers sharing one instance and two more (seed ${seed})`, async () => {
    const { store: shared, directory } = await newStore();
    const stores = [jittery(shared, seed), jittery(new FsObjectStore(directory), seed * 7), jittery(new FsObjectStore(directory), seed * 13)];
    // One proxy per instance, shared by its writers: they share its memory of the last commit.
    const expected = new Map<string, JsonObject>();
    const work: Promise<unknown>[] = [];
    for (let index = 0; index < 24; index++) {
      const e = entry(`pkg-${index}`, index % 2 ? '4.0' : '3.0', index + 1, undefined, 300 + index * 37);
      expected.set(`pkg-${index}`, e);
      work.push(add(stores[index % 3]!, e));
    }
    await Promise.all(work);
    const second: Promise<unknown>[] = [];
    for (let index = 0; index < 24; index += 4) {
      expected.delete(`pkg-${index}`);
      second.push(remove(stores[(index + 1) % 3]!, `pkg-${index}`));
      const e = entry(`late-${index}`, '4.0', 100 + index, undefined, 500);
      expected.set(`late-${index}`, e);
      second.push(add(stores[(index + 2) % 3]!, e));
    }
    await Promise.all(second);
    const document = (await readPublishedDocument(new FsObjectStore(directory), 'v5'))!.document;
    assert.deepEqual(document.packages.map((pkg) => String(pkg.name)).sort(), [...expected.keys()].sort());
    for (const pkg of document.packages) {
      const wanted = expected.get(String(pkg.name))!;
      assert.equal(pkg.description, wanted.description, `${String(pkg.name)}: its content is what was added`);
    }
  });
}
