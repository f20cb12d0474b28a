/**
 * The registry as it runs on AWS, on this machine: the Lambda handlers built by the functions'
 * own dependency factory from environment variables, S3 on the local S3-compatible server (its
 * ObjectCreated events invoke the unpack handler, as the bucket notification does), SQS FIFO on
 * the local SQS server (polled into the indexer handler with partial batch failures), and an
 * HTTP front standing in for API Gateway.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { lambdaDependencies } from '../../../lib/config/lambda-dependencies.ts';
import { makeIndexerHandler, makeUnpackHandler } from '../../../lib/handlers/event-handlers.ts';
import { httpFunctions } from '../../../lib/handlers/http-functions.ts';
import { lambdaContext } from '../../../lib/server/api-gateway-bridge.ts';
import { httpFront } from '../../../lib/server/http-front.ts';
import { appendFileSync } from 'node:fs';
import { createLogger, silentLogger } from '../../../lib/support/logger.ts';
import { TEST_TOKEN } from '../embedded-registry.ts';
import type { RegistryUnderTest } from '../registry-under-test.ts';
import { sqsQueue } from '../../../lib/config/lambda-queue.ts';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from './local-s3.ts';
import { pollQueue, startLocalSqs } from './local-sqs.ts';

export async function startAwsStack(options: { prefix?: string; environment?: Record<string, string> } = {}): Promise<RegistryUnderTest & { deadLetters(): Promise<number> }> {
  process.env.AWS_ACCESS_KEY_ID = LOCAL_S3_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_S3_CREDENTIALS.secretAccessKey;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const s3 = await startLocalS3();
  const sqs = await startLocalSqs();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const prefix = options.prefix ?? 'registry';
  const dependencies = lambdaDependencies(sqsQueue, {
    AWS_REGION: 'us-east-1',
    REGISTRY_BUCKET: s3.bucket,
    REGISTRY_S3_PREFIX: prefix,
    REGISTRY_S3_ENDPOINT: s3.endpoint,
    REGISTRY_QUEUE_URL: sqs.queueUrl,
    REGISTRY_SQS_ENDPOINT: sqs.endpoint,
    REGISTRY_PUBLIC_URL: url,
    REGISTRY_AUTH_TOKENS: TEST_TOKEN,
    LOG_LEVEL: 'error',
    // No grace window in tests: removal deletes unused files at once.
    REGISTRY_GC_GRACE_SECONDS: '0',
    ...options.environment,
  });
  // REGISTRY_TEST_LOG=<file> keeps the handlers' log lines for debugging a failing scenario.
  const logFile = process.env.REGISTRY_TEST_LOG;
  const log = logFile ? createLogger({ level: 'debug', write: (line) => appendFileSync(logFile, `${line}\n`) }) : silentLogger;
  const quiet = { ...dependencies, context: { ...dependencies.context, log } };
  server.on('request', httpFront(httpFunctions(quiet), silentLogger));

  const unpack = makeUnpackHandler(quiet);
  let eventsInFlight = 0;
  s3.onEvent((event) => {
    eventsInFlight++;
    unpack(event, lambdaContext('unpack') as Context)
      .catch(() => undefined)
      .finally(() => eventsInFlight--);
  });
  const poller = pollQueue(sqs, makeIndexerHandler(quiet), lambdaContext('indexer'));

  return {
    url,
    token: TEST_TOKEN,
    store: dependencies.context.store,
    deadLetters: () => sqs.depth(sqs.deadLetterQueueUrl),
    settled: async () => {
      // Quiet for a few consecutive checks: no S3 event being handled, nothing queued or in flight.
      let quietChecks = 0;
      for (let round = 0; round < 600 && quietChecks < 3; round++) {
        const idle = eventsInFlight === 0 && !poller.busy && (await sqs.depth()) === 0;
        quietChecks = idle ? quietChecks + 1 : 0;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close: async () => {
      await poller.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sqs.close();
      await s3.close();
    },
  };
}
