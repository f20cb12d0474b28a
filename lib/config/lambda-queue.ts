/** The SQS FIFO job queue of the functions that queue jobs, from their environment (REGISTRY_QUEUE_URL, REGISTRY_SQS_ENDPOINT). */
import { SqsJobQueue } from '../adapters/job-queue/sqs-job-queue.ts';
import { required, type QueueFactory } from './lambda-dependencies.ts';

export const sqsQueue: QueueFactory = (env, region) =>
  new SqsJobQueue({
    queueUrl: required(env, 'REGISTRY_QUEUE_URL'),
    region,
    ...(env.REGISTRY_SQS_ENDPOINT ? { endpoint: env.REGISTRY_SQS_ENDPOINT } : {}),
  });
