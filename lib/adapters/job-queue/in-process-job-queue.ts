/**
 * The job queue inside one process (the embedded default): jobs are delivered one at a time, in
 * order, as SQS-shaped batches to the same indexer handler Lambda runs; failed jobs are retried
 * with backoff and, after the last attempt, kept as dead letters and logged.
 */
import { randomUUID } from 'node:crypto';
import type { JobQueue, RegistryJob } from '../../ports/job-queue.ts';
import type { Logger } from '../../support/logger.ts';

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly attempt: number;
}

/** Delivers a batch; returns the ids of the messages that failed. */
export type Deliver = (messages: readonly QueueMessage[]) => Promise<readonly string[]>;

const DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;

export class InProcessJobQueue implements JobQueue {
  readonly name = 'in-process';
  readonly deadLetters: { job: RegistryJob; attempts: number }[] = [];
  private readonly pending: QueueMessage[] = [];
  private readonly seen = new Map<string, number>();
  private running: Promise<void> | undefined;
  private deliver: Deliver | undefined;

  constructor(
    private readonly log: Logger,
    private readonly options: { maxAttempts: number; retryDelayMs: number } = { maxAttempts: 5, retryDelayMs: 200 },
  ) {}

  /** Connects the consumer; jobs sent before wait for it. */
  consumeWith(deliver: Deliver): void {
    this.deliver = deliver;
    this.kick();
  }

  async send(job: RegistryJob, options: { deduplicationId: string }): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.seen) if (now - at > DEDUPLICATION_WINDOW_MS) this.seen.delete(id);
    if (this.seen.has(options.deduplicationId)) return;
    this.seen.set(options.deduplicationId, now);
    this.pending.push({ messageId: randomUUID(), body: JSON.stringify(job), attempt: 1 });
    this.kick();
  }

  /** Jobs waiting or being handled. */
  get depth(): number {
    return this.pending.length;
  }

  get busy(): boolean {
    return this.running !== undefined || this.pending.length > 0;
  }

  /** Resolves when every queued job has been handled (or dead-lettered). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running || !this.deliver || this.pending.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 && this.deliver) {
      const message = this.pending[0]!;
      let failed: readonly string[];
      try {
        failed = await this.deliver([message]);
      } catch (error) {
        this.log.error('queue delivery failed', { error });
        failed = [message.messageId];
      }
      this.pending.shift();
      if (!failed.includes(message.messageId)) continue;
      if (message.attempt >= this.options.maxAttempts) {
        this.deadLetters.push({ job: JSON.parse(message.body) as RegistryJob, attempts: message.attempt });
        this.log.error('job moved to the dead letters', { job: JSON.parse(message.body) as unknown, attempts: message.attempt });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs * 2 ** (message.attempt - 1)));
      // Back at the head: FIFO order holds for the jobs behind it.
      this.pending.unshift({ ...message, attempt: message.attempt + 1 });
    }
  }
}
