/**
 * Review 10, claim 2: paging the package catalog by cursor while packages change. The cursor is
 * the sort key of the last row given, so a row whose key moved from after the cursor to before it
 * between two pages would never be given. Keyed by release version (as first written), a version
 * moved when it was published (a Processing row had none, and sorted last of its name): a client
 * paging while it was published never saw it. Keyed by what a row keeps for its life (name,
 * upload time, version), it cannot move.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readCatalogPage } from '../../lib/registry/catalog/package-catalog.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';

async function ingest(harness: Harness, name: string, version: string, description?: string): Promise<void> {
  const key = await harness.upload(craftedBundle({ name, version, ...(description ? { description } : {}) }));
  assert.equal((await harness.ingest(key)).outcome, 'accepted');
}

describe('catalog pages while a version is published', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('gives a version that stays in the catalog throughout on some page', async () => {
    await ingest(harness, 'pg', '1.0.0');
    await harness.drain();
    await new Promise((resolve) => setTimeout(resolve, 1100)); // release versions are epoch seconds
    await ingest(harness, 'pg', '2.0.0');
    await harness.drain();
    await ingest(harness, 'pg', '3.0.0'); // Processing: not yet published
    const before = (await readCatalogPage(harness.context)).packages.map((row) => `${row.version} ${row.status}`);
    assert.deepEqual(before, ['3.0.0 Processing', '2.0.0 Added', '1.0.0 Added'], 'newest upload first');

    const seen: string[] = [];
    const first = await readCatalogPage(harness.context, { limit: 2 });
    seen.push(...first.packages.map((row) => row.version));
    await harness.drain(); // 3.0.0 is published between two pages
    await ingest(harness, 'pg', '4.0.0'); // and a newer one arrives, before the cursor
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await readCatalogPage(harness.context, { limit: 1, cursor });
      seen.push(...page.packages.map((row) => row.version));
      cursor = page.nextCursor;
    }
    assert.deepEqual((await readCatalogPage(harness.context)).packages.map((row) => row.version), ['4.0.0', '3.0.0', '2.0.0', '1.0.0'], 'all are there after');
    assert.deepEqual([...seen].sort(), ['1.0.0', '2.0.0', '3.0.0'], `every version present throughout is listed once (listed: ${seen.join(', ')})`);
  });

  it('gives no version twice when one is removed and added again between pages', async () => {
    const page1 = await readCatalogPage(harness.context, { name: 'pg', limit: 1 });
    assert.equal(page1.packages[0]?.version, '4.0.0');
    await harness.drain();
    await requestRemoval(harness.context, 'pg', '3.0.0');
    await harness.drain();
    await ingest(harness, 'pg', '3.0.0', 'added again'); // a new row: the newest of its name, before the cursor
    const seen = page1.packages.map((row) => row.version);
    let cursor = page1.nextCursor;
    while (cursor) {
      const page = await readCatalogPage(harness.context, { name: 'pg', limit: 1, cursor });
      seen.push(...page.packages.map((row) => row.version));
      cursor = page.nextCursor;
    }
    // The removed row was not reached before it went; the new one lands before the cursor (the
    // newest of its name), as anything added behind a cursor does: listed at most once.
    assert.ok(seen.filter((version) => version === '3.0.0').length <= 1, `3.0.0 listed at most once (listed: ${seen.join(', ')})`);
    assert.deepEqual(seen.filter((version) => version !== '3.0.0'), ['4.0.0', '2.0.0', '1.0.0'], 'every row present throughout, once, in order');
    await harness.drain();
  });
});
