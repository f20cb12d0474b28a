/**
 * Long polling of a record (issue 11, item 4): a client that has a record (an upload's, a
 * package's) asks for it again with its ETag and how long it will wait (`If-None-Match` and
 * `Prefer: wait=N`, RFC 7240); the answer comes as soon as the record changes, or as a 304 when
 * the wait is over. `add --wait` learns each step within a poll of storage, not a client's sleep.
 *
 * Derived from storage alone (a HEAD of the record every `pollMs`), so it holds across processes
 * and Lambdas: any writer's change is seen, no notification can be lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectStore } from '../ports/object-store.ts';

/** The longest wait a request may ask for: API Gateway ends a request after 30 s. */
export const MAX_WAIT_SECONDS = 20;

/** The wait of `Prefer: wait=N` (seconds, at most MAX_WAIT_SECONDS); 0 when absent or malformed. */
export function preferredWaitSeconds(prefer: string | undefined): number {
  // Any number of digits (a long one is still a wait, capped); the header itself is bounded by the server's header limit.
  const match = /(?:^|[;,\s])wait=(\d+)(?:$|[;,\s])/i.exec(prefer ?? '');
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : 0;
}

/** Resolves once the object at `key` no longer has ETag `etag` (changed, deleted) or `waitMs` passed; true if it changed. */
export async function waitForChange(store: ObjectStore, key: string, etag: string, waitMs: number, pollMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    if ((await store.head(key))?.etag !== etag) return true;
  }
  return false;
}
