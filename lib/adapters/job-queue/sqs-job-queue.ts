/** The job queue on SQS FIFO: every job in one message group, so one writer handles them in order. */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { JobQueue, RegistryJob } from '../../ports/job-queue.ts';

export const MESSAGE_GROUP = 'registry-index';

export interface SqsJobQueueOptions {
  readonly queueUrl: string;
  /** Needed for local SQS servers (the SDK otherwise derives the endpoint from the region). */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

export class SqsJobQueue implements JobQueue {
  readonly name = 'sqs';
  private madeClient: SQSClient | undefined;

  constructor(private readonly options: SqsJobQueueOptions) {}

  /** Made on first use: a Lambda's module init then costs nothing for it. */
  get client(): SQSClient {
    this.madeClient ??= new SQSClient({
      region: this.options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
      ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
    });
    return this.madeClient;
  }

  async send(job: RegistryJob, options: { deduplicationId: string }): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrl,
        MessageBody: JSON.stringify(job),
        MessageGroupId: MESSAGE_GROUP,
        // SQS allows 128 characters of [A-Za-z0-9!-~].
        MessageDeduplicationId: options.deduplicationId.replace(/[^\x21-\x7e]/g, '_').slice(0, 128),
      }),
    );
  }
}
