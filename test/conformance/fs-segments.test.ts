/**
 * Segmented writes and range copies on a directory, beyond the shared contract: each byte of a
 * segmented body is written once, a copy of a segment is a hard link (no byte written) that keeps
 * nothing else of its source alive once the source is swept, a member of an object stored as one
 * file is copied (not linked) when linking would keep far more alive, and the extents stay bounded
 * whatever the caller marks.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { COMPOSED_FOLDER, MAX_EXTENTS } from '../../lib/adapters/object-store/fs-composed.ts';
import { readAllBytes, type SegmentChunk } from '../../lib/ports/object-store.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { objectHeaderOf } from '../helpers/fs-object-header.ts';
import { bytesOf } from './fs-composed-chain.ts';

const MiB = 1024 * 1024;


/** Bytes of every file in the version folders (links counted once per inode). */
async function storedBytes(root: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  for (const version of await readdir(join(root, COMPOSED_FOLDER)).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{24}$/.test(version)) continue;
    for (const name of await readdir(join(root, COMPOSED_FOLDER, version))) {
      if (name === 'owner') continue;
      const info = await stat(join(root, COMPOSED_FOLDER, version, name));
      if (seen.has(info.ino)) continue;
      seen.add(info.ino);
      total += info.size;
    }
  }
  return total;
}

async function* bundleBody(pieces: readonly { bytes: Buffer; apart: boolean }[]): AsyncGenerator<SegmentChunk> {
  for (const [segment, piece] of pieces.entries()) {
    for (let offset = 0; offset < piece.bytes.length; offset += 64 * 1024) yield { bytes: piece.bytes.subarray(offset, offset + 64 * 1024), segment, apart: piece.apart };
  }
}

describe('filesystem store: segments and range copies', () => {
  it('writes each byte of a segmented body once, and copies a segment as a link that outlives its source', async () => {
    const root = await temporaryDirectory('fs-segments-');
    const store = new FsObjectStore(root);
    const header = bytesOf(1, 4000);
    const layer = bytesOf(2, 6 * MiB + 5);
    const trailer = bytesOf(3, 900);
    const bundle = await store.putSegments('uploads/u/bundle.dcos', bundleBody([{ bytes: header, apart: false }, { bytes: layer, apart: true }, { bytes: trailer, apart: false }]));
    assert.equal(await storedBytes(root), header.length + layer.length + trailer.length, 'each byte written once');
    const layout = (await objectHeaderOf(root, 'uploads/u/bundle.dcos')).composed!;
    assert.deepEqual(layout.files.map((file) => file.name), ['data', 's1']);
    assert.deepEqual(layout.extents, [[0, 0, 4000], [1, 0, layer.length], [0, 4000, 900]]);

    // What it computed as it wrote the segment, for exactly that range of that version, and only then.
    const member = { key: 'uploads/u/bundle.dcos', etag: bundle.etag, offset: header.length, length: layer.length };
    assert.deepEqual(await store.checksumsOfRange(member), { sha256: createHash('sha256').update(layer).digest('hex'), crc32: crc32(layer) >>> 0 });
    assert.equal(await store.checksumsOfRange({ ...member, length: layer.length - 1 }), undefined, 'part of a segment');
    assert.equal(await store.checksumsOfRange({ ...member, offset: 0, length: header.length }), undefined, 'bytes not kept apart');
    assert.equal(await store.checksumsOfRange({ ...member, etag: '"another"' }), undefined, 'another version');
    const copy = await store.copyRange('blobs/layer', { key: 'uploads/u/bundle.dcos', etag: bundle.etag, offset: header.length, length: layer.length });
    assert.ok(copy);
    assert.equal(await storedBytes(root), header.length + layer.length + trailer.length, 'the copy wrote no byte');
    const copied = (await objectHeaderOf(root, 'blobs/layer')).composed!;
    assert.deepEqual(copied.files.map((file) => file.name), ['f0']);
    const segmentFile = join(root, COMPOSED_FOLDER, layout.version, 's1');
    assert.equal((await stat(join(root, COMPOSED_FOLDER, copied.version, 'f0'))).ino, (await stat(segmentFile)).ino);

    // The bundle goes, and its folder with the first sweep past the age after the one that marks it.
    await store.delete('uploads/u/bundle.dcos');
    await store.sweepAbandonedWrites(0);
    await store.sweepAbandonedWrites(0);
    await assert.rejects(stat(segmentFile), { code: 'ENOENT' });
    assert.equal(await storedBytes(root), layer.length, 'only the layer is kept alive: not the headers');
    assert.ok((await readAllBytes((await store.get('blobs/layer')).body)).equals(layer));
  });

  it('copies, rather than links, a member of an object stored as one file much larger than the member', async () => {
    const root = await temporaryDirectory('fs-segments-');
    const store = new FsObjectStore(root);
    const bundle = bytesOf(4, 40 * MiB);
    const { etag } = await store.put('uploads/v/bundle.dcos', bundle);
    await store.copyRange('blobs/small-member', { key: 'uploads/v/bundle.dcos', etag, offset: 1000, length: 2 * MiB });
    assert.deepEqual((await objectHeaderOf(root, 'blobs/small-member')).composed!.files.map((file) => file.name), ['data']);
    // No slack: a member of a twentieth of the file is copied too (the copy outlives the bundle).
    await store.copyRange('blobs/twentieth', { key: 'uploads/v/bundle.dcos', etag, offset: 0, length: 2 * MiB });
    assert.deepEqual((await objectHeaderOf(root, 'blobs/twentieth')).composed!.files.map((file) => file.name), ['data']);
    // Most of the file: linked (a bundle of one large member keeps little else alive).
    await store.copyRange('blobs/large-member', { key: 'uploads/v/bundle.dcos', etag, offset: 100, length: 30 * MiB });
    assert.deepEqual((await objectHeaderOf(root, 'blobs/large-member')).composed!.files.map((file) => file.name), ['f0']);
    await store.put('uploads/v/bundle.dcos', Buffer.from('replaced'));
    assert.equal(await store.copyRange('blobs/stale', { key: 'uploads/v/bundle.dcos', etag, offset: 0, length: 10 }), undefined);
    assert.equal(await store.head('blobs/stale'), undefined);
    assert.ok((await readAllBytes((await store.get('blobs/small-member')).body)).equals(bundle.subarray(1000, 1000 + 2 * MiB)));
    assert.ok((await readAllBytes((await store.get('blobs/large-member')).body)).equals(bundle.subarray(100, 100 + 30 * MiB)));
  });

  it('never sweeps the folder of a segmented write another process is still making, however long it takes', async () => {
    const root = await temporaryDirectory('fs-segments-');
    const writer = new FsObjectStore(root);
    const sweeper = new FsObjectStore(root);
    const pieces = Array.from({ length: 6 }, (_, index) => bytesOf(40 + index, 300_000));
    let released = 0;
    async function* slowBody(): AsyncGenerator<SegmentChunk> {
      for (const [segment, bytes] of pieces.entries()) {
        yield { bytes, segment, apart: true };
        // Between chunks, the other process sweeps with an age far shorter than this write (480 ms).
        await sweeper.sweepAbandonedWrites(150);
        await new Promise((resolve) => setTimeout(resolve, 80));
        await sweeper.sweepAbandonedWrites(150);
        released++;
      }
    }
    await writer.putSegments('uploads/slow/bundle.dcos', slowBody());
    assert.equal(released, pieces.length);
    assert.ok((await readAllBytes((await writer.get('uploads/slow/bundle.dcos')).body)).equals(Buffer.concat(pieces)));
    // Once written and unnamed, it goes as any other.
    await writer.delete('uploads/slow/bundle.dcos');
    const freed = (await sweeper.sweepAbandonedWrites(0)).bytes + (await sweeper.sweepAbandonedWrites(0)).bytes;
    assert.ok(freed >= 6 * 300_000, `the bytes freed are counted, segments included (${freed})`);
  });

  it(`keeps at most ${MAX_EXTENTS} extents whatever the caller marks apart`, async () => {
    const root = await temporaryDirectory('fs-segments-');
    const store = new FsObjectStore(root);
    const pieces = Array.from({ length: 400 }, (_, index) => ({ bytes: bytesOf(10 + index, 1000 + index), apart: index % 2 === 1 }));
    await store.putSegments('many', bundleBody(pieces));
    const layout = (await objectHeaderOf(root, 'many')).composed!;
    assert.ok(layout.extents.length <= MAX_EXTENTS, `${layout.extents.length} extents`);
    assert.ok(layout.files.length > 100, 'many segments still kept apart');
    assert.ok((await readAllBytes((await store.get('many')).body)).equals(Buffer.concat(pieces.map((piece) => piece.bytes))));
  });
});
