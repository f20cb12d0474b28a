/**
 * The kept document takes runs of rows from the last one it wrote: whatever the change between
 * two serialisations (rows added, removed, moved, replaced by equal-looking new ones, the same
 * row twice), the bytes are JSON.stringify's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeptJsonArray } from '../../../lib/support/kept-json.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

interface Row {
  readonly name: string;
  readonly n: number;
}

const expected = (rows: readonly Row[]): Buffer => Buffer.from(JSON.stringify({ rows: rows.map((row) => [row.name, row.n]) }));

describe('a kept JSON array', () => {
  it('writes JSON.stringify\'s bytes over 400 random changes, runs of kept rows and all', async () => {
    const random = seededRandom(21);
    const kept = new KeptJsonArray<Row>('{"rows":[', (row) => [row.name, row.n]);
    let counter = 0;
    const fresh = (): Row => ({ name: `pkg-${counter}-${'é'.repeat(counter % 3)}`, n: counter++ });
    let rows: Row[] = Array.from({ length: 300 }, fresh);
    for (let round = 0; round < 400; round++) {
      const next = [...rows];
      const kind = random();
      const at = Math.floor(random() * (next.length + 1));
      if (kind < 0.3) next.splice(at, 0, fresh());
      else if (kind < 0.5) next.splice(at, 1);
      else if (kind < 0.6) next.splice(at, 1, { ...next[at] ?? fresh() });
      else if (kind < 0.7) next.reverse();
      else if (kind < 0.8 && next.length > 0) next.push(next[0]!);
      else if (kind < 0.9) next.splice(at, Math.floor(random() * 20));
      else next.splice(0, next.length, ...next.filter(() => random() < 0.9));
      rows = next;
      assert.ok((await kept.serialise(rows)).equals(expected(rows)), `round ${round}`);
    }
    assert.ok((await kept.serialise([])).equals(expected([])));
    assert.ok((await kept.serialise(rows)).equals(expected(rows)));
  });
});
