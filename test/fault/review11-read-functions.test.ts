/**
 * Attack on the read functions built with `queuesNothing` (lambda-dependencies.ts; functions/
 * health, repo, resource, registry): no path those handlers reach may queue a job (it would now
 * throw). They are served here as a Lambda is configured (no streaming, 4 MiB inline, a presigning
 * store) over a directory store in every state a reader meets: nothing published, packages and
 * images published, the v4/v3 objects behind the v5 one (a writer died between), a legacy index.
 * Their bundles carry no SQS client and no schema validator; the S3 and SQS clients are made on
 * first use.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { S3ObjectStore } from '../../lib/adapters/object-store/s3-object-store.ts';
import { lambdaDependencies, queuesNothing } from '../../lib/config/lambda-dependencies.ts';
import { sqsQueue } from '../../lib/config/lambda-queue.ts';
import type { HandlerDependencies } from '../../lib/handlers/dependencies.ts';
import type { HttpFunction } from '../../lib/handlers/http-functions.ts';
import { makeHealthHandler, makeRegistryHandler, makeRepoHandler, makeResourceHandler } from '../../lib/handlers/read-handlers.ts';
import type { HttpFunctionName } from '../../lib/http/routes.ts';
import type { JobQueue, RegistryJob } from '../../lib/ports/job-queue.ts';
import { INDEX_KEY, mediaObjectKey } from '../../lib/registry/layout.ts';
import { httpFront } from '../../lib/server/http-front.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';

const ENV = { REGISTRY_BUCKET: 'bucket', REGISTRY_PUBLIC_URL: 'https://registry.example', REGISTRY_AUTH_TOKENS: 'token-0123456789abcdef', AWS_REGION: 'us-east-1' };

/** The read functions over `root`, as their Lambdas are built, answering over real HTTP. */
async function readFunctionsOver(root: string): Promise<{ url: string; queued: string[]; close: () => Promise<void> }> {
  const queued: string[] = [];
  const nothing = queuesNothing(ENV, 'us-east-1');
  const queue: JobQueue = {
    name: nothing.name,
    send: async (job: RegistryJob, options) => {
      queued.push(job.kind);
      return nothing.send(job, options);
    },
  };
  const lambda = lambdaDependencies(() => queue, ENV);
  const { metrics: _metrics, ...context } = lambda.context;
  const store = new FsObjectStore(root, (method, key) => `https://bucket.example/${key}?method=${method}`);
  const dependencies: HandlerDependencies = { ...lambda, context: { ...context, store, log: silentLogger } };
  const refuse: HttpFunction = async () => ({ statusCode: 599, body: 'not a read function' });
  const functions: Record<HttpFunctionName, HttpFunction> = {
    health: makeHealthHandler(dependencies),
    repo: makeRepoHandler(dependencies),
    resource: makeResourceHandler(dependencies),
    registry: makeRegistryHandler(dependencies),
    upload: refuse,
    describe: refuse,
    remove: refuse,
    admin: refuse,
  } as Record<HttpFunctionName, HttpFunction>;
  const server: Server = createServer(httpFront(functions, silentLogger));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, queued, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const ACCEPTS = ['application/vnd.dcos.universe.repo+json;version=v5', 'application/vnd.dcos.universe.repo+json;version=v4', 'application/vnd.dcos.universe.repo+json;version=v3', '*/*', ''];
const AGENTS = ['cosmos/0.6 dcos/2.1.0', 'cosmos/0.5 dcos/1.10.0', 'curl/8'];

/** Every read a client makes; the statuses, for the failure message. */
async function readEverything(url: string, extra: readonly string[] = []): Promise<string[]> {
  const answers: string[] = [];
  const get = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, { redirect: 'manual', ...init });
    await response.arrayBuffer();
    answers.push(`${init.method ?? 'GET'} ${path} ${JSON.stringify(init.headers ?? {})} -> ${response.status}`);
    return response;
  };
  await get('/');
  await get('/health');
  for (const accept of ACCEPTS) {
    for (const userAgent of AGENTS) {
      for (const encoding of ['gzip', 'identity']) {
        const first = await get('/repo', { headers: { accept, 'user-agent': userAgent, 'accept-encoding': encoding } });
        const etag = first.headers.get('etag');
        if (etag) await get('/repo', { headers: { accept, 'user-agent': userAgent, 'accept-encoding': encoding, 'if-none-match': etag } });
      }
    }
  }
  await get('/v2');
  await get('/v2/', { method: 'HEAD' });
  await get('/v2/_catalog');
  await get('/v2/_catalog?n=1');
  await get(`/v2/org/none/manifests/latest`);
  await get(`/v2/org/none/blobs/sha256:${'0'.repeat(64)}`);
  await get(`/v2/org/none/referrers/sha256:${'0'.repeat(64)}`);
  await get(`/resource/x/sha256:${'0'.repeat(64)}/file`);
  for (const path of extra) {
    await get(path);
    await get(path, { method: 'HEAD' });
    await get(path, { headers: { range: 'bytes=0-0' } });
  }
  return answers;
}

describe('the read functions queue nothing, in every state of the store', () => {
  let h: Harness;
  let work: string;
  let extra: string[] = [];
  before(async () => {
    h = await startHarness();
    work = await mkdtemp(join(tmpdir(), 'r11-read-'));
  });
  after(async () => {
    await h.close();
    await rm(work, { recursive: true, force: true });
  });

  const check = async (state: string): Promise<void> => {
    const served = await readFunctionsOver(h.inner.root);
    try {
      const answers = await readEverything(served.url, extra);
      assert.deepEqual(served.queued, [], `${state}: the read functions tried to queue ${served.queued.join(', ')}`);
      if (process.env.R11_SHOW) console.log(answers.join('\n'));
      const failed = answers.filter((answer) => / -> 5\d\d$/.test(answer));
      assert.deepEqual(failed, [], `${state}: answered with a server error`);
    } finally {
      await served.close();
    }
  };

  it('nothing published', () => check('empty'));

  it('packages and an image published', async () => {
    const imageBundle = join(work, 'image.dcos');
    const layer = Buffer.alloc(5 * 1024 * 1024, 3);
    const { manifestDigest, layerDigest } = await writeSingleImageBundle({
      path: imageBundle,
      name: 'imaged',
      version: '1.0.0',
      repository: 'org/app',
      tag: 'v1',
      description: 'an image',
      writeLayer: async (write) => {
        await write(layer);
        return layer.length;
      },
    });
    for (const bytes of [await readFile(imageBundle), craftedBundle({ name: 'plain', files: [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from('small')] })]) {
      const outcome = await h.ingest(await h.upload(bytes));
      assert.equal(outcome.outcome, 'accepted');
    }
    await h.drain();
    assert.deepEqual(await h.indexed(), ['imaged 1.0.0', 'plain 1.0.0']);
    const resources = (await h.inner.list('resources/sha256/')).objects.map((object) => object.key.slice('resources/sha256/'.length));
    extra = [
      '/v2/org/app/manifests/v1',
      `/v2/org/app/manifests/${manifestDigest}`,
      `/v2/org/app/blobs/sha256:${layerDigest}`,
      '/v2/org/app/tags/list',
      `/v2/org/app/referrers/${manifestDigest}`,
      ...resources.map((hex) => `/resource/${encodeCoordinate({ name: 'plain', version: '1.0.0' })}/sha256:${hex}/file.bin`),
    ];
    await check('published');
  });

  it('the v4 and v3 objects missing (a writer died between commit and derivation)', async () => {
    await h.inner.delete(mediaObjectKey('v4'));
    await h.inner.delete(mediaObjectKey('v3'));
    await check('behind');
  });

  it('a legacy index (one gzip object, no table)', async () => {
    for (const key of (await h.inner.list('index/')).objects.map((object) => object.key)) await h.inner.delete(key);
    await h.inner.put(INDEX_KEY, gzipSync(Buffer.from(JSON.stringify({ packages: [] }))), { contentType: 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5', contentEncoding: 'gzip' });
    await check('legacy');
  });
});

describe('what the read functions are built with', () => {
  it('their bundles hold no SQS client, no SQS queue and no schema validator; the others do hold the queue', async () => {
    const inputsOf = async (entry: string): Promise<string[]> => {
      const result = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, metafile: true, logLevel: 'silent' });
      return Object.keys(result.metafile.inputs);
    };
    for (const name of ['health', 'repo', 'resource', 'registry']) {
      const inputs = await inputsOf(`functions/${name}.ts`);
      const forbidden = inputs.filter((input) => /client-sqs|sqs-job-queue|lambda-queue|[/\\]ajv[/\\]|schema-registry/.test(input));
      assert.deepEqual(forbidden, [], `functions/${name}.ts bundles ${forbidden.slice(0, 5).join(', ')}`);
    }
    const upload = await inputsOf('functions/upload.ts');
    assert.ok(upload.some((input) => input.includes('sqs-job-queue')), 'the upload function queues jobs');
  });

  it('the S3 and SQS clients are made on first use, not when the dependencies are', () => {
    const store = new S3ObjectStore({ bucket: 'b', region: 'us-east-1' });
    assert.equal((store as unknown as { madeClient?: unknown }).madeClient, undefined);
    assert.ok(store.client);
    assert.ok((store as unknown as { madeClient?: unknown }).madeClient);
    const queue = sqsQueue({ REGISTRY_QUEUE_URL: 'https://sqs.example/q' }, 'us-east-1') as unknown as { madeClient?: unknown; client: unknown };
    assert.equal(queue.madeClient, undefined);
    assert.ok(queue.client);
    assert.throws(() => sqsQueue({}, 'us-east-1'), /REGISTRY_QUEUE_URL/);
  });
});
