/**
 * The split of a streaming bundle into segments: the large stored members' data, exactly where
 * the reader finds it, and nothing else; the bytes handed on are the bytes received, whatever the
 * chunking and whatever the input (a ZIP that lies, or no ZIP at all).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BufferByteSource } from '../../../lib/bundle/byte-source.ts';
import { ZipArchive } from '../../../lib/bundle/zip/zip-reader.ts';
import { ZipWriter } from '../../../lib/bundle/zip/zip-writer.ts';
import { MIN_APART_BYTES, storedMemberSegments } from '../../../lib/bundle/zip/stored-member-segments.ts';
import type { SegmentChunk } from '../../../lib/ports/object-store.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

async function* randomlyChunked(bytes: Buffer, seed: number, reuse = false): AsyncGenerator<Uint8Array> {
  const random = seededRandom(seed);
  const scratch = Buffer.alloc(200_000);
  for (let offset = 0; offset < bytes.length; ) {
    const size = Math.min(bytes.length - offset, 1 + Math.floor(random() * (random() < 0.3 ? 40 : 150_000)));
    // A body may hand out one buffer again, refilled: the splitter must be done with it by then.
    if (reuse) {
      bytes.copy(scratch, 0, offset, offset + size);
      yield scratch.subarray(0, size);
    } else {
      yield bytes.subarray(offset, offset + size);
    }
    offset += size;
  }
}

async function collect(body: AsyncIterable<SegmentChunk>): Promise<{ whole: Buffer; apart: Map<number, Buffer>; segments: number[] }> {
  const all: Buffer[] = [];
  const apart = new Map<number, Buffer[]>();
  const segments: number[] = [];
  for await (const chunk of body) {
    // Copied at once: the next chunk may reuse the buffer.
    const bytes = Buffer.from(chunk.bytes);
    all.push(bytes);
    if (segments[segments.length - 1] !== chunk.segment) segments.push(chunk.segment);
    if (chunk.apart) apart.set(chunk.segment, [...(apart.get(chunk.segment) ?? []), bytes]);
  }
  return { whole: Buffer.concat(all), apart: new Map([...apart].map(([segment, parts]) => [segment, Buffer.concat(parts)])), segments };
}

async function sampleBundle(): Promise<Buffer> {
  const path = join(await temporaryDirectory('segments-'), 'sample.zip');
  const writer = await ZipWriter.create(path);
  await writer.addBuffer('meta/package.json', Buffer.from('{"name":"x"}'.repeat(50)), { deflate: true });
  for (const [index, size] of [3 * MIN_APART_BYTES + 11, 100, MIN_APART_BYTES, 2 * MIN_APART_BYTES].entries()) {
    const entry = await writer.beginStoredEntry(`blob/${'0'.repeat(8)}`.length);
    const bytes = Buffer.alloc(size, index + 1);
    for (let offset = 0; offset < size; offset += 65_536) await entry.write(bytes.subarray(offset, offset + 65_536));
    await entry.commit(`blob/${String(index).padStart(8, '0')}`);
  }
  await writer.addBuffer('meta/small.json', Buffer.from('{}'), { deflate: false });
  await writer.finish();
  return readFile(path);
}

describe('storedMemberSegments', () => {
  it('hands on the large stored members apart, exactly as the reader finds them, whatever the chunks', async () => {
    const bundle = await sampleBundle();
    const archive = await ZipArchive.open(new BufferByteSource(bundle));
    const expected = [...archive.entries.values()]
      .filter((entry) => entry.method === 0 && entry.compressedSize >= MIN_APART_BYTES)
      .sort((a, b) => a.dataOffset - b.dataOffset)
      .map((entry) => bundle.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize));
    assert.equal(expected.length, 3, 'three members of at least the bound');
    for (const [seed, reuse] of [[1, false], [2, true], [3, true], [4, false]] as const) {
      const { whole, apart, segments } = await collect(storedMemberSegments(randomlyChunked(bundle, seed, reuse)));
      assert.ok(whole.equals(bundle), `seed ${seed}: the bytes are the bytes received`);
      assert.deepEqual([...apart.values()].map((bytes) => bytes.length), expected.map((bytes) => bytes.length), `seed ${seed}`);
      for (const [index, bytes] of [...apart.values()].entries()) assert.ok(bytes.equals(expected[index]!), `seed ${seed}: member ${index}`);
      assert.deepEqual(segments, [...segments].sort((a, b) => a - b), 'segments in order');
    }
  });

  it('passes anything it does not understand on as it is, apart from nothing', async () => {
    const bundle = await sampleBundle();
    const noZip = Buffer.from('not a zip at all, just bytes'.repeat(100_000));
    // A data descriptor: the sizes come after the data, so nothing after that header is split.
    const described = Buffer.from(bundle);
    described.writeUInt16LE(described.readUInt16LE(6) | 0x0008, 6);
    // A local header that claims more data than there is.
    const lying = Buffer.from(bundle);
    const firstStored = [...(await ZipArchive.open(new BufferByteSource(bundle))).entries.values()].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset)[1]!;
    lying.writeUInt32LE(0xfffffff0, firstStored.localHeaderOffset + 18);
    for (const [name, input, apartCount] of [['no zip', noZip, 0], ['data descriptor', described, 0], ['empty', Buffer.alloc(0), 0], ['a cut header', bundle.subarray(0, 20), 0]] as const) {
      const { whole, apart } = await collect(storedMemberSegments(randomlyChunked(input, 7, true)));
      assert.ok(whole.equals(input), name);
      assert.equal(apart.size, apartCount, name);
    }
    const { whole } = await collect(storedMemberSegments(randomlyChunked(lying, 8, true)));
    assert.ok(whole.equals(lying), 'a lying header changes no byte');
  });
});
