/**
 * Attack: many writers committing concurrently with random latency on every store call, plus
 * chosen pauses (a writer held between its v5 commit and its v4/v3 puts while others commit).
 * After all settle (no reconciler): v5 holds every entry, and v4/v3 are exactly v5 filtered.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ObjectStore } from '../../lib/ports/object-store.ts';
import { repositoryVariant } from '../../lib/registry/index-document.ts';
import { ensureMediaObjectsCurrent, readPublishedDocument } from '../../lib/registry/index-store/index-writer.ts';
import { INDEX_KEY, mediaObjectKey } from '../../lib/registry/layout.ts';
import { FaultyStore, Gate } from '../helpers/faults/faulty-store.ts';
import { ObjectStoreError } from '../../lib/ports/object-store.ts';
import { add, entry, HOSTS, newStore, remove } from './review9-helpers.ts';

function jittery(inner: ObjectStore, seed: number): ObjectStore {
  let state = seed;
  const rnd = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const delay = () => new Promise((resolve) => setTimeout(resolve, rnd() * 8));
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || !['head', 'get', 'put', 'delete', 'list'].includes(String(prop))) return value;
      return async (...args: unknown[]) => { await delay(); const r = await value.apply(target, args); await delay(); return r; };
    },
  });
}

async function assertConsistent(store: ObjectStore, expectedNames: string[]) {
  const v5 = (await readPublishedDocument(store, 'v5'))!;
  assert.deepEqual(v5.document.packages.map((p) => String(p.name)).sort(), expectedNames.sort(), 'v5 holds every entry');
  for (const media of ['v4', 'v3'] as const) {
    const other = (await readPublishedDocument(store, media))!;
    assert.equal(other.metadata.generation, v5.metadata.generation, `${media} is at v5's generation`);
    assert.deepEqual(other.document, repositoryVariant(v5.document, media, undefined), `${media} equals v5 filtered`);
  }
}

for (const seed of [1, 2, 3, 4]) {
  it(`12 concurrent writers with jitter (seed ${seed})`, async () => {
    const { store: inner } = await newStore();
    const store = jittery(inner, seed);
    const mins = [undefined, '1.9', '1.10', '2.1'];
    const packs = ['2.0', '3.0', '4.0', '5.0'];
    await Promise.all(Array.from({ length: 12 }, (_, i) => {
      const packaging = packs[i % 4]!;
      return add(store, entry(`pkg-${i}`, packaging, i + 1, packaging === '2.0' ? undefined : mins[(i * 7) % 4]), HOSTS);
    }));
    await Promise.all([remove(store, 'pkg-3'), remove(store, 'pkg-5'), add(store, entry('late-one', '4.0', 99, '1.10'))]);
    await assertConsistent(inner, [...Array.from({ length: 12 }, (_, i) => `pkg-${i}`).filter((n) => n !== 'pkg-3' && n !== 'pkg-5'), 'late-one']);
  });
}

it('a writer held after its v5 commit (before its v4 head) while two others commit', async () => {
  const { store: inner } = await newStore();
  await add(inner, entry('base', '4.0', 1));
  const store = new FaultyStore(inner);
  const gate = new Gate();
  store.inject({ op: 'head', key: (k) => k === mediaObjectKey('v4'), action: { kind: 'pause', gate } });
  const slow = add(store, entry('slow', '4.0', 2, '1.10'));
  await gate.reached;
  await add(inner, entry('fast-a', '3.0', 3));
  await remove(inner, 'base');
  gate.release();
  await slow;
  await assertConsistent(inner, ['slow', 'fast-a']);
});

it('a writer whose v4 put fails (503) after the commit: the reconciler heals; a later writer heals too', async () => {
  const { store: inner } = await newStore();
  await add(inner, entry('base', '4.0', 1));
  const store = new FaultyStore(inner);
  store.inject({ op: 'put', key: (k) => k === mediaObjectKey('v4'), action: { kind: 'fail', error: () => new ObjectStoreError('fs', '503 Slow Down') } });
  await assert.rejects(add(store, entry('dies', '4.0', 2)));
  const v4 = (await readPublishedDocument(inner, 'v4'))!;
  const v5 = (await readPublishedDocument(inner, 'v5'))!;
  assert.ok(Number(v4.metadata.generation) < Number(v5.metadata.generation));
  assert.equal(await ensureMediaObjectsCurrent(inner, HOSTS), true);
  await assertConsistent(inner, ['base', 'dies']);
  assert.ok((await inner.head(INDEX_KEY))!.metadata.generation);
});
