import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PackagingError } from '../../../lib/domain/errors.ts';
import { sha256Digest, type ManifestList } from '../../../lib/images/media-types.ts';
import { chooseChildren, platformChoiceOf, reduceIndex } from '../../../lib/images/platforms.ts';
import { parseByteRange } from '../../../lib/http/byte-range.ts';

const digest = (seed: string): string => sha256Digest(Buffer.from(seed));
const LIST: ManifestList & { annotations: Record<string, string> } = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  annotations: { 'org.example.kept': 'yes' },
  manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest('amd64'), size: 10, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest('arm64'), size: 11, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest('armv7'), size: 12, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  ],
};
const refuse = (problem: string): Error => new PackagingError('ImagePullFailed', problem, {});

describe('platforms of multi-platform images', () => {
  it('reads --platform: repeatable, comma lists, variants, all, and refuses what is not a platform', () => {
    assert.deepEqual(platformChoiceOf([]), [{ os: 'linux', architecture: 'amd64' }]);
    assert.deepEqual(platformChoiceOf(['linux/amd64', 'linux/arm/v7,linux/AMD64']), [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
    assert.equal(platformChoiceOf(['all']), 'all');
    for (const bad of [['linux'], ['linux/amd64/v1/x'], ['../etc'], ['all', 'linux/amd64'], ['linux/am d64']]) {
      assert.throws(() => platformChoiceOf(bad), (error: unknown) => error instanceof PackagingError && error.type === 'InvalidOption', bad.join(' '));
    }
  });

  it('takes the children asked for, every one with all, and names what is offered when one is missing', () => {
    assert.deepEqual(chooseChildren(LIST, [{ os: 'linux', architecture: 'arm64' }], refuse).map((child) => child.digest), [digest('arm64')]);
    assert.deepEqual(chooseChildren(LIST, [{ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'amd64' }], refuse).map((child) => child.digest), [digest('armv7'), digest('amd64')], 'a variant is matched when named');
    assert.equal(chooseChildren(LIST, 'all', refuse).length, 3);
    assert.throws(() => chooseChildren(LIST, [{ os: 'linux', architecture: 'arm', variant: 'v6' }], refuse), /has no linux\/arm\/v6 image \(it offers linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)/);
    assert.throws(() => chooseChildren(LIST, [{ os: 'windows', architecture: 'amd64' }], refuse), /windows\/amd64/);
  });

  it('reduces an index to the stored children, the same bytes every time, and keeps a complete one', () => {
    const source = Buffer.from(JSON.stringify(LIST));
    assert.equal(reduceIndex(source, () => true), undefined, 'all stored: served as the source wrote it');
    const stored = new Set([digest('amd64'), digest('armv7')]);
    const reduced = reduceIndex(source, (child) => stored.has(child))!;
    const document = JSON.parse(reduced.bytes.toString('utf8')) as typeof LIST;
    assert.deepEqual(document.manifests.map((child) => child.digest), [digest('amd64'), digest('armv7')]);
    assert.deepEqual(document.annotations, LIST.annotations, 'every other field kept');
    assert.equal(document.mediaType, LIST.mediaType);
    assert.equal(reduced.digest, sha256Digest(reduced.bytes));
    assert.deepEqual(reduced.omitted.map((child) => child.platform), ['linux/arm64/v8']);
    assert.deepEqual(reduceIndex(source, (child) => stored.has(child))!.bytes, reduced.bytes, 'deterministic');
  });

  it('reads one byte range of a blob as RFC 9110 says', () => {
    assert.deepEqual(parseByteRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseByteRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-500', 100), { start: 0, end: 99 });
    assert.deepEqual(parseByteRange('bytes=50-5000', 100), { start: 50, end: 99 });
    assert.equal(parseByteRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseByteRange('bytes=-0', 100), 'unsatisfiable');
    for (const whole of [undefined, 'bytes=0-1,3-4', 'items=0-1', 'bytes=9-2', 'bytes=-', 'bytes=1e3-']) assert.equal(parseByteRange(whole, 100), undefined, String(whole));
  });
});
