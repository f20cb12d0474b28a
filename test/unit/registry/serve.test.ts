import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../../lib/adapters/job-queue/in-process-job-queue.ts';
import { ObjectStoreError, type ObjectStore } from '../../../lib/ports/object-store.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../../lib/registry/context.ts';
import { checkHealth, dcosVersionFromUserAgent, negotiateRepoVersion } from '../../../lib/registry/serve.ts';
import { compareDcosVersions, repositoryVariant, type RepositoryDocument } from '../../../lib/registry/index-document.ts';
import { silentLogger } from '../../../lib/support/logger.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

function contextWith(store: ObjectStore): RegistryContext {
  return { store, queue: new InProcessJobQueue(silentLogger), settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry' }, log: silentLogger, now: () => new Date() };
}

describe('content negotiation for /repo', () => {
  it('prefers v5, then v4, then v3, as Cosmos lists them', () => {
    const repo = (version: string) => `application/vnd.dcos.universe.repo+json;charset=utf-8;version=${version}`;
    assert.equal(negotiateRepoVersion([repo('v5'), repo('v4'), repo('v3')].join(',')), 'v5');
    assert.equal(negotiateRepoVersion([repo('v4'), repo('v3')].join(',')), 'v4');
    assert.equal(negotiateRepoVersion(repo('v3')), 'v3');
    assert.equal(negotiateRepoVersion('application/vnd.dcos.universe.repo+json'), 'v5');
    assert.equal(negotiateRepoVersion('*/*'), 'v5');
    assert.equal(negotiateRepoVersion(undefined), 'v5');
    assert.equal(negotiateRepoVersion('application/json'), undefined);
    assert.equal(negotiateRepoVersion('application/vnd.dcos.universe.repo+json;version=v9'), undefined);
  });

  it('reads the DC/OS version from the Cosmos User-Agent', () => {
    assert.equal(dcosVersionFromUserAgent('cosmos/0.6.3 dcos/2.1.0'), '2.1');
    assert.equal(dcosVersionFromUserAgent('cosmos/0.5.0 dcos/1.10.4-rc1'), '1.10');
    assert.equal(dcosVersionFromUserAgent('curl/8.0'), undefined);
    assert.equal(dcosVersionFromUserAgent(undefined), undefined);
  });

  it('compares DC/OS versions numerically and filters entries per media type and DC/OS version', () => {
    assert.ok(compareDcosVersions('1.10', '1.9') > 0);
    assert.equal(compareDcosVersions('2.0', '2'), 0);
    const document: RepositoryDocument = {
      packages: [
        { name: 'a', packagingVersion: '5.0', minDcosReleaseVersion: '1.12' },
        { name: 'b', packagingVersion: '4.0', minDcosReleaseVersion: '1.11' },
        { name: 'c', packagingVersion: '3.0' },
        { name: 'd', packagingVersion: '4.0', minDcosReleaseVersion: '999' },
      ],
    };
    const names = (variant: { packages: { name?: unknown }[] }) => variant.packages.map((entry) => entry.name);
    assert.deepEqual(names(repositoryVariant(document, 'v5', undefined)), ['a', 'b', 'c', 'd']);
    assert.deepEqual(names(repositoryVariant(document, 'v5', '2.1')), ['a', 'b', 'c']);
    assert.deepEqual(names(repositoryVariant(document, 'v4', '2.1')), ['b', 'c']);
    assert.deepEqual(names(repositoryVariant(document, 'v3', '1.11')), ['c']);
    assert.deepEqual(names(repositoryVariant(document, 'v5', '1.10')), ['c']);
  });
});

describe('health', () => {
  it('reports the number of packages, and Unhealthy when storage fails', async () => {
    const store = new FsObjectStore(await temporaryDirectory());
    assert.deepEqual((await checkHealth(contextWith(store))).body, { checks: { '/repo': { Healthy: { message: 'Able to find 0 package(s).' } } } });
    // A store whose backend is down: every call fails as an unreachable S3 endpoint would.
    const broken = new Proxy(store, {
      get: (target, property) =>
        property === 'name' ? 'broken' : property === 'head' ? async () => Promise.reject(new ObjectStoreError('broken', 'connection refused')) : Reflect.get(target, property),
    }) as ObjectStore;
    const report = await checkHealth(contextWith(broken));
    assert.equal(report.healthy, false);
    assert.match(report.body.checks['/repo']?.Unhealthy?.message ?? '', /^Unable to read the repository: broken: connection refused$/);
  });
});
