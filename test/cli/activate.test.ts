/**
 * `activate --target=dcos` against a local server standing in for Marathon and Cosmos: the exact
 * app and repository-add request, the wait for health, and --dry-run printing without sending.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

describe('dcos-registry activate --target=dcos', () => {
  let server: Server;
  let url: string;
  const recorded: Recorded[] = [];
  let healthChecks = 0;
  before(async () => {
    server = createServer((request, response) => {
      let text = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      request.on('end', () => {
        recorded.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: text ? (JSON.parse(text) as unknown) : undefined });
        if (request.method === 'POST' && request.url === '/service/marathon/v2/apps') return void response.writeHead(201, { 'content-type': 'application/json' }).end(text);
        if (request.method === 'GET' && request.url?.startsWith('/service/marathon/v2/apps/')) {
          healthChecks++;
          // Healthy on the third look, as a deployment takes a moment.
          return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ app: { instances: 2, tasksHealthy: healthChecks >= 3 ? 2 : 0 } }));
        }
        if (request.method === 'POST' && request.url === '/package/repository/add') return void response.writeHead(200, { 'content-type': 'application/vnd.dcos.package.repository.add-response+json;charset=utf-8;version=v1' }).end('{"repositories":[]}');
        response.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const optionsFile = async (): Promise<string> => {
    const file = join(await temporaryDirectory(), 'options.json');
    await writeFile(
      file,
      JSON.stringify({
        registry: {
          s3: { 'credential-secret-path': 'dcos-registry-s3-credential-file', bucket: 'my-bucket', path: 'my-path', endpoint: 'https://minio.internal:9000' },
          'auth-tokens-secret-path': 'dcos-registry-tokens',
          tls: { 'certificate-path': 'tls/cert.pem', 'key-path': 'tls/key.pem' },
        },
        service: { name: '/my/custom/dcos-registry', instances: 2, 'artifact-url': 'https://artifacts.internal/registry.mjs' },
      }),
    );
    return file;
  };

  it('submits the app, waits until it is healthy, and adds <base>/repo at index 0', async () => {
    const file = await optionsFile();
    const run = await runBuiltCli(['registry', 'activate', `--options=${file}`, `--dcos-url=${url}`, '--json'], { env: { DCOS_ACS_TOKEN: 'acs-token' } });
    assert.equal(run.code, 0, run.stderr);
    const host = 'mycustomdcos-registry.marathon.l4lb.thisdcos.directory';
    assert.deepEqual(JSON.parse(run.stdout), { app: '/my/custom/dcos-registry', repository: `https://${host}/repo` });
    const [app, ...rest] = recorded;
    assert.equal(app?.method, 'POST');
    assert.equal(app?.url, '/service/marathon/v2/apps');
    assert.equal(app?.headers.authorization, 'token=acs-token');
    assert.deepEqual(app?.body, {
      id: '/my/custom/dcos-registry',
      instances: 2,
      cpus: 2,
      mem: 4096,
      disk: 0,
      cmd: 'PORT=$PORT0 exec node --enable-source-maps registry.mjs',
      fetch: [{ uri: 'https://artifacts.internal/registry.mjs', extract: false, executable: false, cache: false }],
      container: { type: 'MESOS', docker: { image: 'node:20-bookworm-slim' }, volumes: [{ containerPath: 's3-credentials', secret: 's3credentials' }] },
      portDefinitions: [{ port: 0, protocol: 'tcp', name: 'registry', labels: { VIP_0: '/my/custom/dcos-registry:443' } }],
      healthChecks: [{ protocol: 'MESOS_HTTPS', path: '/health', portIndex: 0, gracePeriodSeconds: 120, intervalSeconds: 30, timeoutSeconds: 10, maxConsecutiveFailures: 3 }],
      labels: { DCOS_SERVICE_NAME: 'my.custom.dcos-registry', DCOS_PACKAGE_REGISTRY: 'true' },
      env: {
        HOST: '0.0.0.0',
        REGISTRY_PUBLIC_URL: `https://${host}`,
        REGISTRY_DOCKER_HOST: `${host}:443`,
        LOG_LEVEL: 'info',
        REGISTRY_S3_BUCKET: 'my-bucket',
        REGISTRY_S3_PREFIX: 'my-path',
        REGISTRY_S3_ENDPOINT: 'https://minio.internal:9000',
        AWS_PROFILE: 'default',
        AWS_SHARED_CREDENTIALS_FILE: '$MESOS_SANDBOX/s3-credentials',
        REGISTRY_AUTH_TOKENS: { secret: 'tokens' },
        REGISTRY_TLS_CERT: 'tls/cert.pem',
        REGISTRY_TLS_KEY: 'tls/key.pem',
      },
      secrets: { s3credentials: { source: 'dcos-registry-s3-credential-file' }, tokens: { source: 'dcos-registry-tokens' } },
    });
    const polls = rest.filter((request) => request.method === 'GET');
    assert.equal(polls.length, 3, 'polled until healthy');
    const repository = rest[rest.length - 1]!;
    assert.equal(repository.url, '/package/repository/add');
    assert.equal(repository.headers['content-type'], 'application/vnd.dcos.package.repository.add-request+json;charset=utf-8;version=v1');
    assert.equal(repository.headers.accept, 'application/vnd.dcos.package.repository.add-response+json;charset=utf-8;version=v1');
    assert.deepEqual(repository.body, { name: 'Registry', uri: `https://${host}/repo`, index: 0 });
  });

  it('prints the same requests with --dry-run and sends nothing', async () => {
    const before = recorded.length;
    const file = await optionsFile();
    const run = await runBuiltCli(['activate', `--options=${file}`, `--dcos-url=${url}`, '--dry-run', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as { dryRun: boolean; requests: { app: { url: string; body: { id: string } }; repository: { body: unknown } } };
    assert.equal(printed.dryRun, true);
    assert.equal(printed.requests.app.url, `${url}/service/marathon/v2/apps`);
    assert.equal(printed.requests.app.body.id, '/my/custom/dcos-registry');
    assert.deepEqual(printed.requests.repository.body, { name: 'Registry', uri: 'https://mycustomdcos-registry.marathon.l4lb.thisdcos.directory/repo', index: 0 });
    assert.equal(recorded.length, before);
  });

  it('with read protection, registers the capability URL of the read token given, never printing the token', async () => {
    const base = JSON.parse(await readFile(await optionsFile(), 'utf8')) as { registry: Record<string, unknown> };
    const file = join(await temporaryDirectory(), 'protected.json');
    await writeFile(file, JSON.stringify({ ...base, registry: { ...base.registry, 'read-protection': true } }));
    const refused = await runBuiltCli(['activate', `--options=${file}`, `--dcos-url=${url}`, '--dry-run', '--json']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--read-token/);
    const readToken = 'cluster-read-token-0123456789abc';
    const run = await runBuiltCli(['activate', `--options=${file}`, `--dcos-url=${url}`, '--dry-run', '--json'], { env: { DCOS_REGISTRY_READ_TOKEN: readToken } });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes(readToken), 'the dry run printed the token');
    const printed = JSON.parse(run.stdout) as { requests: { repository: { body: { uri: string } }; app: { body: { env: Record<string, unknown> } } } };
    assert.equal(printed.requests.repository.body.uri, 'https://mycustomdcos-registry.marathon.l4lb.thisdcos.directory/c/<read token>/repo');
    assert.equal(printed.requests.app.body.env.REGISTRY_READ_PROTECTION, 'true');
  });

  it('prints the serverless deployment for the aws and localstack targets', async () => {
    const file = await optionsFile();
    const aws = await runBuiltCli(['activate', `--options=${file}`, '--target=aws', '--stage=prod', '--dry-run']);
    assert.equal(aws.code, 0, aws.stderr);
    assert.equal(aws.stdout, 'npx osls deploy --stage prod --param=bucketName=my-bucket\n');
    const localstack = await runBuiltCli(['activate', `--options=${file}`, '--target=localstack', '--dry-run', '--json']);
    assert.equal(localstack.code, 0, localstack.stderr);
    assert.deepEqual((JSON.parse(localstack.stdout) as { command: string[] }).command, [
      'AWS_ENDPOINT_URL=https://minio.internal:9000', 'npx', 'osls', 'deploy', '--stage', 'localstack', '--param=bucketName=my-bucket',
    ]);
  });

  it('warns that the defaults are not for production, and needs the server bundle URL', async () => {
    const run = await runBuiltCli(['activate', `--dcos-url=${url}`, '--dry-run']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /default options, which are NOT recommended in production/);
    assert.match(run.stderr, /needs service\.artifact-url/);
  });
});
