/**
 * Attack: GC against a writer about to commit, where the writer's table and views are *reused*
 * (write-once, keyed by digest): an index that returns to an earlier set of entries (publish X then
 * remove X) has the same table digest as before. putIfAbsent keeps the old object (412) and the
 * view materialisation skips it (head exists), so their lastModified is old: the GC's minimum-age
 * protection ("a commit still under way is younger") does not hold. GC runs while the writer is
 * paused before its v5 put; the writer then commits an index naming a table and views just deleted.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { fsck } from '../../lib/registry/maintenance/fsck.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { INDEX_KEY, INDEX_TABLES_PREFIX, INDEX_VIEWS_PREFIX } from '../../lib/registry/layout.ts';
import { serveRepository } from '../../lib/registry/serve.ts';
import { FaultyStore, Gate } from '../helpers/faults/faulty-store.ts';
import { add, contextOf, entry, HOSTS, newStore, remove } from './review9-helpers.ts';

function ageAll(root: string, prefix: string): void {
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else utimesSync(path, new Date(Date.now() - 2 * 86400_000), new Date(Date.now() - 2 * 86400_000));
    }
  };
  walk(join(root, prefix));
}

it('a commit that reuses an old table/view never ends up naming deleted ones', async () => {
  const { store: inner, directory } = await newStore();
  const limit = 2 * 1024;
  const hosts = { ...HOSTS, materializeViewsAbove: limit };
  for (const [i, min] of [undefined, '1.10', '1.12', '2.1'].entries()) await add(inner, entry(`p${i}`, '4.0', i + 1, min, 2000), hosts);
  const x = entry('xx', '4.0', 10, '1.11', 2000);
  await add(inner, x, hosts);
  // Everything written so far is two days old (as after a day of no publishes).
  ageAll(directory, INDEX_TABLES_PREFIX);
  ageAll(directory, INDEX_VIEWS_PREFIX);

  const store = new FaultyStore(inner);
  const gate = new Gate();
  store.inject({ op: 'put', key: (key) => key === INDEX_KEY, action: { kind: 'pause', gate } });
  const writer = remove(store, 'xx', '1.0', hosts);
  await gate.reached;
  const context = contextOf(inner, { maxInlineResponseBytes: limit, streamResponses: false });
  const report = await collectGarbage(context);
  gate.release();
  await writer;

  const table = (await inner.head(INDEX_KEY))!.metadata.table!;
  const tableExists = (await inner.head(`${INDEX_TABLES_PREFIX}${table}.json`)) !== undefined;
  const missing: string[] = [];
  for (const ua of ['cosmos dcos/1.10.0', 'cosmos dcos/1.12.0', 'cosmos dcos/1.9.0']) {
    const reply = await serveRepository(context, { accept: 'application/vnd.dcos.universe.repo+json;version=v4', acceptEncoding: 'gzip', userAgent: ua, ifNoneMatch: undefined });
    if (reply.kind !== 'redirect') continue;
    const key = decodeURIComponent(new URL(reply.location).pathname.slice(1));
    if (!(await inner.head(key))) missing.push(`${ua} -> ${key}`);
  }
  const report2 = await fsck(context, { repair: false });
  console.log('fsck after the race:', JSON.stringify(report2).slice(0, 600));
  assert.deepEqual({ tableExists, missing }, { tableExists: true, missing: [] }, `gc report ${JSON.stringify(report)}`);
});
