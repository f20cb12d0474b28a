/**
 * The bundle reader refuses every malformed bundle with a typed reason and accepts a good one.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MAX_DOCUMENT_BYTES, MAX_JSON_DEPTH, readAndVerifyBundle } from '../../../lib/bundle/bundle-reader.ts';
import { DEFAULT_ZIP_LIMITS } from '../../../lib/bundle/zip/zip-reader.ts';
import { ZipWriter } from '../../../lib/bundle/zip/zip-writer.ts';
import { InvalidBundleError, type BundleFailure } from '../../../lib/bundle/bundle-errors.ts';
import { BufferByteSource, FileByteSource } from '../../../lib/bundle/byte-source.ts';
import { ASSET_BYTES, ICON_BYTES, sampleBundleEntries, sampleManifest, sampleMetadata } from '../../helpers/bundle-builder.ts';
import { craftZip, type CraftedEntry } from '../../helpers/zip-crafter.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

function expectRefusal(bytes: Uint8Array, reason: BundleFailure, message?: RegExp): Promise<void> {
  return assert.rejects(readAndVerifyBundle(new BufferByteSource(bytes)), (error: unknown) => {
    assert.ok(error instanceof InvalidBundleError, `expected an InvalidBundleError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    assert.equal(error.toEnvelope().type, reason);
    if (message) assert.match(error.message, message);
    return true;
  });
}

function withEntry(index: number, change: (entry: CraftedEntry) => CraftedEntry, entries = sampleBundleEntries()): Buffer {
  return craftZip(entries.map((entry, at) => (at === index ? change(entry) : entry)));
}

/** The sample metadata with its description padded so that its JSON is exactly `bytes` long. */
function metadataOfLength(bytes: number): unknown {
  const metadata = sampleMetadata() as unknown as Record<string, unknown>;
  const base = JSON.stringify({ ...metadata, description: '' }).length;
  // Random text: padding that compresses well would trip the compression-ratio check first.
  const padded = { ...metadata, description: randomBytes(bytes).toString('base64').slice(0, bytes - base) };
  assert.equal(JSON.stringify(padded).length, bytes);
  return padded;
}

describe('bundle reader', () => {
  it('takes JSON nested 64 levels deep in metadata.json and refuses 65, as InvalidEntry', async () => {
    const nested = (levels: number): unknown => {
      let value: unknown = 'leaf';
      for (let level = 0; level < levels; level++) value = { n: value };
      return value;
    };
    // The metadata object itself is one level; its `x` holds the rest.
    const withDepth = (depth: number) => ({ ...(sampleMetadata() as unknown as Record<string, unknown>), x: nested(depth - 1) });
    const refused = craftZip(sampleBundleEntries(withDepth(MAX_JSON_DEPTH + 1)));
    await expectRefusal(refused, 'InvalidEntry', /nests JSON 65 levels deep; at most 64/);
    // At the limit the depth check passes (the schema then judges the field).
    await assert.rejects(readAndVerifyBundle(new BufferByteSource(craftZip(sampleBundleEntries(withDepth(MAX_JSON_DEPTH))))), (error: unknown) => !(error instanceof InvalidBundleError && /levels deep/.test(error.message)));
  });

  it('refuses an archive of 100,001 entries, one over the limit, before reading them', async () => {
    // The product's own writer: it writes the zip64 end records a count above 65,535 needs.
    const path = join(await temporaryDirectory(), 'many.zip');
    const writer = await ZipWriter.create(path);
    for (const entry of sampleBundleEntries()) await writer.addBuffer(entry.name, entry.content, { deflate: false });
    for (let index = 4; index <= DEFAULT_ZIP_LIMITS.maxEntries; index++) await writer.addBuffer(`f/${index}`, Buffer.alloc(0), { deflate: false });
    await writer.finish();
    const source = await FileByteSource.open(path);
    try {
      await assert.rejects(readAndVerifyBundle(source), (error: unknown) => error instanceof InvalidBundleError && error.reason === 'UnsupportedEntry' && /declares 100001 entries, more than the 100000 allowed/.test(error.message));
    } finally {
      await source.close();
    }
  });

  it('refuses a metadata.json or manifest.json one byte over 4 MiB as DocumentTooLarge, and takes one at the limit', async () => {
    await expectRefusal(craftZip(sampleBundleEntries(metadataOfLength(MAX_DOCUMENT_BYTES + 1))), 'DocumentTooLarge', /metadata\.json is 4194305 bytes; at most 4194304/);
    const atLimit = await readAndVerifyBundle(new BufferByteSource(craftZip(sampleBundleEntries(metadataOfLength(MAX_DOCUMENT_BYTES)))));
    assert.equal((atLimit.metadata as { description: string }).description.length > 4_000_000, true);
    const manifest = { ...(sampleManifest() as unknown as Record<string, unknown>), builtBy: randomBytes(MAX_DOCUMENT_BYTES).toString('base64').slice(0, MAX_DOCUMENT_BYTES) };
    await expectRefusal(craftZip(sampleBundleEntries(sampleMetadata(), manifest)), 'DocumentTooLarge', /manifest\.json/);
  });

  it('accepts a well-formed bundle and returns its metadata and manifest', async () => {
    const bundle = await readAndVerifyBundle(new BufferByteSource(craftZip(sampleBundleEntries())));
    assert.deepEqual(bundle.metadata, sampleMetadata());
    assert.deepEqual(bundle.manifest, sampleManifest());
    assert.equal(bundle.resources.size, 2);
    assert.equal(bundle.contentBytes, ASSET_BYTES.length + ICON_BYTES.length);
  });

  it('refuses bytes that are not a ZIP archive, and an empty file', async () => {
    await expectRefusal(Buffer.from('this is not a zip archive at all, just some text'), 'UnreadableArchive', /not a ZIP archive/);
    await expectRefusal(Buffer.alloc(0), 'TruncatedArchive');
  });

  it('refuses a truncated archive, wherever it is cut', async () => {
    const whole = craftZip(sampleBundleEntries());
    for (const length of [10, 100, whole.length >> 1, whole.length - 30, whole.length - 1]) {
      await expectRefusal(whole.subarray(0, length), 'TruncatedArchive');
    }
  });

  for (const [name, why] of [
    ['../evil', "'..' segment"],
    ['resources/../../etc/passwd', "'..' segment"],
    ['/etc/passwd', 'absolute path'],
    ['C:/windows/evil', 'drive letter'],
    ['resources\\sha256\\x', 'backslash'],
    ['resources//double', 'empty segment'],
    ['bad\u0001name', 'control character'],
  ] as const) {
    it(`refuses the entry name ${JSON.stringify(name)} (${why})`, async () => {
      const entries = [...sampleBundleEntries(), { name, content: Buffer.from('x') }];
      await expectRefusal(craftZip(entries), 'UnsafeEntryName', new RegExp(why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    });
  }

  it('refuses duplicate entries', async () => {
    const entries = sampleBundleEntries();
    await expectRefusal(craftZip([...entries, entries[2]!]), 'DuplicateEntry', /metadata\.json appears more than once/);
  });

  it('refuses sizes that lie', async () => {
    // The local header disagrees with the central directory.
    await expectRefusal(withEntry(0, (entry) => ({ ...entry, declared: { localSize: 5 } })), 'EntrySizeMismatch');
    // A stored entry that claims more bytes than are stored.
    await expectRefusal(withEntry(0, (entry) => ({ ...entry, declared: { size: entry.content.length + 1 } })), 'EntrySizeMismatch');
    // A deflated entry that inflates to more than it declares.
    await expectRefusal(
      withEntry(2, (entry) => ({ ...entry, declared: { size: entry.content.length - 10, localSize: entry.content.length - 10 } })),
      'EntrySizeMismatch',
    );
    // A stored entry whose bytes run into the central directory.
    await expectRefusal(
      withEntry(3, (entry) => ({ ...entry, method: 0, declared: { size: 10_000_000, compressedSize: 10_000_000 } })),
      'TruncatedArchive',
    );
  });

  it('refuses a CRC-32 that does not match the content', async () => {
    await expectRefusal(withEntry(1, (entry) => ({ ...entry, declared: { crc: 12345 } })), 'ChecksumMismatch');
  });

  it('refuses a zip bomb: a deflated entry whose ratio exceeds the limit', async () => {
    const zeros = Buffer.alloc(20 * 1024 * 1024);
    const entries = [...sampleBundleEntries(), { name: 'bomb.bin', content: zeros, method: 8 as const }];
    await expectRefusal(craftZip(entries), 'CompressionRatioExceeded', /bomb\.bin would inflate/);
  });

  it('refuses encrypted entries and unknown compression methods', async () => {
    await expectRefusal(withEntry(0, (entry) => ({ ...entry, declared: { flags: 0x0801 } })), 'UnsupportedEntry', /encrypted/);
    const bzip = craftZip(sampleBundleEntries()).fill(0, 0, 0);
    const central = bzip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bzip.writeUInt16LE(12, central + 10);
    await expectRefusal(bzip, 'UnsupportedEntry', /compression method 12/);
  });

  it('refuses a resource whose sha256 differs from its name', async () => {
    const tampered = Buffer.from(ASSET_BYTES);
    tampered[0] = tampered[0]! ^ 1;
    await expectRefusal(withEntry(0, (entry) => ({ ...entry, content: tampered })), 'DigestMismatch', /has sha256 [0-9a-f]{64}, not the one its name claims/);
  });

  it('refuses a missing metadata.json or manifest.json with the Cosmos messages', async () => {
    const entries = sampleBundleEntries();
    await expectRefusal(craftZip(entries.filter((entry) => entry.name !== 'metadata.json')), 'MissingEntry', /^Package entry not found: metadata\.json$/);
    await expectRefusal(craftZip(entries.filter((entry) => entry.name !== 'manifest.json')), 'MissingEntry', /^Package entry not found: manifest\.json$/);
  });

  it('refuses metadata.json that is not JSON or not valid against the metadata schema', async () => {
    await expectRefusal(withEntry(2, (entry) => ({ ...entry, content: Buffer.from('{"name": ') })), 'InvalidEntry', /^Package entry was not JSON or did not match the expected schema: metadata\.json$/);
    const { tags: _tags, ...withoutTags } = sampleMetadata();
    await expectRefusal(craftZip(sampleBundleEntries(withoutTags)), 'InvalidEntry', /metadata\.json/);
    await expectRefusal(craftZip(sampleBundleEntries({ ...sampleMetadata(), packagingVersion: '2.0' })), 'InvalidEntry');
  });

  it('refuses a manifest whose pointer does not resolve to the recorded URL', async () => {
    const manifest = sampleManifest();
    const wrongUrl = { ...manifest, resources: [{ ...manifest.resources[0]!, url: 'https://elsewhere.example/asset.tgz' }, manifest.resources[1]!] };
    await expectRefusal(craftZip(sampleBundleEntries(sampleMetadata(), wrongUrl)), 'ManifestMismatch', /does not resolve to https:\/\/elsewhere/);
    const wrongPointer = { ...manifest, resources: [{ ...manifest.resources[0]!, ref: '/resource/assets/uris/nope' }, manifest.resources[1]!] };
    await expectRefusal(craftZip(sampleBundleEntries(sampleMetadata(), wrongPointer)), 'ManifestMismatch');
  });

  it('refuses metadata that references a file the bundle does not carry', async () => {
    const manifest = sampleManifest();
    const partial = { ...manifest, resources: [manifest.resources[0]!] };
    const entries = sampleBundleEntries(sampleMetadata(), partial).filter((entry) => !Buffer.from(entry.content).equals(ICON_BYTES));
    await expectRefusal(craftZip(entries), 'ManifestMismatch', /references https:\/\/example\.com\/icons\/small\.png .* does not contain it/);
  });

  it('refuses a manifest size that differs from the stored entry, and unknown entries', async () => {
    const manifest = sampleManifest();
    const wrongSize = { ...manifest, resources: [{ ...manifest.resources[0]!, size: 1 }, manifest.resources[1]!] };
    await expectRefusal(craftZip(sampleBundleEntries(sampleMetadata(), wrongSize)), 'EntrySizeMismatch');
    const stray = createHash('sha256').update('stray').digest('hex');
    await expectRefusal(craftZip([...sampleBundleEntries(), { name: `resources/sha256/${stray}`, content: Buffer.from('stray') }]), 'UnsupportedEntry');
    await expectRefusal(craftZip([...sampleBundleEntries(), { name: 'docker/images.tar', content: Buffer.from('x') }]), 'UnsupportedEntry');
  });

  it('refuses a manifest of another package, and another format version', async () => {
    await expectRefusal(craftZip(sampleBundleEntries(sampleMetadata(), { ...sampleManifest(), package: { name: 'other', version: '1.0.0' } })), 'ManifestMismatch');
    await expectRefusal(craftZip(sampleBundleEntries(sampleMetadata(), { ...sampleManifest(), formatVersion: 2 })), 'UnsupportedEntry', /format version 2/);
  });

  it('reads from a file and writes nothing beside it', async () => {
    const directory = await temporaryDirectory();
    const path = join(directory, 'bad.dcos');
    await writeFile(path, withEntry(1, (entry) => ({ ...entry, declared: { crc: 1 } })));
    const source = await FileByteSource.open(path);
    try {
      await assert.rejects(readAndVerifyBundle(source), InvalidBundleError);
    } finally {
      await source.close();
    }
    assert.deepEqual(await readdir(directory), ['bad.dcos']);
  });
});
