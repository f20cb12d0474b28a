/**
 * The queue port: jobs for the single index writer. Every job of the registry goes to one
 * ordered group (SQS FIFO `MessageGroupId`), so jobs are handled one at a time, in order.
 */
export type RegistryJob =
  | { readonly kind: 'publish'; readonly name: string; readonly version: string; readonly bundleDigest: string }
  | { readonly kind: 'remove'; readonly name: string; readonly version: string }
  | { readonly kind: 'reindex' }
  | { readonly kind: 'collect-garbage' }
  /**
   * Drives every record stuck in a transient state to a final one (maintenance/reconciler.ts);
   * `scope: 'transient'` looks at those the catalog shows so, and at every record only once the
   * last such pass is an hour old.
   */
  | { readonly kind: 'reconcile'; readonly scope?: 'transient' };

export interface JobQueue {
  readonly name: string;
  /** `deduplicationId` makes a repeated send within the queue's window a no-op (SQS FIFO). */
  send(job: RegistryJob, options: { deduplicationId: string }): Promise<void>;
}
