/**
 * review12b: `activate --target=dcos --read-token` prints the read token.
 * docs/security.md: activate "registers that URL, and prints it with the token masked". Only the
 * dry run and the final result line are masked: the progress line "Adding <uri> …" (stderr) of a
 * normal run, and the CosmosRefused error (the uri, plus Cosmos's body, which echoes it), print the
 * capability URL with the token in it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';

const READ_TOKEN = 'review12b-cluster-read-token-0123456789';

describe('review12b: activate never prints the read token', { timeout: 120_000 }, () => {
  let server: Server;
  let url: string;
  let cosmosStatus = 200;
  before(async () => {
    server = createServer((request, response) => {
      let text = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      request.on('end', () => {
        if (request.method === 'POST' && request.url === '/service/marathon/v2/apps') return void response.writeHead(201, { 'content-type': 'application/json' }).end(text);
        if (request.method === 'GET' && request.url?.startsWith('/service/marathon/v2/apps/')) return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ app: { instances: 1, tasksHealthy: 1 } }));
        if (request.method === 'POST' && request.url === '/package/repository/add') {
          const uri = (JSON.parse(text) as { uri: string }).uri;
          // What Cosmos answers for a repository already added: it names the URI.
          if (cosmosStatus !== 200) return void response.writeHead(cosmosStatus, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'RepositoryAlreadyPresent', message: `Repository URI already exists: ${uri}` }));
          return void response.writeHead(200, { 'content-type': 'application/json' }).end('{"repositories":[]}');
        }
        response.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const protectedOptions = async (): Promise<string> => {
    const file = join(await temporaryDirectory(), 'options.json');
    await writeFile(
      file,
      JSON.stringify({
        registry: {
          s3: { 'credential-secret-path': 's3cred', bucket: 'my-bucket', path: 'my-path', endpoint: 'https://minio.internal:9000' },
          'auth-tokens-secret-path': 'dcos-registry-tokens',
          tls: { 'certificate-path': 'tls/cert.pem', 'key-path': 'tls/key.pem' },
          'read-protection': true,
        },
        service: { name: '/dcos-registry', instances: 1, 'artifact-url': 'https://artifacts.internal/registry.mjs' },
      }),
    );
    return file;
  };

  it('a successful activation prints no read token (stdout or stderr)', async () => {
    cosmosStatus = 200;
    const run = await runBuiltCli(['activate', `--options=${await protectedOptions()}`, `--dcos-url=${url}`, `--read-token=${READ_TOKEN}`, '--timeout=10']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes(READ_TOKEN), `stdout shows the token: ${run.stdout}`);
    assert.ok(!run.stderr.includes(READ_TOKEN), `stderr shows the token: ${run.stderr}`);
  });

  it('a refused activation prints no read token', async () => {
    cosmosStatus = 409;
    const run = await runBuiltCli(['activate', `--options=${await protectedOptions()}`, `--dcos-url=${url}`, '--timeout=10'], { env: { DCOS_REGISTRY_READ_TOKEN: READ_TOKEN } });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /CosmosRefused|refused/i, run.stderr);
    assert.ok(!`${run.stdout}${run.stderr}`.includes(READ_TOKEN), `the error shows the token: ${run.stderr}`);
  });
});
