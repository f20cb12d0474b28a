/**
 * Ingest with each byte written once (issue 11): a bundle stored in segments has its large members
 * placed at their content addresses as hard links, checked from the checksums the store took as it
 * wrote them, and every check of the reader still holds: a member whose bytes are not what its
 * name or its CRC-32 say is refused with nothing committed, as is a bundle whose central directory
 * lies; a storage failure on the way is retried, and a bundle version gone between the check and
 * the copy is read again rather than trusted.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMPOSED_FOLDER } from '../../lib/adapters/object-store/fs-composed.ts';
import { putBundle } from '../../lib/registry/bundle-storage.ts';
import { resourceKey, uploadBundleKey } from '../../lib/registry/layout.ts';
import { ObjectStoreError, readAllBytes } from '../../lib/ports/object-store.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';
import { startLocalS3 } from '../helpers/local-aws/local-s3.ts';
import { objectHeaderOf } from '../helpers/fs-object-header.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { craftZip } from '../helpers/zip-crafter.ts';
import { inflateRawSync } from 'node:zlib';

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function fileOf(seed: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let offset = 0; offset + 8 <= size; offset += 4096) bytes.writeDoubleLE(seed * 1e6 + offset, offset);
  return bytes;
}

async function* inChunks(bytes: Buffer): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += 65_536) yield bytes.subarray(offset, offset + 65_536);
}

async function uploadInSegments(harness: Harness, bytes: Buffer, id: string): Promise<string> {
  const key = uploadBundleKey(id);
  await putBundle(harness.inner, key, inChunks(bytes), { contentType: 'application/zip' });
  return key;
}

const layoutOf = async (root: string, key: string) => (await objectHeaderOf(root, key)).composed;

/** The bundle with one of its stored entries' bytes replaced (same length), leaving its name and CRC as they were. */
function withMemberBytes(bundle: Buffer, original: Buffer, replacement: Buffer): Buffer {
  const at = bundle.indexOf(original);
  assert.ok(at > 0, 'the member lies in the bundle as it is');
  const changed = Buffer.from(bundle);
  replacement.copy(changed, at);
  return changed;
}

describe('ingest writes each byte once', () => {
  it('links a large member where the upload wrote it, checked without a second read, and keeps nothing else alive', async () => {
    const harness = await startHarness();
    try {
      const large = fileOf(1, 3 * MiB + 5);
      const small = fileOf(2, 4000);
      const key = await uploadInSegments(harness, craftedBundle({ name: 'linked', files: [large, small] }), 'upload-linked');
      const bundleLayout = (await layoutOf(harness.inner.root, key))!;
      const segment = bundleLayout.files.find((file) => file.size === large.length);
      assert.ok(segment, 'the large member was written as a segment of its own');
      // Any read of the bundle breaks past a MiB: the member (3 MiB) must not be read through the store.
      harness.store.inject({ op: 'get', key, times: 10_000, action: { kind: 'cut', afterBytes: MiB } });
      const outcome = await harness.ingest(key);
      harness.store.clear();
      assert.equal(outcome.outcome, 'accepted', JSON.stringify(outcome));
      const blobLayout = (await layoutOf(harness.inner.root, resourceKey(sha256(large))))!;
      assert.deepEqual(blobLayout.files.map((file) => [file.size, file.sha256]), [[large.length, sha256(large)]]);
      const linkedIno = (await stat(join(harness.inner.root, COMPOSED_FOLDER, blobLayout.version, 'f0'))).ino;
      assert.equal(linkedIno, (await stat(join(harness.inner.root, COMPOSED_FOLDER, bundleLayout.version, segment.name))).ino, 'a hard link, not a copy');
      await harness.drain();
      assert.deepEqual(await harness.indexed(), ['linked 1.0.0']);
      assert.equal(await harness.inner.head(key), undefined, 'the bundle is deleted');
      await harness.inner.sweepAbandonedWrites(0);
      await harness.inner.sweepAbandonedWrites(0);
      assert.ok((await readAllBytes((await harness.inner.get(resourceKey(sha256(large)))).body)).equals(large));
      assert.ok((await readAllBytes((await harness.inner.get(resourceKey(sha256(small)))).body)).equals(small));
      assert.equal((await stat(join(harness.inner.root, COMPOSED_FOLDER, blobLayout.version, 'f0'))).nlink, 1, 'the bundle folder is gone: the member alone is kept');
    } finally {
      await harness.close();
    }
  });

  it('refuses a large member whose bytes are not its name, or not its CRC-32, committing nothing', async () => {
    const harness = await startHarness();
    try {
      const large = fileOf(3, 2 * MiB);
      const impostor = fileOf(4, 2 * MiB);
      const bundle = craftedBundle({ name: 'tampered', files: [large] });
      // Bytes that are neither the name's sha256 nor the recorded CRC-32.
      const tampered = await uploadInSegments(harness, withMemberBytes(bundle, large, impostor), 'upload-tampered');
      const refused = await harness.ingest(tampered);
      assert.equal(refused.outcome, 'rejected');
      assert.match(JSON.stringify(refused), /CRC|sha256|Digest/i);
      assert.equal(await harness.inner.head(resourceKey(sha256(large))), undefined);
      assert.equal(await harness.inner.head(resourceKey(sha256(impostor))), undefined);
      assert.equal(await harness.record('tampered', '1.0.0').then((record) => record?.status), 'Failed');
      assert.deepEqual(await harness.indexed(), []);
    } finally {
      await harness.close();
    }
  });

  it('refuses a bundle whose central directory lies about a large member, found only at the end of the stream, committing nothing', async () => {
    const harness = await startHarness();
    try {
      const large = fileOf(5, 2 * MiB + 1);
      const honest = craftedBundle({ name: 'lying', files: [large] });
      // The central directory (read last, after every local header streamed by) claims another
      // CRC-32 for the member than its bytes have; the local header says the same (the reader
      // compares them), so only the bytes can tell.
      const entries = craftZipEntriesOf(honest);
      const lying = craftZip(entries.map((entry) => (entry.name === `resources/sha256/${sha256(large)}` ? { ...entry, declared: { crc: 0x12345678 } } : entry)));
      const key = await uploadInSegments(harness, lying, 'upload-lying');
      const refused = await harness.ingest(key);
      assert.equal(refused.outcome, 'rejected', JSON.stringify(refused));
      assert.match(JSON.stringify(refused), /CRC/i);
      assert.equal(await harness.inner.head(resourceKey(sha256(large))), undefined);
      assert.deepEqual(await harness.indexed(), []);
    } finally {
      await harness.close();
    }
  });

  it('retries a copy the store fails, committing nothing until the copy holds', async () => {
    const harness = await startHarness();
    try {
      const large = fileOf(6, 2 * MiB);
      const content = resourceKey(sha256(large));
      const key = await uploadInSegments(harness, craftedBundle({ name: 'retried', files: [large] }), 'upload-retried');
      harness.store.inject({ op: 'put', key: content, action: { kind: 'fail', error: () => new ObjectStoreError('fs', 'injected 503 of the copy') } });
      await assert.rejects(harness.ingest(key), /injected 503/);
      assert.equal(await harness.inner.head(content), undefined);
      const outcome = await harness.ingest(key);
      assert.equal(outcome.outcome, 'accepted', JSON.stringify(outcome));
      assert.ok((await readAllBytes((await harness.inner.get(content)).body)).equals(large));
    } finally {
      await harness.close();
    }
  });

  it('does not trust a check of a bundle version gone before its copy: it reads again, fails as storage, and writes nothing', async () => {
    const harness = await startHarness();
    try {
      const large = fileOf(7, 2 * MiB);
      const content = resourceKey(sha256(large));
      const key = await uploadInSegments(harness, craftedBundle({ name: 'vanished', files: [large] }), 'upload-vanished');
      const gate = new Gate();
      harness.store.inject({ op: 'put', key: content, action: { kind: 'pause', gate } });
      const ingesting = harness.ingest(key);
      await gate.reached;
      // Checked, about to be copied: the version it checked goes (another attempt finished with it).
      await harness.inner.delete(key);
      gate.release();
      await assert.rejects(ingesting, (error: unknown) => {
        assert.ok(!(error instanceof Error && /DigestMismatch|CRC/.test(error.message)), 'a storage failure, not the bundle\'s');
        return true;
      });
      assert.equal(await harness.inner.head(content), undefined);
      assert.deepEqual(await harness.indexed(), []);
    } finally {
      await harness.close();
    }
  });
});

describe('ingest on S3 copies members inside the store', () => {
  it('places a large member with UploadPartCopy: its bytes are read once to be checked, never written through the process', async () => {
    const s3 = await startLocalS3();
    const harness = await startHarness();
    try {
      const store = s3.store(`single-write-${Date.now()}`);
      const calls: string[] = [];
      const recording = new Proxy(store, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const first = args[0] as string | { key?: string } | undefined;
            calls.push(`${String(property)} ${typeof first === 'string' ? first : (first?.key ?? '')}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const large = fileOf(8, 6 * MiB + 3);
      const key = uploadBundleKey('upload-on-s3');
      await putBundle(store, key, inChunks(craftedBundle({ name: 'on-s3', files: [large] })), { contentType: 'application/zip' });
      const outcome = await harness.ingest(key, { ...harness.context, store: recording });
      assert.equal(outcome.outcome, 'accepted', JSON.stringify(outcome));
      const content = resourceKey(sha256(large));
      assert.ok(calls.includes(`copyRange ${content}`), calls.join('\n'));
      assert.ok(!calls.includes(`put ${content}`), 'the member was not written through the process');
      assert.ok((await readAllBytes((await store.get(content)).body)).equals(large));
    } finally {
      await harness.close();
      await s3.close();
    }
  });
});

/** The entries of a crafted bundle, to craft it again with one of them changed. */
function craftZipEntriesOf(bundle: Buffer): { name: string; content: Buffer; method: 0 | 8 }[] {
  const entries: { name: string; content: Buffer; method: 0 | 8 }[] = [];
  let offset = 0;
  while (bundle.readUInt32LE(offset) === 0x04034b50) {
    const method = bundle.readUInt16LE(offset + 8) === 8 ? 8 : 0;
    const size = bundle.readUInt32LE(offset + 18);
    const nameLength = bundle.readUInt16LE(offset + 26);
    const extraLength = bundle.readUInt16LE(offset + 28);
    const name = bundle.subarray(offset + 30, offset + 30 + nameLength).toString('utf8');
    const start = offset + 30 + nameLength + extraLength;
    const data = bundle.subarray(start, start + size);
    entries.push({ name, method, content: method === 8 ? inflateRawSync(data) : Buffer.from(data) });
    offset = start + size;
  }
  return entries;
}
