import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { BundleSignatureError, checkBundleSignature, keyIdOf, newSigningKeyPair, signBundle, signingKeyFrom, trustedKeyFrom, type SignedContent } from '../../../lib/signing/bundle-signature.ts';
import { RegistryError } from '../../../lib/domain/errors.ts';

/** What the bundle reader says of a bundle its own writer made (these tests have no archive). */
const FRAMING = { canonicalFraming: true };

const content: SignedContent = { name: 'hello', version: '1.0', metadataSha256: '1'.repeat(64), manifestSha256: '2'.repeat(64) };

function refusal(run: () => unknown): BundleSignatureError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof BundleSignatureError, String(error));
    return error;
  }
  assert.fail('not refused');
}

describe('bundle signatures', () => {
  const pair = newSigningKeyPair();
  const key = createPrivateKey(pair.privateKeyPem);
  const publicKey = createPublicKey(pair.publicKeyPem);
  const envelope = signBundle(key, content);
  const bytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

  it('verifies with the key, by its one-line form or its PEM; the id is the same either way', () => {
    assert.deepEqual(checkBundleSignature(bytes(envelope), content, [trustedKeyFrom(pair.line)], FRAMING), { keyId: pair.keyId, verified: true });
    assert.deepEqual(checkBundleSignature(bytes(envelope), content, [trustedKeyFrom(pair.publicKeyPem)], FRAMING), { keyId: pair.keyId, verified: true });
    assert.equal(keyIdOf(publicKey), pair.keyId);
    assert.deepEqual(checkBundleSignature(bytes(envelope), content, undefined, FRAMING), { keyId: pair.keyId, verified: false });
  });

  it('refuses: unsigned, a changed document, an untrusted signer, a forged signature under a trusted key id', () => {
    assert.equal(refusal(() => checkBundleSignature(undefined, content, [publicKey], FRAMING)).type, 'BundleNotSigned');
    for (const changed of [{ ...content, metadataSha256: '3'.repeat(64) }, { ...content, manifestSha256: '3'.repeat(64) }, { ...content, version: '1.1' }]) {
      assert.equal(refusal(() => checkBundleSignature(bytes(envelope), changed, [publicKey], FRAMING)).type, 'SignatureInvalid');
    }
    const other = newSigningKeyPair();
    const untrusted = refusal(() => checkBundleSignature(bytes(envelope), content, [trustedKeyFrom(other.line)], FRAMING));
    assert.equal(untrusted.type, 'SignerNotTrusted');
    assert.equal(untrusted.data.keyId, pair.keyId);
    // The other key's signature, labelled with the trusted key's id.
    const forged = { ...envelope, signatures: [{ keyid: pair.keyId, sig: signBundle(createPrivateKey(other.privateKeyPem), content).signatures[0]!.sig }] };
    const invalid = refusal(() => checkBundleSignature(bytes(forged), content, [publicKey], FRAMING));
    assert.equal(invalid.type, 'SignatureInvalid');
    assert.equal(invalid.data.keyId, pair.keyId);
  });

  it('takes only Ed25519 keys', () => {
    assert.throws(() => signingKeyFrom('not a key'), RegistryError);
    assert.throws(() => trustedKeyFrom('ed25519:AAAA'), RegistryError);
    assert.equal(signingKeyFrom(pair.privateKeyPem).asymmetricKeyType, 'ed25519');
  });
});
