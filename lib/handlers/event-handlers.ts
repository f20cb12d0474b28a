/**
 * The event-driven functions: unpack (S3 ObjectCreated on uploads/ and drop/) and indexer (the
 * FIFO queue's single consumer, reporting partial batch failures).
 */
import middy from '@middy/core';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { RegistryJob } from '../ports/job-queue.ts';
import { invalidKeyReason } from '../ports/object-store.ts';
import { ingestBundle, type IngestOutcome } from '../registry/ingest.ts';
import { handleJob } from '../registry/publisher.ts';
import type { HandlerDependencies } from './dependencies.ts';

/** S3 event keys are URL-encoded (spaces as '+') and carry the bucket prefix. */
export function storeKeyOfEventKey(eventKey: string, keyPrefix: string): string | undefined {
  const key = decodeURIComponent(eventKey.replace(/\+/g, ' '));
  const prefix = keyPrefix ? `${keyPrefix.replace(/\/+$/, '')}/` : '';
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}

/** The same dependencies, logging with the invocation's request id on every line. */
function withRequestId(dependencies: HandlerDependencies, lambda: Context): HandlerDependencies['context'] {
  return { ...dependencies.context, log: dependencies.context.log.child({ requestId: lambda.awsRequestId }) };
}

export function makeUnpackHandler(dependencies: HandlerDependencies) {
  const { keyPrefix } = dependencies;
  return middy<S3Event, IngestOutcome[], Error, Context>().handler(async (event, lambda) => {
    const context = withRequestId(dependencies, lambda);
    const outcomes: IngestOutcome[] = [];
    for (const record of event.Records ?? []) {
      if (!record.eventName.startsWith('ObjectCreated:')) continue;
      const key = storeKeyOfEventKey(record.s3.object.key, keyPrefix);
      if (key === undefined) continue;
      const badKey = invalidKeyReason(key);
      if (badKey !== undefined) {
        // Not a key this registry could have stored a bundle under: retrying cannot help.
        context.log.warn('bundle key refused', { key, reason: badKey });
        outcomes.push({ outcome: 'ignored', reason: `invalid key: ${badKey}` });
        continue;
      }
      try {
        outcomes.push(await ingestBundle(context, key));
      } catch (error) {
        // Storage or queue failures: the attempt is counted on the upload and the bundle kept;
        // Lambda retries the event, the reconciler catches what the retries miss.
        context.log.error('ingest failed', { key, error });
        throw error;
      }
    }
    return outcomes;
  });
}

const JOB_KINDS: ReadonlySet<string> = new Set<RegistryJob['kind']>(['publish', 'remove', 'reindex', 'collect-garbage', 'reconcile']);

export function parseJob(body: string): RegistryJob {
  const job = JSON.parse(body) as RegistryJob;
  if (!JOB_KINDS.has(job.kind)) throw new Error(`unknown job kind ${String((job as { kind?: unknown }).kind)}`);
  return job;
}

export function makeIndexerHandler(dependencies: HandlerDependencies) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>().handler(async (event, lambda) => {
    const context = withRequestId(dependencies, lambda);
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records ?? []) {
      // FIFO: once a message fails, the ones behind it in the group must wait for it.
      if (batchItemFailures.length > 0) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        // The delivery count bounds retries: past it, the job's failure is recorded and the group moves on.
        await handleJob(context, parseJob(record.body), Number(record.attributes?.ApproximateReceiveCount ?? 1) || 1);
      } catch (error) {
        context.log.error('job failed', { messageId: record.messageId, error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}
