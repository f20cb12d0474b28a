/**
 * review12: signatures required hold on every way in, and against envelope games.
 * - The drop folder (<data>/drop/) and the storage drop/ prefix take the same check as an upload:
 *   an unsigned bundle dropped there is refused and writes no package.
 * - An envelope with two signatures, the first under the trusted key's id but forged, the second
 *   a real signature by a stranger's key, is refused (SignatureInvalid), not accepted on either.
 * - A real signature by the trusted key, moved onto another bundle of the same name and version
 *   (metadata changed), is refused.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BundleWriter } from '../../lib/bundle/bundle-writer.ts';
import { BufferByteSource } from '../../lib/bundle/byte-source.ts';
import { ZipArchive } from '../../lib/bundle/zip/zip-reader.ts';
import { keyIdOf, publicKeyLine, SIGNATURE_ENTRY, type DsseEnvelope } from '../../lib/signing/bundle-signature.ts';
import type { PackageMetadata } from '../../lib/universe/package-model.ts';
import { ASSET_BYTES, ICON_BYTES, sampleManifest, sampleMetadata } from '../helpers/bundle-builder.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { storedKeys, type RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { craftZip, type CraftedEntry } from '../helpers/zip-crafter.ts';

async function bundleFile(directory: string, name: string, options: { signingKey?: ReturnType<typeof generateKeyPairSync>['privateKey']; metadata?: PackageMetadata } = {}): Promise<Buffer> {
  const path = join(directory, name);
  const writer = await BundleWriter.create(path, { overwrite: false });
  for (const bytes of [ASSET_BYTES, ICON_BYTES]) {
    const upload = await writer.beginResource();
    await upload.write(bytes);
    await upload.complete();
  }
  await writer.finish(options.metadata ?? sampleMetadata(), sampleManifest(), options.signingKey ? { signingKey: options.signingKey } : {});
  return readFile(path);
}

async function entriesOf(bytes: Buffer): Promise<Map<string, { content: Buffer; method: number }>> {
  const archive = await ZipArchive.open(new BufferByteSource(bytes));
  const entries = new Map<string, { content: Buffer; method: number }>();
  for (const [name, entry] of archive.entries) entries.set(name, { content: await archive.readEntry(entry, 1 << 30), method: entry.method });
  return entries;
}

const rebuilt = (entries: Map<string, { content: Buffer; method: number }>, replace: Record<string, Buffer>): Buffer =>
  craftZip([...entries].map(([name, entry]): CraftedEntry => ({ name, content: replace[name] ?? entry.content, method: entry.method === 8 ? 8 : 0 })));

describe('review12: signatures on every path', { timeout: 120_000 }, () => {
  const trusted = generateKeyPairSync('ed25519');
  const stranger = generateKeyPairSync('ed25519');
  let registry: RegistryUnderTest & { dataDir: string };
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'review12-sig-'));
    registry = await startEmbeddedRegistry({ env: { REGISTRY_TRUSTED_KEYS: publicKeyLine(trusted.publicKey) } });
  });
  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('an unsigned bundle in the drop folder is refused, no package written', async () => {
    const unsigned = join(work, 'unsigned.dcos');
    await bundleFile(work, 'unsigned.dcos');
    await copyFile(unsigned, join(registry.dataDir, 'drop', 'unsigned.dcos'));
    const deadline = Date.now() + 20_000;
    // Wait until the drop folder took it (the file goes) and the ingest settled.
    for (;;) {
      await registry.settled();
      const keys = await storedKeys(registry, 'uploads/');
      if (keys.some((key) => key.endsWith('.json')) && !(await storedKeys(registry, 'drop/')).length) break;
      if (Date.now() > deadline) throw new Error(`drop not ingested: ${keys}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.deepEqual(await storedKeys(registry, 'packages/'), []);
    const records = await storedKeys(registry, 'uploads/');
    const record = JSON.parse((await readFile(join(registry.dataDir, 'objects', `${records.find((key) => key.endsWith('.json'))!}.obj`))).toString('utf8').split('}{')[0] + '}') as { status: string; error?: { type: string } };
    assert.equal(record.status, 'Rejected');
    assert.equal(record.error?.type, 'BundleNotSigned');
  });

  it('a forged signature under the trusted key id beside a stranger\'s real one is refused', async () => {
    const signed = await bundleFile(work, 'stranger.dcos', { signingKey: stranger.privateKey });
    const entries = await entriesOf(signed);
    const envelope = JSON.parse(entries.get(SIGNATURE_ENTRY)!.content.toString('utf8')) as DsseEnvelope;
    const forged: DsseEnvelope = { ...envelope, signatures: [{ keyid: keyIdOf(trusted.publicKey), sig: envelope.signatures[0]!.sig }, ...envelope.signatures] };
    const outcome = await httpAdd(registry.url, registry.token, rebuilt(entries, { [SIGNATURE_ENTRY]: Buffer.from(JSON.stringify(forged)) }));
    assert.equal(outcome.status, 'Rejected');
    assert.equal(outcome.error?.type, 'SignatureInvalid');
    await registry.settled();
    assert.deepEqual(await storedKeys(registry, 'packages/'), []);
  });

  it('the trusted signature of one bundle does not carry to another of the same name and version', async () => {
    const good = await bundleFile(work, 'good.dcos', { signingKey: trusted.privateKey });
    const evil = await bundleFile(work, 'evil.dcos', { metadata: { ...sampleMetadata(), description: 'swapped on the way' } });
    const envelope = (await entriesOf(good)).get(SIGNATURE_ENTRY)!.content;
    const evilEntries = await entriesOf(evil);
    evilEntries.set(SIGNATURE_ENTRY, { content: envelope, method: 0 });
    const outcome = await httpAdd(registry.url, registry.token, rebuilt(evilEntries, {}));
    assert.equal(outcome.status, 'Rejected');
    assert.equal(outcome.error?.type, 'SignatureInvalid');
    await registry.settled();
    assert.deepEqual(await storedKeys(registry, 'packages/'), []);
  });
});
