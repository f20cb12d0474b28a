/**
 * A signed bundle with any one byte changed is refused (issue 12): every byte of a small signed
 * bundle, one bit at a time (low and high bit), read as the registry reads it with the signer's
 * key trusted. The signature covers the content and the reader holds the ZIP framing to the
 * writer's own values, so not one change may be accepted.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BundleWriter } from '../../../lib/bundle/bundle-writer.ts';
import { readAndVerifyBundle } from '../../../lib/bundle/bundle-reader.ts';
import { BufferByteSource } from '../../../lib/bundle/byte-source.ts';
import { checkBundleSignature, newSigningKeyPair, trustedKeyFrom } from '../../../lib/signing/bundle-signature.ts';
import { ASSET_BYTES, ICON_BYTES, sampleManifest, sampleMetadata } from '../../helpers/bundle-builder.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

async function accepts(bytes: Buffer, trusted: Parameters<typeof checkBundleSignature>[2]): Promise<boolean> {
  try {
    const bundle = await readAndVerifyBundle(new BufferByteSource(bytes));
    checkBundleSignature(bundle.signatureEnvelope, bundle.signedContent, trusted, bundle);
    return true;
  } catch {
    return false;
  }
}

describe('a signed bundle with one byte changed', () => {
  it('is refused wherever the byte is', async () => {
    const pair = newSigningKeyPair();
    const path = join(await temporaryDirectory('every-byte-'), 'signed.dcos');
    const writer = await BundleWriter.create(path, { overwrite: false });
    for (const bytes of [ASSET_BYTES, ICON_BYTES]) {
      const upload = await writer.beginResource();
      await upload.write(bytes);
      await upload.complete();
    }
    await writer.finish(sampleMetadata(), sampleManifest(), { signingKey: createPrivateKey(pair.privateKeyPem) });
    const signed = await readFile(path);
    const trusted = [trustedKeyFrom(pair.line)];
    assert.equal(await accepts(signed, trusted), true, 'the bundle as signed');
    const accepted: string[] = [];
    for (const bit of [0x01, 0x80]) {
      for (let offset = 0; offset < signed.length; offset++) {
        const changed = Buffer.from(signed);
        changed[offset]! ^= bit;
        if (await accepts(changed, trusted)) accepted.push(`${offset}^0x${bit.toString(16)}`);
      }
    }
    assert.deepEqual(accepted, [], `${accepted.length} of ${2 * signed.length} one-bit changes were accepted`);
  });
});
