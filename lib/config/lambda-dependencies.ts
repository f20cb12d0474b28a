/**
 * The dependencies of the Lambda functions, from their environment (set by serverless.yml):
 *
 *   REGISTRY_BUCKET, REGISTRY_S3_PREFIX, REGISTRY_S3_ENDPOINT   where the data lives
 *   REGISTRY_QUEUE_URL, REGISTRY_SQS_ENDPOINT                    the FIFO job queue
 *   REGISTRY_PUBLIC_URL                                          base of the URLs in the index
 *   REGISTRY_AUTH_SECRET_ID (Secrets Manager) or REGISTRY_AUTH_TOKENS (local stacks only)
 *   LOG_LEVEL
 *
 * Built once per Lambda container and shared by its invocations.
 */
import { S3ObjectStore } from '../adapters/object-store/s3-object-store.ts';
import { secretsManagerTokens } from '../adapters/secrets/secrets-manager-tokens.ts';
import type { HandlerDependencies } from '../handlers/dependencies.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import { staticTokens } from '../http/auth.ts';
import { DEFAULT_SETTINGS } from '../registry/context.ts';
import { createLogger } from '../support/logger.ts';
import { EmfMetrics } from '../observability/emf-metrics.ts';
import { ConfigurationError, dockerHostFrom, integerFrom, logLevelFrom, publicBaseUrlFrom, readProtectionFrom, tokenEntriesFrom, trustedKeysFrom } from './environment.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Where a function's jobs go. Given by the function, so that only those that queue jobs carry the
 * SQS client in their bundles (lambda-queue.ts); the read functions queue nothing.
 */
export type QueueFactory = (env: Env, region: string) => JobQueue;

export const queuesNothing: QueueFactory = () => ({
  name: 'none',
  send: async (job) => {
    throw new Error(`this function queues no jobs (it was asked to queue ${job.kind})`);
  },
});

export function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigurationError(name, 'is required');
  return value;
}

export function lambdaDependencies(queueFrom: QueueFactory, env: Env = process.env): HandlerDependencies {
  const region = env.AWS_REGION ?? 'us-east-1';
  const prefix = (env.REGISTRY_S3_PREFIX ?? '').replace(/^\/+|\/+$/g, '');
  const store = new S3ObjectStore({
    bucket: required(env, 'REGISTRY_BUCKET'),
    region,
    ...(prefix ? { prefix } : {}),
    ...(env.REGISTRY_S3_ENDPOINT ? { endpoint: env.REGISTRY_S3_ENDPOINT, forcePathStyle: true } : {}),
  });
  const queue = queueFrom(env, region);
  const publicBaseUrl = publicBaseUrlFrom(env);
  if (!publicBaseUrl) throw new ConfigurationError('REGISTRY_PUBLIC_URL', 'is required');
  const log = createLogger({ level: logLevelFrom(env), fields: { function: env.AWS_LAMBDA_FUNCTION_NAME } });
  const tokens = env.REGISTRY_AUTH_SECRET_ID
    ? secretsManagerTokens({ secretId: env.REGISTRY_AUTH_SECRET_ID, region, ...(env.REGISTRY_SECRETS_ENDPOINT ? { endpoint: env.REGISTRY_SECRETS_ENDPOINT } : {}) })
    : staticTokens(tokenEntriesFrom(env), { loopbackWithoutToken: false });
  const auth = { ...tokens, readProtected: readProtectionFrom(env) };
  const trustedKeys = trustedKeysFrom(env);
  return {
    context: {
      store,
      queue,
      log,
      now: () => new Date(),
      metrics: new EmfMetrics('DcosPackageRegistry'),
      settings: {
        ...DEFAULT_SETTINGS,
        publicBaseUrl,
        ...(env.REGISTRY_DOCKER_HOST ? { dockerHost: dockerHostFrom(env.REGISTRY_DOCKER_HOST) } : {}),
        // API Gateway and Lambda cap a response at 6 MB (base64 adds a third): redirect above 4 MiB.
        maxInlineResponseBytes: 4 * 1024 * 1024,
        multipartThresholdBytes: integerFrom(env, 'REGISTRY_MULTIPART_THRESHOLD_BYTES', DEFAULT_SETTINGS.multipartThresholdBytes, 0, 5 * 1024 ** 3),
        gcGraceSeconds: integerFrom(env, 'REGISTRY_GC_GRACE_SECONDS', DEFAULT_SETTINGS.gcGraceSeconds, 0, 30 * 86400),
        staleAfterSeconds: integerFrom(env, 'REGISTRY_STALE_SECONDS', DEFAULT_SETTINGS.staleAfterSeconds, 1, 86400),
        // S3 refuses parts under 5 MiB (but the last).
        multipartPartBytes: integerFrom(env, 'REGISTRY_MULTIPART_PART_BYTES', DEFAULT_SETTINGS.multipartPartBytes, 5 * 1024 ** 2, 5 * 1024 ** 3),
        ...(trustedKeys ? { trustedKeys } : {}),
      },
    },
    auth,
    keyPrefix: prefix,
    // On AWS the bucket's ObjectCreated notifications start every ingest.
    triggerIngest: async () => undefined,
  };
}

let shared: HandlerDependencies | undefined;

/** The container-wide dependencies, created on first use. */
export function runtimeDependencies(queueFrom: QueueFactory): HandlerDependencies {
  shared ??= lambdaDependencies(queueFrom);
  return shared;
}
