/**
 * Attack on the index work done in slices of the event loop's time (support/turns.ts and its
 * users): serialised documents must be byte for byte JSON.stringify of the whole, rows and
 * pieces in the order given, two serialisations of one kept document at once must not mix, and a
 * bad entry anywhere in entryPiecesOf must reject the call with no rejection left unhandled.
 */
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { serialiseCatalog } from '../../lib/registry/catalog/package-catalog.ts';
import type { PackageDescription } from '../../lib/registry/records.ts';
import { entryPiecesOf } from '../../lib/registry/index-store/entry-pieces.ts';
import { FINAL_BLOCK } from '../../lib/registry/index-store/gzip-segments.ts';
import { decodeTable, encodeTable, serialiseTable, type IndexRow } from '../../lib/registry/index-store/index-table.ts';
import { readJson } from '../../lib/registry/json-objects.ts';
import { KeptJsonArray } from '../../lib/support/kept-json.ts';
import { mapInTurns, nextTurn } from '../../lib/support/turns.ts';
import type { JsonObject } from '../../lib/universe/package-model.ts';
import { entry } from './review9-helpers.ts';
import { freshStore } from './review11-helpers.ts';

const AWKWARD = ['plain', 'quote"d', 'back\\slash', 'new\nline', 'tab\t', '\u0000nul', 'é', '日本語', '😀', 'lone \ud800 high', 'lone \udfff low', '\u2028\u2029', '</script>', ''];

function rowsOf(count: number, seed: number): IndexRow[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `${AWKWARD[(index + seed) % AWKWARD.length]}-${index}`,
    version: `${index % 7}.${seed}`,
    releaseVersion: index * 3 + seed,
    packagingVersion: ['2.0', '3.0', '4.0', '5.0'][index % 4]!,
    minDcos: index % 5 === 0 ? null : `1.${(index % 13) + 1}`,
    rawLength: index * 17 + 1,
    deflatedLength: index * 5 + 1,
    crc: (index * 2654435761) >>> 0,
    shift: index % 3 === 0 ? -0 : index * 0.5,
  }));
}

describe('serialised in turns, byte for byte JSON.stringify', () => {
  it('the index table, first time and kept, for awkward strings and thirty thousand rows', async () => {
    const rows = rowsOf(30_000, 1);
    const expected = Buffer.from(JSON.stringify(encodeTable(rows)));
    assert.ok((await serialiseTable(rows)).equals(expected), 'first serialisation');
    assert.ok((await serialiseTable(rows)).equals(expected), 'from kept rows');
    const edited = [...rows.slice(0, 100), ...rowsOf(5, 9), ...rows.slice(200).reverse()];
    assert.ok((await serialiseTable(edited)).equals(Buffer.from(JSON.stringify(encodeTable(edited)))), 'some rows kept, some new, reordered');
    assert.ok((await serialiseTable([])).equals(Buffer.from(JSON.stringify(encodeTable([])))), 'no rows');
    assert.ok((await serialiseTable([rows[0]!])).equals(Buffer.from(JSON.stringify(encodeTable([rows[0]!])))), 'one row');
  });

  it('the package catalog, with awkward strings and optional fields', async () => {
    const rows = Array.from({ length: 5000 }, (_, index) => ({
      name: `${AWKWARD[index % AWKWARD.length]}${index}`,
      version: `${index}.0`,
      status: 'Added',
      addedAt: new Date(1_700_000_000_000 + index).toISOString(),
      ...(index % 2 === 0 ? { releaseVersion: index } : { releaseVersion: undefined }),
    })) as unknown as PackageDescription[];
    const expected = Buffer.from(JSON.stringify({ formatVersion: 1, packages: rows }));
    assert.ok((await serialiseCatalog(rows)).equals(expected));
    assert.ok((await serialiseCatalog(rows)).equals(expected));
  });

  it('several serialisations of one kept document at once do not mix', async () => {
    const kept = new KeptJsonArray<IndexRow>('{"x":[', (row) => [row.name, row.releaseVersion]);
    const a = rowsOf(25_000, 2);
    const b = rowsOf(25_000, 3);
    const shared = [...a.slice(0, 12_000), ...b.slice(12_000)];
    const expect = (rows: readonly IndexRow[]) => Buffer.from(JSON.stringify({ x: rows.map((row) => [row.name, row.releaseVersion]) }));
    const [outA, outB, outShared, outReversed] = await Promise.all([kept.serialise(a), kept.serialise(b), kept.serialise(shared), kept.serialise([...a].reverse())]);
    assert.ok(outA!.equals(expect(a)));
    assert.ok(outB!.equals(expect(b)));
    assert.ok(outShared!.equals(expect(shared)));
    assert.ok(outReversed!.equals(expect([...a].reverse())));
  });

  it('decodeTable and mapInTurns keep the order and every row', async () => {
    const rows = rowsOf(20_000, 4);
    assert.deepEqual(await decodeTable(JSON.parse(JSON.stringify(encodeTable(rows)))), JSON.parse(JSON.stringify(rows)));
    const indices = await mapInTurns(Array.from({ length: 70_000 }, (_, index) => index), (value, index) => (value === index ? index : -1));
    assert.deepEqual(indices, Array.from({ length: 70_000 }, (_, index) => index));
  });

  it('readJson of a document over a MiB with multibyte text', async () => {
    const { store } = await freshStore();
    const document = { rows: Array.from({ length: 40_000 }, (_, index) => ({ index, text: `${AWKWARD[index % AWKWARD.length]} 日本語 😀` })) };
    const bytes = Buffer.from(JSON.stringify(document));
    assert.ok(bytes.length > 1024 * 1024);
    await store.put('large.json', bytes);
    assert.deepEqual((await readJson<typeof document>(store, 'large.json'))!.value, JSON.parse(bytes.toString('utf8')));
  });
});

describe('entryPiecesOf: in order, and a bad entry anywhere rejects the call', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));

  const entries = (count: number): JsonObject[] => Array.from({ length: count }, (_, index) => entry(`pkg-${String(index).padStart(4, '0')}`, '4.0', index + 1, undefined, index % 10 === 0 ? 40_000 : 50));

  it('pieces come back in the order given, each the entry it was made of', async () => {
    const given = entries(120).reverse();
    const pieces = await entryPiecesOf(given, (item) => item);
    assert.deepEqual(
      pieces.map((piece) => piece.row.name),
      given.map((item) => item.name),
    );
    pieces.forEach((piece, index) => assert.equal(inflateRawSync(Buffer.concat([piece.deflated, FINAL_BLOCK])).toString('utf8'), JSON.stringify(given[index])));
  });

  for (const at of [0, 3, 7, 8, 9, 30, 59]) {
    it(`an invalid entry at ${at} of 60 rejects the call (InvalidIndex) and leaves no rejection unhandled`, async () => {
      const given = entries(60);
      given[at] = { ...given[at]!, packagingVersion: '9.9' } as JsonObject;
      await assert.rejects(entryPiecesOf(given, (item) => item), (error: unknown) => (error as { type?: string }).type === 'InvalidIndex');
      for (let turn = 0; turn < 20; turn++) await nextTurn();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(unhandled, []);
    });
  }

  it('an entry that cannot be made (entryOf throws) rejects the call, nothing unhandled', async () => {
    const given = entries(30);
    await assert.rejects(
      entryPiecesOf(given, (item) => {
        if (item.name === 'pkg-0012') throw new Error('fragment unreadable');
        return item;
      }),
      /fragment unreadable/,
    );
    for (let turn = 0; turn < 20; turn++) await nextTurn();
    assert.deepEqual(unhandled, []);
  });
});
