/**
 * A local SQS server (fauxqs, pinned) with the registry's FIFO queue and its dead-letter queue,
 * and a poller that drives a handler the way the Lambda SQS integration does: batches in, batch
 * item failures left on the queue (to come back after the visibility timeout), the rest deleted.
 */
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';

export interface LocalSqs {
  readonly endpoint: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly client: SQSClient;
  /** Messages visible or in flight, in the main queue. */
  depth(queueUrl?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startLocalSqs(): Promise<LocalSqs> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  const deadLetters = server.createQueue('registry-dlq.fifo', { attributes: { FifoQueue: 'true' } });
  const queue = server.createQueue('registry.fifo', {
    attributes: {
      FifoQueue: 'true',
      VisibilityTimeout: '10',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetters.queueArn, maxReceiveCount: 5 }),
    },
  });
  const client = new SQSClient({ region: 'us-east-1', endpoint: server.address, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    endpoint: server.address,
    queueUrl: queue.queueUrl,
    deadLetterQueueUrl: deadLetters.queueUrl,
    client,
    depth: async (queueUrl = queue.queueUrl) => {
      const { Attributes } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
    close: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

export interface SqsPoller {
  readonly busy: boolean;
  stop(): Promise<void>;
}

export function pollQueue(
  sqs: LocalSqs,
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>,
  context: Context,
): SqsPoller {
  let running = true;
  let busy = false;
  const loop = (async () => {
    while (running) {
      const { Messages } = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ['All'] }));
      if (!Messages || Messages.length === 0) continue;
      busy = true;
      try {
        const event: SQSEvent = {
          Records: Messages.map((message) => ({
            messageId: message.MessageId!,
            receiptHandle: message.ReceiptHandle!,
            body: message.Body ?? '',
            attributes: (message.Attributes ?? {}) as SQSEvent['Records'][number]['attributes'],
            messageAttributes: {},
            md5OfBody: message.MD5OfBody ?? '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:registry.fifo',
            awsRegion: 'us-east-1',
          })),
        };
        const { batchItemFailures } = await handler(event, context);
        const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier));
        for (const message of Messages) {
          if (failed.has(message.MessageId!)) {
            // Back to the queue at once in tests (Lambda would wait for the visibility timeout).
            await sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: sqs.queueUrl, ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 1 }));
          } else {
            await sqs.client.send(new DeleteMessageCommand({ QueueUrl: sqs.queueUrl, ReceiptHandle: message.ReceiptHandle! }));
          }
        }
      } finally {
        busy = false;
      }
    }
  })();
  return {
    get busy() {
      return busy;
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
