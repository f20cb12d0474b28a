/**
 * The assembled index against the slow way: after random sequences of publishes and removals,
 * each stored object decodes (zlib and gzip -t) to exactly what a full rebuild stores, and each
 * view a client gets equals the document filtered the slow way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, gunzipSync } from 'node:zlib';
import { FsObjectStore } from '../../../../lib/adapters/object-store/fs-object-store.ts';
import { readAllBytes, type ObjectStore } from '../../../../lib/ports/object-store.ts';
import { repositoryVariant, type RepoVersion } from '../../../../lib/registry/index-document.ts';
import { combineCrc32, crcShiftFor } from '../../../../lib/registry/index-store/gzip-segments.ts';
import { entryPieceOf } from '../../../../lib/registry/index-store/entry-pieces.ts';
import { openRepositoryView } from '../../../../lib/registry/index-store/index-reader.ts';
import { commitIndexChange, INDEX_METADATA, readCurrentIndex, readPublishedDocument } from '../../../../lib/registry/index-store/index-writer.ts';
import { encodeTable, sameCoordinate, serialiseTable } from '../../../../lib/registry/index-store/index-table.ts';
import { indexTableKey, mediaObjectKey } from '../../../../lib/registry/layout.ts';
import type { JsonObject } from '../../../../lib/universe/package-model.ts';
import { temporaryDirectory } from '../../../helpers/temp-dir.ts';

const HOSTS = { publicBaseUrl: 'http://registry', dockerHost: 'registry' };
const MEDIA: readonly RepoVersion[] = ['v5', 'v4', 'v3'];
const THRESHOLDS = [undefined, '1.8', '1.9', '1.9.0', '1.10', '1.12', '2.0', '999'];
const PACKAGING = ['2.0', '3.0', '4.0', '5.0'];

/** A small deterministic generator: a failing seed can be run again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function entryOf(next: () => number, name: string, version: string, releaseVersion: number): JsonObject {
  const packagingVersion = PACKAGING[Math.floor(next() * PACKAGING.length)]!;
  // 2.0 entries cannot carry minDcosReleaseVersion (the schema refuses it).
  const drawn = THRESHOLDS[Math.floor(next() * THRESHOLDS.length)];
  const minimum = packagingVersion === '2.0' ? undefined : drawn;
  return {
    packagingVersion,
    name,
    version,
    maintainer: 'ops@example.com',
    description: `entry ${name} ${version} ${'x'.repeat(Math.floor(next() * 2000))}`,
    tags: [],
    releaseVersion,
    ...(minimum !== undefined ? { minDcosReleaseVersion: minimum } : {}),
  };
}

async function bodyOf(store: ObjectStore, media: RepoVersion, dcos: string | undefined): Promise<Buffer> {
  const view = await openRepositoryView(store, media, dcos);
  assert.ok(view && view !== 'legacy', `a view of ${media}`);
  const bytes = await readAllBytes(view.body);
  assert.equal(bytes.length, view.size, 'the announced length is the length sent');
  return bytes;
}

describe('the assembled index', () => {
  it('combines CRC-32s exactly as computing them over the joined bytes', () => {
    const next = random(7);
    for (let round = 0; round < 200; round++) {
      const a = Buffer.alloc(Math.floor(next() * 5000), Math.floor(next() * 256));
      const b = Buffer.from(Array.from({ length: Math.floor(next() * 5000) }, () => Math.floor(next() * 256)));
      assert.equal(combineCrc32(crc32(a) >>> 0, crc32(b) >>> 0, crcShiftFor(b.length)), crc32(Buffer.concat([a, b])) >>> 0);
    }
  });

  for (const seed of [1, 2, 3]) {
    it(`equals a full rebuild and the slow filter after random publishes and removals (seed ${seed})`, async () => {
      const directory = await temporaryDirectory();
      const store = new FsObjectStore(directory);
      const next = random(seed);
      const published = new Map<string, JsonObject>();
      let releaseVersion = 1;
      try {
        for (let step = 0; step < 60; step++) {
          const name = `pkg-${Math.floor(next() * 8)}`;
          const version = `1.${Math.floor(next() * 4)}`;
          const key = `${name} ${version}`;
          if (published.has(key) && next() < 0.35) {
            await commitIndexChange(store, HOSTS, () => ({ kind: 'edit', remove: (row) => sameCoordinate(row, name, version) }));
            published.delete(key);
          } else {
            const entry = entryOf(next, name, version, releaseVersion++);
            const piece = await entryPieceOf(entry);
            await commitIndexChange(store, HOSTS, () => ({ kind: 'edit', remove: (row) => sameCoordinate(row, name, version), add: [piece] }));
            published.set(key, entry);
          }
        }
        const incremental = new Map<RepoVersion, unknown>();
        for (const media of MEDIA) incremental.set(media, (await readPublishedDocument(store, media))!.document);
        const v5 = (await readPublishedDocument(store, 'v5'))!.document;
        assert.deepEqual(
          v5.packages.map((entry) => `${String(entry.name)} ${String(entry.version)}`).sort(),
          [...published.keys()].sort(),
          'the index holds exactly what was published and not removed',
        );
        for (const entry of v5.packages) assert.deepEqual(entry, published.get(`${String(entry.name)} ${String(entry.version)}`));

        for (const media of MEDIA) {
          for (const dcos of [undefined, '1.7', '1.8', '1.9', '1.10', '1.11', '1.12', '1.13', '2.0', '2.1', '1000']) {
            const bytes = await bodyOf(store, media, dcos);
            const file = join(directory, `view-${media}-${dcos ?? 'none'}.gz`);
            writeFileSync(file, bytes);
            execFileSync('gzip', ['-t', file]);
            assert.deepEqual(JSON.parse(gunzipSync(bytes).toString('utf8')), repositoryVariant(v5, media, dcos), `${media} for DC/OS ${dcos ?? '(none)'}`);
          }
        }

        // A full rebuild from the same entries stores the same documents.
        const current = await readCurrentIndex(store);
        await commitIndexChange(store, HOSTS, () => ({ kind: 'replace', pieces: current!.pieces }));
        for (const media of MEDIA) assert.deepEqual((await readPublishedDocument(store, media))!.document, incremental.get(media), `${media} after a rebuild`);
      } finally {
        // The directory goes with the test process.
      }
    });
  }

  it('serialises the table from each row\'s kept JSON to exactly the JSON of the whole table', async () => {
    const next = random(9);
    const pieces = [];
    for (let index = 0; index < 50; index++) pieces.push(await entryPieceOf(entryOf(next, `table-${index}`, `1.${index}.0`, index + 1)));
    const rows = pieces.map((piece) => piece.row);
    assert.deepEqual(await serialiseTable(rows), Buffer.from(JSON.stringify(encodeTable(rows))));
    // Again, from the kept JSON, in another order and with one row left out.
    const changed = [...rows.slice(1)].reverse();
    assert.deepEqual(await serialiseTable(changed), Buffer.from(JSON.stringify(encodeTable(changed))));
    assert.deepEqual(await serialiseTable([]), Buffer.from(JSON.stringify(encodeTable([]))));
  });

  it('reuses what a writer committed only while the stored object is still that commit', async () => {
    const directory = await temporaryDirectory();
    // Two processes' writers over one store (their own store objects), and a third party that
    // writes the object itself (a restore from backup, say): each commit must build on what is
    // stored, never on what its own process committed last.
    const first = new FsObjectStore(directory);
    const second = new FsObjectStore(directory);
    const next = random(5);
    const names = (document: { packages: JsonObject[] } | undefined): string[] => (document?.packages ?? []).map((entry) => String(entry.name).slice('writer-'.length)).sort();
    const publish = async (store: ObjectStore, name: string, release: number): Promise<void> => {
      const piece = await entryPieceOf({ ...entryOf(next, `writer-${name}`, '1.0', release), packagingVersion: '4.0' });
      await commitIndexChange(store, HOSTS, () => ({ kind: 'edit', add: [piece] }));
    };
    await publish(first, 'a', 1);
    await publish(second, 'b', 2);
    await publish(first, 'c', 3);
    assert.deepEqual(names((await readPublishedDocument(second))?.document), ['a', 'b', 'c'], 'the first writer built on the second one\'s commit');
    await publish(second, 'd', 4);
    await publish(first, 'e', 5);
    assert.deepEqual(names((await readPublishedDocument(first))?.document), ['a', 'b', 'c', 'd', 'e']);

    // The object as it was after 'c', put back under a new ETag behind both writers' backs.
    const older = new FsObjectStore(await temporaryDirectory());
    for (const [release, name] of ['a', 'b', 'c'].entries()) await publish(older, name, release + 1);
    const restored = await older.get(mediaObjectKey('v5'));
    const bytes = await readAllBytes(restored.body);
    const tableKey = indexTableKey(restored.metadata[INDEX_METADATA.table]!);
    await second.put(tableKey, await readAllBytes((await older.get(tableKey)).body), { contentType: 'application/json' });
    await second.put(mediaObjectKey('v5'), bytes, { contentType: restored.contentType ?? 'application/octet-stream', contentEncoding: 'gzip', metadata: restored.metadata });
    await publish(first, 'f', 6);
    assert.deepEqual(names((await readPublishedDocument(second))?.document), ['a', 'b', 'c', 'f'], 'built on the restored object, not on what the writer remembered');
  });

  it('gives every view its own ETag, and changes it when the index changes', async () => {
    const directory = await temporaryDirectory();
    const store = new FsObjectStore(directory);
    try {
      const next = random(11);
      for (const [index, minimum] of ['1.9', '1.12', '2.0'].entries()) {
        const entry = { ...entryOf(next, `p${index}`, '1.0', index + 1), packagingVersion: '4.0', minDcosReleaseVersion: minimum };
        const piece = await entryPieceOf(entry);
        await commitIndexChange(store, HOSTS, () => ({ kind: 'edit', add: [piece] }));
      }
      const etags = async (): Promise<string[]> => {
        const tags: string[] = [];
        for (const dcos of ['1.8', '1.9', '1.12', '2.0', undefined]) {
          const view = await openRepositoryView(store, 'v4', dcos);
          assert.ok(view && view !== 'legacy');
          view.discard();
          tags.push(view.etag);
        }
        return tags;
      };
      const before = await etags();
      // Below 1.9 (none), 1.9, 1.12 and from 2.0 on (all of them): four views, four ETags; a
      // client that names no DC/OS version gets all entries, the same view as 2.0.
      assert.equal(new Set(before).size, 4);
      assert.equal(before[3], before[4]);
      const piece = await entryPieceOf({ ...entryOf(next, 'late', '1.0', 9), packagingVersion: '4.0', minDcosReleaseVersion: '1.10' });
      await commitIndexChange(store, HOSTS, () => ({ kind: 'edit', add: [piece] }));
      const after = await etags();
      for (let index = 0; index < before.length; index++) assert.notEqual(after[index], before[index]);
      const stored = await store.head(mediaObjectKey('v4'));
      assert.ok(stored);
    } finally {
      // The directory goes with the test process.
    }
  });
});
