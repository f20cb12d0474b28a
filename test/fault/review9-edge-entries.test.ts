/**
 * Attack: edge contents: a >64 KiB incompressible entry, unicode text, v3 with nothing it can
 * carry, every entry removed, a 5.0 entry with a threshold below every client. Each view decodes
 * (zlib, gzip -t) to the slow filter, and is one gzip member.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { repositoryVariant, type RepoVersion } from '../../lib/registry/index-document.ts';
import { openRepositoryView } from '../../lib/registry/index-store/index-reader.ts';
import { readPublishedDocument } from '../../lib/registry/index-store/index-writer.ts';
import type { ObjectStore } from '../../lib/ports/object-store.ts';
import { add, entry, newStore, readAllBytes, remove } from './review9-helpers.ts';

async function checkAll(store: ObjectStore, directory: string, label: string) {
  const full = (await readPublishedDocument(store))!.document;
  for (const media of ['v5', 'v4', 'v3'] as RepoVersion[]) {
    for (const dcos of [undefined, '0.1', '1.8', '1.10', '1.11', '2.1', '99']) {
      const view = await openRepositoryView(store, media, dcos);
      assert.ok(view && view !== 'legacy', `${label} ${media} ${dcos}`);
      const bytes = await readAllBytes(view.body);
      assert.equal(bytes.length, view.size);
      const file = join(directory, `e-${label}-${media}-${dcos}.gz`);
      writeFileSync(file, bytes);
      execFileSync('gzip', ['-t', file]);
      // One member: the trailer ends the file exactly (a second member would follow it).
      const listing = execFileSync('sh', ['-c', `gzip -dc < ${file} | wc -c`]).toString().trim();
      assert.equal(Number(listing), gunzipSync(bytes).length);
      assert.deepEqual(JSON.parse(gunzipSync(bytes).toString('utf8')), repositoryVariant(full, media, dcos), `${label} ${media} ${dcos}`);
    }
  }
}

it('edge entries', async () => {
  const { store, directory } = await newStore();
  const big = entry('big-one', '5.0', 1, '1.10');
  big.description = randomBytes(150 * 1024).toString('base64') + ' ünïcødé ✓ \u2028 𝄞';
  await add(store, big);
  await checkAll(store, directory, 'only-5');
  await add(store, entry('small-one', '4.0', 2, '1.8'));
  await add(store, entry('three-one', '3.0', 3, '1.11'));
  await checkAll(store, directory, 'mixed');
  for (const name of ['big-one', 'small-one', 'three-one']) await remove(store, name);
  await checkAll(store, directory, 'empty');
  assert.deepEqual((await readPublishedDocument(store))!.document, { packages: [] });
});
