import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../../../lib/domain/errors.ts';
import { parseImageReference, servedImageReference } from '../../../lib/images/image-reference.ts';

describe('Docker image references', () => {
  it('splits host, repository, tag and digest, and names the repository as spec §4.4 says', () => {
    assert.deepEqual(parseImageReference('redis:5.0.5'), { original: 'redis:5.0.5', registry: 'docker.io', remoteName: 'library/redis', repository: 'redis', tag: '5.0.5' });
    assert.deepEqual(parseImageReference('docker.io/mesosphere/foo:1'), {
      original: 'docker.io/mesosphere/foo:1', registry: 'docker.io', remoteName: 'mesosphere/foo', repository: 'mesosphere/foo', tag: '1',
    });
    const gcr = parseImageReference('k8s.gcr.io/metrics-server/metrics-server:v0.3.7');
    assert.equal(gcr.registry, 'k8s.gcr.io');
    assert.equal(gcr.repository, 'metrics-server/metrics-server');
    const local = parseImageReference(`localhost:5000/team/app@sha256:${'a'.repeat(64)}`);
    assert.equal(local.registry, 'localhost:5000');
    assert.equal(local.tag, undefined);
    assert.equal(local.digest, `sha256:${'a'.repeat(64)}`);
    assert.equal(parseImageReference('mesosphere/kubernetes').tag, 'latest');
  });

  it('refuses names, tags and digests that could escape a path or are not Docker syntax', () => {
    for (const bad of ['../etc:1', 'Upper/Case:1', 'repo:bad/tag', 'repo@sha256:xyz', 'a//b:1', 'repo:..', 'host..name/app:1']) {
      assert.throws(() => parseImageReference(bad), (error: unknown) => error instanceof RegistryError && error.type === 'InvalidImageReference', bad);
    }
  });

  it('writes the served reference with the registry host', () => {
    assert.equal(
      servedImageReference('registry.example.com:443', parseImageReference('docker.io/mesosphere/foo:1'), `sha256:${'a'.repeat(64)}`),
      `registry.example.com:443/mesosphere/foo@sha256:${'a'.repeat(64)}`,
    );
  });
});
