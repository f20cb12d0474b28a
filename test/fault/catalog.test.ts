/**
 * The package catalog `list` reads (issue 9, item 5): one object, paged by cursor, that follows
 * the records. Driven through the real ingest, publisher and reconciler with a store that pauses
 * or fails the catalog's writes: notes that land out of order, notes that are lost, a registry
 * that has none yet, and pages read while packages come and go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readCatalogPage, noteInCatalog, MAX_PAGE_ROWS, serialiseCatalog } from '../../lib/registry/catalog/package-catalog.ts';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { removePackage } from '../../lib/registry/publisher.ts';
import { updateJson } from '../../lib/registry/json-objects.ts';
import { PACKAGE_CATALOG_KEY, packageRecordKey } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import type { PackageDescription, PackageRecord } from '../../lib/registry/records.ts';
import { RegistryError } from '../../lib/domain/errors.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { ObjectStoreError, readAllBytes } from '../../lib/ports/object-store.ts';

const row = (page: { packages: readonly PackageDescription[] }, name: string, version = '1.0.0'): PackageDescription | undefined =>
  page.packages.find((entry) => entry.name === name && entry.version === version);

async function addPackage(harness: Harness, name: string, version = '1.0.0'): Promise<void> {
  const key = await harness.upload(craftedBundle({ name, version }));
  assert.equal((await harness.ingest(key)).outcome, 'accepted');
  await harness.drain();
}

async function allPages(harness: Harness, limit: number): Promise<PackageDescription[]> {
  const rows: PackageDescription[] = [];
  let cursor: string | undefined;
  do {
    const page = await readCatalogPage(harness.context, { limit, ...(cursor ? { cursor } : {}) });
    assert.ok(page.packages.length <= limit);
    rows.push(...page.packages);
    cursor = page.nextCursor;
  } while (cursor);
  return rows;
}

describe('the package catalog', () => {
  let harness: Harness;
  before(async () => (harness = await startHarness()));
  after(() => harness.close());

  it('follows every record change: Processing, Added, Removing, gone', async () => {
    const key = await harness.upload(craftedBundle({ name: 'follow' }));
    await harness.ingest(key);
    assert.equal(row(await readCatalogPage(harness.context), 'follow')?.status, 'Processing');
    await harness.drain();
    const added = row(await readCatalogPage(harness.context), 'follow');
    assert.equal(added?.status, 'Added');
    const record = (await harness.record('follow', '1.0.0'))!;
    assert.equal(added?.releaseVersion, record.releaseVersion);
    assert.equal(added?.updatedAt, record.updatedAt);
    await requestRemoval(harness.context, 'follow', '1.0.0');
    assert.equal(row(await readCatalogPage(harness.context), 'follow')?.status, 'Removing');
    await harness.drain();
    assert.equal(row(await readCatalogPage(harness.context), 'follow'), undefined, 'a removed version is not listed');
    assert.deepEqual((await harness.fsck()).violations, []);
  });

  // Paused at its write, the late note holds a catalog it read before the other committed (the
  // compare-and-swap must refuse it); paused at its read, it may hold a record read before the
  // other's (it must read the catalog first, the record after).
  for (const step of ['write', 'read'] as const) {
    it(`keeps the newest state when two notes land out of order (the late one paused at its catalog ${step})`, async () => {
      const name = `racing-${step}`;
      await addPackage(harness, name);
      // The removal request's note is paused, holding what it read (Removing); the removal itself
      // runs meanwhile and its note (the row gone) commits first.
      const record = (await harness.record(name, '1.0.0'))!;
      await updateJson<PackageRecord>(harness.store, packageRecordKey(encodeCoordinate(record)), (current) => ({ ...current!, status: 'Removing', updatedAt: new Date().toISOString() }));
      const gate = new Gate();
      // A read is a HEAD when the catalog is remembered, a GET otherwise: either pauses.
      for (const op of step === 'write' ? (['put'] as const) : (['head', 'get'] as const)) harness.store.inject({ op, key: PACKAGE_CATALOG_KEY, action: { kind: 'pause', gate } });
      const late = noteInCatalog(harness.context, name, '1.0.0');
      await gate.reached;
      await removePackage(harness.context, name, '1.0.0');
      assert.equal((await harness.record(name, '1.0.0'))?.status, 'Removed');
      assert.equal(row(await readCatalogPage(harness.context), name), undefined);
      gate.release();
      await late;
      harness.store.clear();
      assert.equal(row(await readCatalogPage(harness.context), name), undefined, 'the late note (Removing) did not put the row back');
      assert.deepEqual((await harness.fsck()).violations, []);
    });
  }

  it('is made good by the reconciler when a note is lost, and fsck says so meanwhile', async () => {
    await addPackage(harness, 'lost-note');
    await requestRemoval(harness.context, 'lost-note', '1.0.0');
    // The removal's own note (the row gone) fails every try: the row stays Removing.
    harness.store.inject({ op: 'put', key: PACKAGE_CATALOG_KEY, times: 100, action: { kind: 'fail', error: () => new ObjectStoreError('test', 'injected 503 on the catalog') } });
    await harness.drain();
    harness.store.clear();
    assert.equal((await harness.record('lost-note', '1.0.0'))?.status, 'Removed');
    assert.equal(row(await readCatalogPage(harness.context), 'lost-note')?.status, 'Removing', 'the lost note left the row behind');
    assert.deepEqual((await harness.fsck()).violations.map((violation) => violation.type), ['PackageCatalogOutOfDate']);
    const report = await reconcile(harness.context);
    assert.equal(report.catalogRewritten, 1);
    assert.equal(row(await readCatalogPage(harness.context), 'lost-note'), undefined);
    assert.equal((await reconcile(harness.context)).catalogRewritten, 0, 'nothing to rewrite when every note landed');
    assert.deepEqual((await harness.fsck()).violations, []);
  });

  it('is derived from the records when none is stored (a registry upgraded from before it)', async () => {
    await addPackage(harness, 'upgraded');
    const expected = await allPages(harness, MAX_PAGE_ROWS);
    await harness.inner.delete(PACKAGE_CATALOG_KEY);
    assert.deepEqual((await harness.fsck()).violations.map((violation) => violation.type), ['PackageCatalogOutOfDate']);
    // A note alone must not make a catalog of one row: it derives the whole of it.
    await noteInCatalog(harness.context, 'upgraded', '1.0.0');
    assert.deepEqual(await allPages(harness, MAX_PAGE_ROWS), expected);
    await harness.inner.delete(PACKAGE_CATALOG_KEY);
    assert.deepEqual(await allPages(harness, MAX_PAGE_ROWS), expected, 'a list derives it too');
    assert.ok(await harness.inner.head(PACKAGE_CATALOG_KEY), 'and stores it');
  });

  it('pages by cursor in list order, without repeats or gaps while versions come and go', async () => {
    for (let index = 0; index < 7; index++) await addPackage(harness, `paged-${index % 3}`, `1.${index}.0`);
    const whole = (await readCatalogPage(harness.context)).packages;
    const names = whole.map((entry) => entry.name);
    assert.deepEqual(names, [...names].sort(), 'by name');
    for (let index = 1; index < whole.length; index++) {
      if (whole[index]!.name === whole[index - 1]!.name) assert.ok((whole[index - 1]!.releaseVersion ?? 0) >= (whole[index]!.releaseVersion ?? 0), 'newest release first');
    }
    assert.deepEqual(await allPages(harness, 2), whole, 'pages of two make up the whole');

    // Between two pages, the row the cursor names goes and a row before it comes.
    const first = await readCatalogPage(harness.context, { limit: 3 });
    const last = first.packages[first.packages.length - 1]!;
    await requestRemoval(harness.context, last.name, last.version);
    await harness.drain();
    await addPackage(harness, 'aaa-early');
    const second = await readCatalogPage(harness.context, { limit: MAX_PAGE_ROWS, cursor: first.nextCursor! });
    const expectedRest = whole.slice(3);
    assert.deepEqual(second.packages, expectedRest, 'the rows after the cursor, none repeated, none skipped');

    const filtered = await readCatalogPage(harness.context, { name: 'paged-1', limit: 1 });
    assert.equal(filtered.packages.length, 1);
    assert.ok(filtered.nextCursor);
    const next = await readCatalogPage(harness.context, { name: 'paged-1', limit: 1, cursor: filtered.nextCursor });
    assert.equal(next.packages[0]?.name, 'paged-1');
    assert.notEqual(next.packages[0]?.version, filtered.packages[0]?.version);
  });

  it('sees what another process wrote: the catalog it remembers is used only while its ETag holds', async () => {
    const other = { ...harness.context, store: new FsObjectStore(harness.inner.root) };
    assert.equal(row(await readCatalogPage(harness.context), 'elsewhere'), undefined);
    const key = await harness.upload(craftedBundle({ name: 'elsewhere' }));
    assert.equal((await harness.ingest(key, other)).outcome, 'accepted');
    assert.equal(row(await readCatalogPage(harness.context), 'elsewhere')?.status, 'Processing', 'the other process\'s note is seen here');
    await harness.drain();
    assert.equal(row(await readCatalogPage(other), 'elsewhere')?.status, 'Added', 'and this one\'s there');
  });

  it('stores exactly the JSON of its rows, each row serialised once and kept', async () => {
    const rows = (await readCatalogPage(harness.context)).packages;
    assert.ok(rows.length > 3);
    assert.deepEqual(await serialiseCatalog(rows), Buffer.from(JSON.stringify({ formatVersion: 1, packages: rows })));
    const fewer = rows.slice(1).reverse();
    assert.deepEqual(await serialiseCatalog(fewer), Buffer.from(JSON.stringify({ formatVersion: 1, packages: fewer })));
    const stored = await readAllBytes((await harness.inner.get(PACKAGE_CATALOG_KEY)).body);
    assert.deepEqual(JSON.parse(stored.toString('utf8')), { formatVersion: 1, packages: rows });
  });

  it('refuses a malformed cursor or limit with a typed error, changing nothing', async () => {
    const before = await harness.inner.head(PACKAGE_CATALOG_KEY);
    for (const request of [{ cursor: 'not a cursor!' }, { cursor: Buffer.from('[1,2]').toString('base64url') }, { cursor: 'x'.repeat(2000) }, { limit: 0 }, { limit: MAX_PAGE_ROWS + 1 }, { limit: 1.5 }]) {
      await assert.rejects(readCatalogPage(harness.context, request), (error: unknown) => error instanceof RegistryError && error.type === 'InvalidRequest', JSON.stringify(request).slice(0, 80));
    }
    assert.equal((await harness.inner.head(PACKAGE_CATALOG_KEY))?.etag, before?.etag);
  });
});
