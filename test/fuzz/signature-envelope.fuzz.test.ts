/**
 * Mutated signature envelopes (lib/signing/bundle-signature.ts): each must be refused with a
 * BundleSignatureError or, if it still verifies, carry the very payload and signature that were
 * signed (a change of whitespace, say). No other exception, and no forged acceptance. Seeded.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { BundleSignatureError, checkBundleSignature, newSigningKeyPair, signBundle, type SignedContent } from '../../lib/signing/bundle-signature.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

/** What the bundle reader says of a bundle its own writer made (these tests have no archive). */
const FRAMING = { canonicalFraming: true };

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const CASES = 4_000;


const TOKENS = ['"', '{', '}', '[', ']', ',', ':', '\\', 'A', '=', '0', '"sig"', '"keyid"', '"payload"', 'null', '1e999', '-', ' ', '\u0000', '\uffff'];

describe('signature envelope fuzzing', () => {
  it(`${CASES} mutations of a signed envelope: refused with a typed error, or verified only as signed (seed ${SEED})`, () => {
    const pair = newSigningKeyPair();
    const key = createPrivateKey(pair.privateKeyPem);
    const trusted = [createPublicKey(pair.publicKeyPem)];
    const content: SignedContent = { name: 'hello', version: '1.0', metadataSha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64) };
    const envelope = signBundle(key, content);
    const original = Buffer.from(JSON.stringify(envelope, null, 2));
    assert.equal(checkBundleSignature(original, content, trusted, FRAMING).verified, true);
    const random = seededRandom(SEED);
    const outcomes = { refused: 0, verified: 0 };
    for (let index = 0; index < CASES; index++) {
      let text = original.toString('latin1');
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * text.length);
        const kind = random();
        if (kind < 0.4) text = text.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) + text.slice(at + 1);
        else if (kind < 0.6) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 8));
        else text = text.slice(0, at) + TOKENS[Math.floor(random() * TOKENS.length)]! + text.slice(at);
      }
      const bytes = Buffer.from(text, 'latin1');
      try {
        checkBundleSignature(bytes, content, trusted, FRAMING);
        // Still verifies: it must be the signed envelope, only spelled differently.
        const parsed = JSON.parse(bytes.toString('utf8')) as typeof envelope;
        assert.equal(parsed.payload, envelope.payload, `case ${index}`);
        assert.equal(parsed.signatures.some((signature) => signature.sig === envelope.signatures[0]!.sig), true, `case ${index}`);
        outcomes.verified++;
      } catch (error) {
        assert.ok(error instanceof BundleSignatureError, `case ${index}: ${String(error)}`);
        outcomes.refused++;
      }
    }
    assert.ok(outcomes.refused > CASES / 2, JSON.stringify(outcomes));
  });
});
