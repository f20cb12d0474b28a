/**
 * Giving the event loop its turns during long work: the registry's index work (thousands of rows,
 * tens of MiB) runs on the same thread as `/health` and `/repo`, and no piece of it may hold that
 * thread long (issue 9: 50 ms at most). Work done in a loop asks its budget whether the slice it
 * runs in is used up; the budget then yields one turn of the loop (timers, I/O, then back here).
 *
 * By time, not by count: rows differ a thousandfold in cost (a 192 KB entry with base64 icons
 * against a 300-byte one), so a count small enough for the worst row wastes turns on the rest.
 */
import { performance } from 'node:perf_hooks';

/**
 * One turn of the event loop: everything that was waiting (timers, I/O callbacks) runs first.
 * Two immediates, not one: work resumed from an I/O callback (the poll phase) that yields by one
 * setImmediate goes on in the check phase of the same loop iteration, before any timer or other
 * I/O, so two slices ran back to back (seen: 40-80 ms blocks of a reindex made of 8 ms slices).
 */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/** How long one slice of work runs before it yields: well under the 50 ms a probe may wait. */
export const DEFAULT_SLICE_MS = 8;

export class TurnBudget {
  private sliceStarted = performance.now();

  constructor(private readonly sliceMs = DEFAULT_SLICE_MS) {}

  /** Whether the current slice has run its time (cheap: call it per row). */
  get spent(): boolean {
    return performance.now() - this.sliceStarted >= this.sliceMs;
  }

  /** Yields a turn when the slice is spent, and starts the next one. */
  async pause(): Promise<void> {
    if (!this.spent) return;
    await nextTurn();
    this.sliceStarted = performance.now();
  }

  /** Yields a turn now (before a step too big to split), and starts the next slice. */
  async yieldNow(): Promise<void> {
    await nextTurn();
    this.sliceStarted = performance.now();
  }
}

/** `items.map(map)` in slices of the event loop's time. */
export async function mapInTurns<T, R>(items: readonly T[], map: (item: T, index: number) => R, budget = new TurnBudget()): Promise<R[]> {
  const mapped: R[] = [];
  for (let index = 0; index < items.length; index++) {
    if ((index & 63) === 0) await budget.pause();
    mapped.push(map(items[index]!, index));
  }
  return mapped;
}
