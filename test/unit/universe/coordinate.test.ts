import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base32Lower, decodeCoordinate, encodeCoordinate } from '../../../lib/universe/coordinate.ts';

describe('package coordinate', () => {
  it('matches the confirmed vector of spec §11', () => {
    assert.equal(
      encodeCoordinate({ name: 'package-registry', version: '0.2.1-0.2.1-507-5b2ec60' }),
      'pmrg4ylnmurduitqmfrwwylhmuwxezlhnfzxi4tzeiwce5tfojzws33oei5cembogixdcljqfyzc4mjnguydoljvmizgkyzwgarh2',
    );
  });

  it('matches the computed hello-world vector', () => {
    assert.equal(
      encodeCoordinate({ name: 'hello-world', version: '2.1.0-0.31.2' }),
      'pmrg4ylnmurduitimvwgy3zno5xxe3deeiwce5tfojzws33oei5cemrogexdaljqfyztclrsej6q',
    );
  });

  it('agrees with RFC 4648 test vectors (lower case, unpadded)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [input, expected] of vectors) assert.equal(base32Lower(new TextEncoder().encode(input)), expected);
  });

  it('decodes what it encodes and refuses what it did not', () => {
    const coordinate = { name: 'kubernetes-cluster', version: '2.2.2-1.13.5' };
    assert.deepEqual(decodeCoordinate(encodeCoordinate(coordinate)), coordinate);
    assert.equal(decodeCoordinate('not base32!'), undefined);
    assert.equal(decodeCoordinate('mzxw6ytboi'), undefined, 'valid base32 of something that is not a coordinate');
  });
});
