/**
 * The self-hosted server over TLS (agents' Docker pulls over HTTPS): the CLI adds a package with
 * images over HTTPS, /repo answers over HTTPS, and skopeo pulls an image trusting only the test CA.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serverConfigFrom } from '../../lib/config/environment.ts';
import { startRegistryServer, type RunningRegistry } from '../../lib/server/registry-server.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { skopeo } from '../helpers/skopeo.ts';
import { startSourceRegistry, type SourceRegistry } from '../helpers/source-registry.ts';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-ca.ts';

describe('the self-hosted server over TLS', () => {
  let work: string;
  let certificates: TestCertificates;
  let registry: RunningRegistry;
  let source: SourceRegistry;
  let image: ReturnType<SourceRegistry['addImage']>;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tls-'));
    certificates = await makeTestCertificates(work);
    const config = serverConfigFrom({
      PORT: '0',
      REGISTRY_DATA_DIR: join(work, 'data'),
      REGISTRY_AUTH_TOKENS: 'tls-token',
      REGISTRY_TLS_CERT: certificates.certificatePath,
      REGISTRY_TLS_KEY: certificates.keyPath,
      REGISTRY_GC_GRACE_SECONDS: '0',
    });
    registry = await startRegistryServer(config, { log: silentLogger });
    source = await startSourceRegistry();
    image = source.addImage('team/secure', '1', { layers: 2, format: 'oci' });
  });
  after(async () => {
    await registry?.close();
    await source?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('adds over HTTPS, serves /repo over HTTPS, and lets skopeo pull with --src-cert-dir', async () => {
    assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const definition = join(work, 'secure.json');
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name: 'secure', version: '1.0.0', maintainer: 'ops@example.com', description: 'over TLS', tags: ['tls'],
        resource: { assets: { container: { docker: { app: 'team/secure:1' } } } },
      }),
    );
    const build = await runBuiltCli(['build', `--build-definition-file=${definition}`, `--output-directory=${work}`, `--registry-mirror=docker.io=${source.host}`]);
    assert.equal(build.code, 0, build.stderr);
    const env = { DCOS_REGISTRY_TOKEN: 'tls-token', NODE_EXTRA_CA_CERTS: certificates.caPath };
    const add = await runBuiltCli(['add', `--dcos-file=${join(work, 'secure-1.0.0.dcos')}`, `--url=${registry.url}`, '--wait'], { env });
    assert.equal(add.code, 0, add.stderr);

    const ca = await readFile(certificates.caPath);
    const repo = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      https
        .get(`${registry.url}/repo`, { ca, headers: { accept: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5' } }, (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
        })
        .on('error', reject);
    });
    assert.equal(repo.status, 200);
    assert.equal(repo.type, 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5');
    const host = new URL(registry.url).host;
    assert.match(repo.body, new RegExp(`"app":"${host.replace(/\./g, '\\.')}/team/secure@sha256:[0-9a-f]{64}"`));

    const certDirectory = join(work, 'certs.d');
    await mkdir(certDirectory);
    await writeFile(join(certDirectory, 'ca.crt'), ca);
    const layout = join(work, 'pulled');
    await skopeo(['copy', `--src-cert-dir=${certDirectory}`, `docker://${host}/team/secure:1`, `oci:${layout}:1`]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]?.digest, image.amd64.manifestDigest);
    // Without the CA, the certificate is refused.
    await assert.rejects(skopeo(['inspect', `docker://${host}/team/secure:1`]), /certificate signed by unknown authority|x509/);
  });
});
