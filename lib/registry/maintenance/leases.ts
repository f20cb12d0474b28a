/**
 * Leases: how an ingest and a garbage collection that run at the same time never lose a file.
 *
 * An ingest uses stored files before its package record exists (it finds a layer already stored
 * and skips the copy). It writes a lease naming every file it will use *before* it looks at any
 * of them, and deletes the lease only after its record (a root) is written. A collection writes
 * its own run marker *before* it lists leases, then records (in that order). So for any ingest I
 * and collection C, either C's marker existed when I listed the running collections (then I waits
 * for C to end and checks its files again, restoring any file or document C deleted), or C listed leases after I's
 * lease existed (then C keeps I's files; and if I's lease was already gone, its record was there).
 * test/fault/gc-race.test.ts pauses each side at each step to keep this true.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegistryContext } from '../context.ts';
import { listAllKeys, listAllObjects, readJson, writeJson } from '../json-objects.ts';
import { GC_RUNS_PREFIX, gcRunKey, ingestLeaseKey, INGEST_LEASES_PREFIX } from '../layout.ts';

export interface IngestLease {
  readonly uploadId: string;
  readonly attemptId: string;
  readonly resources: readonly string[];
  readonly imageBlobs: readonly string[];
  /** `<coord>/<contentDigest>`: the metadata and manifest the ingest writes. */
  readonly document: string;
}

export interface GcRun {
  readonly runId: string;
  readonly startedAt: string;
}

export async function writeIngestLease(context: RegistryContext, lease: IngestLease): Promise<void> {
  await writeJson(context.store, ingestLeaseKey(lease.uploadId), lease);
}

export async function releaseIngestLease(context: RegistryContext, uploadId: string): Promise<void> {
  await context.store.delete(ingestLeaseKey(uploadId));
}

/** Leases refreshed within `freshMs` (an ingest heartbeats its lease); older ones belong to dead attempts. */
export async function liveIngestLeases(context: RegistryContext, freshMs: number): Promise<{ live: IngestLease[]; expired: string[] }> {
  const now = context.now().getTime();
  const live: IngestLease[] = [];
  const expired: string[] = [];
  for (const { key, lastModified } of await listAllObjects(context.store, INGEST_LEASES_PREFIX)) {
    if (now - lastModified.getTime() > freshMs) {
      expired.push(key);
      continue;
    }
    const lease = await readJson<IngestLease>(context.store, key);
    if (lease) live.push(lease.value);
  }
  return { live, expired };
}

export async function startGcRun(context: RegistryContext): Promise<GcRun> {
  const run: GcRun = { runId: randomUUID(), startedAt: context.now().toISOString() };
  await writeJson(context.store, gcRunKey(run.runId), run);
  return run;
}

export async function endGcRun(context: RegistryContext, run: GcRun): Promise<void> {
  await context.store.delete(gcRunKey(run.runId));
}

/** The collections under way now (their marker keys). */
export async function runningGcRuns(context: RegistryContext): Promise<string[]> {
  return listAllKeys(context.store, GC_RUNS_PREFIX);
}

/**
 * Waits until none of `runs` is still under way. A marker older than `staleMs` belongs to a
 * collection that died: it deletes nothing any more, so it is not waited for.
 */
export async function waitForGcRuns(context: RegistryContext, runs: readonly string[], staleMs: number): Promise<void> {
  let pending = [...runs];
  for (let round = 0; pending.length > 0; round++) {
    const still: string[] = [];
    for (const key of pending) {
      const info = await context.store.head(key);
      if (info && context.now().getTime() - info.lastModified.getTime() < staleMs) still.push(key);
    }
    pending = still;
    if (pending.length > 0) await sleep(Math.min(50 * 2 ** round, 2000));
  }
}
