/**
 * Runs ingests in the background of the embedded server, as S3 would invoke the unpack function:
 * each stored bundle becomes an S3 ObjectCreated event for the same handler. Bounded concurrency;
 * `idle()` tells tests when everything has been processed.
 */
import type { Context, S3Event } from 'aws-lambda';
import type { Logger } from '../support/logger.ts';

export type UnpackHandler = (event: S3Event, context: Context) => Promise<unknown>;

export function s3CreatedEvent(bucket: string, key: string, size: number): S3Event {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'local',
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'embedded' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'embedded', 'x-amz-id-2': 'embedded' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'embedded',
          bucket: { name: bucket, ownerIdentity: { principalId: 'embedded' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), size, eTag: '', sequencer: Date.now().toString(16) },
        },
      },
    ],
  };
}

export class IngestRunner {
  private readonly waiting: string[] = [];
  private readonly active = new Set<Promise<void>>();
  private readonly activeKeys = new Set<string>();

  private readonly failures = new Map<string, number>();
  /** Retries waiting for their pause to end. */
  private scheduled = 0;

  constructor(
    private readonly run: (key: string) => Promise<void>,
    private readonly log: Logger,
    private readonly concurrency = 2,
    /** As Lambda retries a failed asynchronous invocation: twice, after a pause. */
    private readonly retries = 2,
    private readonly retryDelayMs = 500,
  ) {}

  trigger(key: string): void {
    if (this.waiting.includes(key) || this.activeKeys.has(key)) return;
    this.waiting.push(key);
    this.pump();
  }

  get busy(): boolean {
    return this.active.size > 0 || this.waiting.length > 0 || this.scheduled > 0;
  }

  async idle(): Promise<void> {
    while (this.busy) {
      if (this.active.size > 0) await Promise.race(this.active);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private pump(): void {
    while (this.active.size < this.concurrency && this.waiting.length > 0) {
      const key = this.waiting.shift()!;
      this.activeKeys.add(key);
      const task: Promise<void> = this.run(key)
        .then(() => void this.failures.delete(key))
        .catch((error: unknown) => {
          this.log.error('ingest failed', { key, error });
          const failures = (this.failures.get(key) ?? 0) + 1;
          if (failures > this.retries) {
            // The reconciler picks it up from its record.
            this.failures.delete(key);
            return;
          }
          this.failures.set(key, failures);
          this.scheduled++;
          setTimeout(() => {
            this.scheduled--;
            this.trigger(key);
          }, this.retryDelayMs * 2 ** (failures - 1));
        })
        .finally(() => {
          this.active.delete(task);
          this.activeKeys.delete(key);
          this.pump();
        });
      this.active.add(task);
    }
  }
}
