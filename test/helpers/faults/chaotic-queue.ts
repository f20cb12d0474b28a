/**
 * A JobQueue that keeps what is sent and delivers it when the test says, duplicated, reordered or
 * dropped: at-least-once delivery with its worst manners. `run` hands each delivery to the real
 * job handler with its delivery count, as the indexer does.
 */
import type { JobQueue, RegistryJob } from '../../../lib/ports/job-queue.ts';

export class ChaoticQueue implements JobQueue {
  readonly name = 'chaotic';
  readonly sent: RegistryJob[] = [];
  private pending: RegistryJob[] = [];

  async send(job: RegistryJob): Promise<void> {
    this.sent.push(job);
    this.pending.push(job);
  }

  get depth(): number {
    return this.pending.length;
  }

  /** Delivers until nothing is pending. Failed deliveries are retried up to `maxAttempts`, then dropped. */
  async run(
    handle: (job: RegistryJob, attempt: number) => Promise<void>,
    options: { duplicate?: boolean; reverse?: boolean; drop?: (job: RegistryJob) => boolean; maxAttempts?: number } = {},
  ): Promise<{ delivered: number; failed: number }> {
    let delivered = 0;
    let failed = 0;
    for (let round = 0; round < 100 && this.pending.length > 0; round++) {
      const batch = options.reverse ? [...this.pending].reverse() : [...this.pending];
      this.pending = [];
      for (const job of batch) {
        if (options.drop?.(job)) continue;
        for (let copy = 0; copy < (options.duplicate ? 2 : 1); copy++) {
          for (let attempt = 1; attempt <= (options.maxAttempts ?? 3); attempt++) {
            delivered++;
            try {
              await handle(job, attempt);
              break;
            } catch {
              failed++;
            }
          }
        }
      }
    }
    return { delivered, failed };
  }
}
