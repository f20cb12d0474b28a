/**
 * Files a command is writing that must not outlive it: a bundle's `.…partial-…` file, a
 * temporary file about to be renamed. A command interrupted by Ctrl-C (or SIGTERM) exits at once
 * (cli/interrupt.ts) rather than wait for a download to notice, and removes these on the way out,
 * synchronously: nothing asynchronous runs after the exit is decided.
 */
import { rmSync } from 'node:fs';

const pending = new Set<string>();

/** Removes `path` if the process is interrupted before the returned function is called. */
export function removeIfInterrupted(path: string): () => void {
  pending.add(path);
  return () => void pending.delete(path);
}

/** Removes every file still registered; returns how many there were. */
export function removeInterruptedFiles(): number {
  const count = pending.size;
  for (const path of pending) rmSync(path, { force: true });
  pending.clear();
  return count;
}
