/** Small measures the benchmarks and the memory-bound tests share (Linux: they read /proc). */
import { readFileSync } from 'node:fs';

/** Resident memory of a process now, in MiB. */
export function residentMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** The middle value (the upper of the two middles for an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
