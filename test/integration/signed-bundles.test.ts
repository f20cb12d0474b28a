/**
 * Signed bundles end to end (issue 12, item 3), with the built CLI and a registry that trusts one
 * key: `key create` → `build --sign-key` → `verify` offline → `add`. A signed and an unsigned
 * build of one definition differ by the envelope entry only; an unsigned bundle, one signed by
 * another key, one whose metadata was changed after signing and one with a byte flipped are each
 * refused with their type, and none writes a package.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BufferByteSource } from '../../lib/bundle/byte-source.ts';
import { ZipArchive } from '../../lib/bundle/zip/zip-reader.ts';
import { SIGNATURE_ENTRY } from '../../lib/signing/bundle-signature.ts';
import { rewriteEverythingTo, startAssetServer, type AssetServer } from '../helpers/asset-server.ts';
import { servedBuildDefinition } from '../helpers/build-definitions.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { storedKeys, type RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { HELLO_WORLD } from '../helpers/test-bundles.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { craftZip, type CraftedEntry } from '../helpers/zip-crafter.ts';

interface Key {
  keyId: string;
  privateKey: string;
  publicKey: string;
  trustedKeyLine: string;
}

async function entriesOf(bytes: Buffer): Promise<Map<string, { content: Buffer; method: number }>> {
  const archive = await ZipArchive.open(new BufferByteSource(bytes));
  const entries = new Map<string, { content: Buffer; method: number }>();
  for (const [name, entry] of archive.entries) entries.set(name, { content: await archive.readEntry(entry, 1 << 30), method: entry.method });
  return entries;
}

describe('signed bundles', { timeout: 180_000 }, () => {
  let work: string;
  let assets: AssetServer;
  let registry: RegistryUnderTest;
  let trusted: Key;
  let stranger: Key;
  let signed: Buffer;
  let unsigned: Buffer;
  let signedPath: string;
  let unsignedPath: string;

  const cli = async (args: string[]): Promise<{ code: number; document: Record<string, unknown> }> => {
    const run = await runBuiltCli([...args, '--json']);
    const text = (run.code === 0 ? run.stdout : run.stderr).trim().split('\n').pop()!;
    return { code: run.code, document: JSON.parse(text) as Record<string, unknown> };
  };

  before(async () => {
    work = await temporaryDirectory('signed-bundles-');
    assets = await startAssetServer();
    await mkdir(join(work, 'keys'));
    trusted = (await cli(['key', 'create', `--out=${join(work, 'keys', 'build')}`])).document as unknown as Key;
    stranger = (await cli(['key', 'create', `--out=${join(work, 'keys', 'other')}`])).document as unknown as Key;
    const { file } = await servedBuildDefinition(HELLO_WORLD, work);
    const build = async (output: string, extra: string[]): Promise<string> => {
      const rewrites = rewriteEverythingTo(assets.baseUrl).flatMap((rule) => ['--url-rewrite', rule]);
      const result = await cli(['build', `--build-definition-file=${file}`, `--output-directory=${join(work, output)}`, ...rewrites, ...extra]);
      assert.equal(result.code, 0, JSON.stringify(result.document));
      return result.document.name as string;
    };
    signedPath = await build('signed', [`--sign-key=${trusted.privateKey}`]);
    unsignedPath = await build('unsigned', []);
    signed = await readFile(signedPath);
    unsigned = await readFile(unsignedPath);
    registry = await startEmbeddedRegistry({ env: { REGISTRY_TRUSTED_KEYS: trusted.trustedKeyLine } });
  });
  after(async () => {
    await registry?.close();
    await assets?.close();
  });

  it('a signed and an unsigned build of one definition differ by the envelope only', async () => {
    const a = await entriesOf(signed);
    const b = await entriesOf(unsigned);
    assert.deepEqual([...a.keys()].filter((name) => name !== SIGNATURE_ENTRY), [...b.keys()]);
    assert.ok(a.has(SIGNATURE_ENTRY));
    for (const [name, entry] of b) assert.ok(a.get(name)!.content.equals(entry.content), `${name} differs`);
  });

  it('verify checks offline: the right key holds; another key, an unsigned bundle and no key say so', async () => {
    const good = await cli(['verify', `--dcos-file=${signedPath}`, `--key=${trusted.publicKey}`]);
    assert.equal(good.code, 0);
    assert.equal(good.document.keyId, trusted.keyId);
    assert.equal(good.document.signatureVerified, true);
    const other = await cli(['verify', `--dcos-file=${signedPath}`, `--key=${stranger.publicKey}`]);
    assert.equal(other.code, 1);
    assert.equal(other.document.type, 'SignerNotTrusted');
    assert.equal((other.document.data as { keyId: string }).keyId, trusted.keyId);
    assert.equal((await cli(['verify', `--dcos-file=${unsignedPath}`, `--key=${trusted.publicKey}`])).document.type, 'BundleNotSigned');
    const unchecked = await cli(['verify', `--dcos-file=${signedPath}`]);
    assert.equal(unchecked.code, 0);
    assert.equal(unchecked.document.signatureVerified, false);
  });

  it('refuses unsigned, stranger-signed, changed-after-signing and byte-flipped bundles, writing no package', async () => {
    const entries = await entriesOf(signed);
    const rebuilt = (change: (name: string, content: Buffer) => Buffer): Buffer =>
      craftZip([...entries].map(([name, entry]): CraftedEntry => ({ name, content: change(name, entry.content), method: entry.method === 8 ? 8 : 0 })));
    // The metadata changed, as an attacker would: a valid archive, the envelope kept.
    const changedMetadata = rebuilt((name, content) => (name === 'metadata.json' ? Buffer.from(content.toString('utf8').replace('"description": "', '"description": "Changed. ')) : content));
    // Signed by a key the registry does not trust: the same content, the other key's envelope.
    const strangerBuild = join(work, 'stranger');
    const flipped = Buffer.from(signed);
    flipped[Math.floor(flipped.length / 3)]! ^= 0x01;
    const strangerSigned = await (async () => {
      await mkdir(join(work, 'stranger-def'));
      const { file } = await servedBuildDefinition(HELLO_WORLD, join(work, 'stranger-def'));
      const rewrites = rewriteEverythingTo(assets.baseUrl).flatMap((rule) => ['--url-rewrite', rule]);
      const result = await cli(['build', `--build-definition-file=${file}`, `--output-directory=${strangerBuild}`, ...rewrites, `--sign-key=${stranger.privateKey}`]);
      assert.equal(result.code, 0, JSON.stringify(result.document));
      return readFile(result.document.name as string);
    })();
    const packagesBefore = await storedKeys(registry, 'packages/');
    for (const [label, bytes, type] of [
      ['unsigned', unsigned, 'BundleNotSigned'],
      ['signed by another key', strangerSigned, 'SignerNotTrusted'],
      ['metadata changed after signing', changedMetadata, 'SignatureInvalid'],
      ['one byte flipped', flipped, undefined],
    ] as const) {
      const outcome = await httpAdd(registry.url, registry.token, bytes);
      assert.equal(outcome.status, 'Rejected', label);
      if (type) assert.equal(outcome.error?.type, type, `${label}: ${JSON.stringify(outcome.error)}`);
      if (type === 'SignerNotTrusted') assert.equal((outcome.error as { data?: { keyId?: string } } | null | undefined)?.data?.keyId, stranger.keyId);
      await registry.settled();
    }
    // Before the good bundle (next test) put its files in: the flipped byte is then in content
    // the registry does not hold yet, which it must check. None of these wrote a package.
    assert.deepEqual(await storedKeys(registry, 'packages/'), packagesBefore);
    assert.deepEqual(packagesBefore, []);
  });

  it('the registry takes the signed bundle and records its signer (describe and list)', async () => {
    const added = await httpAdd(registry.url, registry.token, signed);
    assert.equal(added.status, 'Accepted', JSON.stringify(added.error));
    await registry.settled();
    const described = (await (await fetch(`${registry.url}/v1/packages/hello-world/${encodeURIComponent('3.2.0-0.57.3')}`, { headers: { authorization: `Bearer ${registry.token}` } })).json()) as Record<string, unknown>;
    assert.equal(described.signedBy, trusted.keyId, JSON.stringify(described));
    const listed = (await (await fetch(`${registry.url}/v1/packages?name=hello-world`, { headers: { authorization: `Bearer ${registry.token}` } })).json()) as { packages: Record<string, unknown>[] };
    assert.equal(listed.packages.find((row) => row.version === '3.2.0-0.57.3')?.signedBy, trusted.keyId, JSON.stringify(listed));
  });
});
