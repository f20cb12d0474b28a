/**
 * The embedded registry: one Node process hosting the very same handlers as the Lambda functions.
 *
 * Composition root: configuration → object store (a directory by default, or an S3-compatible
 * bucket) → in-process queue → handlers. HTTP requests become API Gateway v2 events, stored
 * bundles become S3 events for the unpack handler, queued jobs become SQS batches for the indexer
 * handler (honouring batchItemFailures). The server adds only transport: presigned-URL serving
 * for the filesystem store, and the drop folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { derivePublicUrl, type PublicUrlReach } from './public-url.ts';
import { ConfigurationError } from '../config/environment.ts';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FsObjectStore } from '../adapters/object-store/fs-object-store.ts';
import { S3ObjectStore } from '../adapters/object-store/s3-object-store.ts';
import { InProcessJobQueue, type QueueMessage } from '../adapters/job-queue/in-process-job-queue.ts';
import type { ServerConfig } from '../config/environment.ts';
import type { HandlerDependencies } from '../handlers/dependencies.ts';
import { makeIndexerHandler, makeUnpackHandler } from '../handlers/event-handlers.ts';
import { httpFunctions } from '../handlers/http-functions.ts';
import { authorize, isLoopbackHost, staticTokens } from '../http/auth.ts';
import { PreconditionFailedError, type ObjectStore } from '../ports/object-store.ts';
import { ERROR_MEDIA_TYPE } from '../http/error-envelope.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../registry/context.ts';
import { INDEX_KEY, mediaObjectKey, UPLOADS_PREFIX } from '../registry/layout.ts';
import { putBundle } from '../registry/bundle-storage.ts';
import { withReadCache } from '../adapters/object-store/read-cache.ts';

/** Memory for the index objects /repo serves (three objects; 10,000 versions are about 180 MiB). */
const INDEX_CACHE_BYTES = 256 * 1024 * 1024;
import { INDEX_METADATA } from '../registry/repository-index.ts';
import { createLogger, type Logger } from '../support/logger.ts';
import { PrometheusMetrics } from '../observability/prometheus-metrics.ts';
import { lambdaContext } from './api-gateway-bridge.ts';
import { httpFront, streamStoredObject } from './http-front.ts';
import { DropFolder } from './drop-folder.ts';
import { DropPrefixScanner } from './drop-prefix-scanner.ts';
import { IngestRunner, s3CreatedEvent } from './ingest-runner.ts';
import { createUrlSigner, verifySignedUrl } from './signed-urls.ts';
import { announcedLengthProblem, BodyTooLargeError, BodyTooShortError, boundedBody } from './bounded-body.ts';


export interface RunningRegistry {
  /** Where it listens. */
  readonly url: string;
  /** The base URL /repo names (public-url.ts), and who can reach it. */
  readonly publicUrl: string;
  readonly publicUrlReach: PublicUrlReach;
  readonly metrics: PrometheusMetrics;
  readonly store: ObjectStore;
  readonly queue: InProcessJobQueue;
  /** Resolves once every triggered ingest and every queued job has been handled. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  /** Replaces the store the configuration names (tests use it to share one bucket). */
  readonly store?: ObjectStore;
  /** This machine's network interfaces (tests give their own; default os.networkInterfaces()). */
  readonly networkInterfaces?: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;
}

export async function startRegistryServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningRegistry> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  await mkdir(config.dataDir, { recursive: true });
  const secret = await presignSecret(config.dataDir);
  let baseUrl = config.publicBaseUrl ?? '';
  const signUrl = createUrlSigner(secret, () => baseUrl);
  const backend: ObjectStore =
    config.storage.kind === 'fs'
      ? new FsObjectStore(config.storage.root, signUrl)
      : new S3ObjectStore({
          bucket: config.storage.bucket,
          ...(config.storage.prefix ? { prefix: config.storage.prefix } : {}),
          ...(config.storage.endpoint ? { endpoint: config.storage.endpoint } : {}),
          ...(config.storage.region ? { region: config.storage.region } : {}),
          ...(config.storage.forcePathStyle !== undefined ? { forcePathStyle: config.storage.forcePathStyle } : {}),
        });
  // /repo is served many times a second from three objects: kept in memory while unchanged.
  const indexObjects = new Set([mediaObjectKey('v5'), mediaObjectKey('v4'), mediaObjectKey('v3')]);
  const store: ObjectStore = options.store ?? withReadCache(backend, { cacheable: (key) => indexObjects.has(key), maxBytes: INDEX_CACHE_BYTES });
  const queue = new InProcessJobQueue(log);
  const settings = {
    ...DEFAULT_SETTINGS,
    // No Lambda response limit here: the repository, resources and blobs stream from storage
    // whatever their size (the inline limit only bounds what a host that cannot stream gathers).
    maxInlineResponseBytes: 64 * 1024 * 1024,
    streamResponses: true,
    // A HEAD of a local file: cheap enough to look often for a long-polling client.
    recordPollMs: 100,
    get publicBaseUrl() {
      return baseUrl;
    },
    ...(config.dockerHost ? { dockerHost: config.dockerHost } : {}),
    gcGraceSeconds: config.gcGraceSeconds,
    staleAfterSeconds: config.staleAfterSeconds,
    ...(config.trustedKeys ? { trustedKeys: config.trustedKeys } : {}),
  };
  const metrics = new PrometheusMetrics();
  metrics.onScrape(() => {
    metrics.gauge('registry_queue_depth', queue.depth);
    metrics.gauge('registry_queue_dead_letters', queue.deadLetters.length);
  });
  let ingest: IngestRunner | undefined;
  const context: RegistryContext = { store, queue, settings, log, now: () => new Date(), metrics, triggerIngest: (bundleKey) => ingest?.trigger(bundleKey) };
  /** The index as stored, read at each scrape: right after a restart too, and shared by instances. */
  const scrapeIndex = async (): Promise<void> => {
    try {
      const index = await store.head(INDEX_KEY);
      if (!index) return;
      metrics.gauge('registry_index_entries', Number(index.metadata[INDEX_METADATA.entries] ?? 0));
      metrics.gauge('registry_index_bytes', index.size);
      metrics.gauge('registry_index_age_seconds', Math.max(0, (Date.now() - index.lastModified.getTime()) / 1000));
    } catch (error) {
      log.warn('metrics: the index cannot be read', { error });
    }
  };
  const keyPrefix = config.storage.kind === 's3' ? config.storage.prefix : '';
  const dependencies: HandlerDependencies = {
    context,
    // Without a token, management is open to this machine only, and only while the server listens
    // on loopback alone: bound wider, a reverse proxy on this host would make every caller look
    // local, so then nobody may manage until a token is configured.
    auth: { ...staticTokens(config.authTokens, { loopbackWithoutToken: isLoopbackHost(config.host) }), readProtected: config.readProtection },
    keyPrefix,
    triggerIngest: async (bundleKey) => ingest?.trigger(bundleKey),
  };

  const unpack = makeUnpackHandler(dependencies);
  const indexer = makeIndexerHandler(dependencies);
  const bucketName = config.storage.kind === 's3' ? config.storage.bucket : 'embedded';
  ingest = new IngestRunner(async (key) => {
    const info = await store.head(key);
    const eventKey = keyPrefix ? `${keyPrefix}/${key}` : key;
    await unpack(s3CreatedEvent(bucketName, eventKey, info?.size ?? 0), lambdaContext('unpack'));
  }, log);
  queue.consumeWith(async (messages) => {
    const response = (await indexer(sqsEvent(messages), lambdaContext('indexer'))) as SQSBatchResponse;
    return response.batchItemFailures.map((failure) => failure.itemIdentifier);
  });

  const functions = httpFunctions(dependencies);

  const front = httpFront(functions, log, (request, response, url, method) => serveSignedStoreRequest(request, response, url, method));
  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    // Prometheus scrapes the process itself: transport-level, like the presigned store URLs.
    if (request.method === 'GET' && (request.url ?? '').split('?')[0] === '/metrics') {
      // Counters of routes, the index and the queue: as protected as the reads are.
      if (config.readProtection) {
        const authorization = Array.isArray(request.headers.authorization) ? request.headers.authorization[0] : request.headers.authorization;
        void authorize(dependencies.auth, authorization, request.socket.remoteAddress, 'read').then(
          () => void scrapeIndex().then(() => {
            response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
            response.end(metrics.render());
          }),
          () => {
            response.writeHead(401, { 'content-type': ERROR_MEDIA_TYPE, 'www-authenticate': 'Bearer realm="dcos-registry"' });
            response.end(JSON.stringify({ type: 'Unauthorized', message: 'Reads are protected: /metrics needs a read token', data: {} }));
          },
        );
        return;
      }
      void scrapeIndex().then(() => {
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        response.end(metrics.render());
      });
      return;
    }
    front(request, response);
  };
  const server: Server = config.tls
    ? createHttpsServer({ cert: await readFile(config.tls.certificatePath), key: await readFile(config.tls.keyPath) }, listener)
    : createServer(listener);

  async function serveSignedStoreRequest(request: IncomingMessage, response: ServerResponse, url: URL, method: string): Promise<void> {
    const allowed = verifySignedUrl(secret, method, url);
    if ('error' in allowed) {
      response.writeHead(403, { 'content-type': 'text/plain' });
      response.end(`Forbidden: ${allowed.error}\n`);
      return;
    }
    if (allowed.method === 'PUT') {
      // The length the URL was signed for, exactly; else no more than a bundle may be.
      const bound = { ...(allowed.contentLength !== undefined ? { exact: allowed.contentLength } : {}), max: settings.maxBundleBytes };
      const refusal = (status: number, type: string, message: string): void => {
        // The rest of a refused body is not read: the connection closes after the answer.
        response.writeHead(status, { 'content-type': ERROR_MEDIA_TYPE, connection: 'close' });
        response.end(JSON.stringify({ type, message, data: {} }));
      };
      const early = announcedLengthProblem(request, bound);
      if (early) return refusal(early instanceof BodyTooLargeError ? 413 : 400, early instanceof BodyTooLargeError ? 'PayloadTooLarge' : 'IncompleteBody', `Refused: ${early.message}`);
      let etag: string;
      try {
        const body = boundedBody(request as AsyncIterable<Buffer>, bound);
        const putOptions = {
          ...(request.headers['content-type'] ? { contentType: request.headers['content-type'] } : {}),
          ...(allowed.once ? { ifNoneMatch: '*' as const } : {}),
        };
        ({ etag } = isUploadedBundle(allowed.key) ? await putBundle(store, allowed.key, body, putOptions) : await store.put(allowed.key, body, putOptions));
      } catch (error) {
        if (error instanceof BodyTooLargeError) return refusal(413, 'PayloadTooLarge', `Refused: ${error.message}`);
        if (error instanceof BodyTooShortError) return refusal(400, 'IncompleteBody', `Refused: ${error.message}`);
        if (error instanceof PreconditionFailedError) return refusal(412, 'AlreadyUploaded', 'Refused: this upload URL has been used; create a new upload');
        throw error;
      }
      response.writeHead(200, { etag });
      response.end();
      // Storage here emits no events: this is where an upload "lands" (as S3 would notify).
      if (isUploadedBundle(allowed.key)) ingest?.trigger(allowed.key);
      return;
    }
    await streamStoredObject(store, allowed.key, allowed.responseContentType, request, response);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const listeningUrl = `${config.tls ? 'https' : 'http'}://${host}:${address.port}`;
  const publicUrl = derivePublicUrl({
    ...(config.publicBaseUrl ? { configured: config.publicBaseUrl } : {}),
    host: config.host,
    port: address.port,
    tls: config.tls !== undefined,
    interfaces: options.networkInterfaces ?? networkInterfaces(),
  });
  if (!publicUrl.ok) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw new ConfigurationError('REGISTRY_PUBLIC_URL', publicUrl.reason);
  }
  baseUrl = publicUrl.url;

  // Garbage collection runs as a job of the single writer, as the schedule does on AWS.
  const collector = setInterval(() => void queue.send({ kind: 'collect-garbage' }, { deduplicationId: `gc-${Date.now()}` }), config.gcIntervalSeconds * 1000);
  collector.unref();
  // The queue lives in this process: whatever a previous process left in a transient state is
  // found by the reconciler, at start-up and then on a timer (records are the truth, not the queue).
  // Every record at start-up; then what the catalog shows in a transient state, and every record hourly.
  const reconcileNow = (scope?: 'transient'): void => void queue.send({ kind: 'reconcile', ...(scope ? { scope } : {}) }, { deduplicationId: `reconcile-${Date.now()}` });
  reconcileNow();
  const reconciler = setInterval(() => reconcileNow('transient'), config.reconcileIntervalSeconds * 1000);
  reconciler.unref();

  const drop = new DropFolder(join(config.dataDir, 'drop'), store, (key) => ingest?.trigger(key), log, config.dropScanSeconds * 1000);
  await drop.start();
  // Bundles any client put under drop/ in storage itself (this store sends no events).
  const dropPrefix = new DropPrefixScanner(store, (key) => ingest?.trigger(key), log, config.dropScanSeconds * 1000);
  dropPrefix.start();

  return {
    url: listeningUrl,
    publicUrl: publicUrl.url,
    publicUrlReach: publicUrl.reach,
    metrics,
    store,
    queue,
    settled: async () => {
      for (let round = 0; round < 1000; round++) {
        await ingest?.idle();
        await queue.idle();
        if (!ingest?.busy && !queue.busy) return;
      }
    },
    close: async () => {
      clearInterval(collector);
      clearInterval(reconciler);
      drop.stop();
      dropPrefix.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ingest?.idle();
      await queue.idle();
    },
  };
}

function sqsEvent(messages: readonly QueueMessage[]): SQSEvent {
  return {
    Records: messages.map((message) => ({
      messageId: message.messageId,
      receiptHandle: message.messageId,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.attempt),
        SentTimestamp: String(Date.now()),
        SenderId: 'embedded',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
        MessageGroupId: 'registry-index',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:registry.fifo',
      awsRegion: 'local',
    })),
  };
}



/** A signing key kept beside the data, so presigned URLs survive a restart. */
async function presignSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, '.presign-key');
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  } catch {
    const secret = randomBytes(32);
    await writeFile(path, secret.toString('hex'), { mode: 0o600 });
    return secret;
  }
}

/** A bundle uploaded through an upload URL: stored in segments, and ingested once it lands. */
function isUploadedBundle(key: string): boolean {
  return key.startsWith(UPLOADS_PREFIX) && key.endsWith('.dcos');
}
