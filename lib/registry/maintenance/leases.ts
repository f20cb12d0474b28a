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
 * test/fault/state-model.test.ts pauses each side at its steps to keep this true. Both sides keep their
 * marker or lease fresh while they work; an ingest that could not (it stalled) re-checks everything
 * before it commits, and a collection that could not deletes nothing more (assertAlive).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegistryContext } from '../context.ts';
import { listAllKeys, listAllObjects, readJson, writeJson } from '../json-objects.ts';
import { ObjectStoreError } from '../../ports/object-store.ts';
import { GC_RUNS_PREFIX, gcRunKey, ingestLeaseKey, INGEST_LEASES_PREFIX } from '../layout.ts';
import { heartbeatMs, staleAfterMs } from './timing.ts';

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

export interface RunningGc {
  readonly run: GcRun;
  /**
   * Throws unless the marker was refreshed recently enough that no ingest can have taken this
   * collection for dead: called before every delete, so a collection that stalled past the stale
   * age (and that ingests stopped waiting for) deletes nothing more.
   */
  assertAlive(): void;
  end(): Promise<void>;
}

/** Writes the collection's marker and keeps it fresh (on a timer: a live collection is alive) until it ends. */
export async function startGcRun(context: RegistryContext): Promise<RunningGc> {
  const run: GcRun = { runId: randomUUID(), startedAt: context.now().toISOString() };
  const staleMs = staleAfterMs(context.settings);
  await writeJson(context.store, gcRunKey(run.runId), run);
  let refreshedAt = Date.now();
  let refreshing: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (refreshing) return;
    const startedAt = Date.now();
    refreshing = writeJson(context.store, gcRunKey(run.runId), run)
      .then(() => (refreshedAt = startedAt))
      .catch((error: unknown) => context.log.warn('collection marker not refreshed', { error }))
      .finally(() => (refreshing = undefined));
  }, heartbeatMs(context.settings));
  timer.unref();
  return {
    run,
    assertAlive: () => {
      if (Date.now() - refreshedAt > staleMs / 2) throw new Error(`collection ${run.runId} could not keep its marker fresh: it stops before deleting more`);
    },
    end: async () => {
      clearInterval(timer);
      await refreshing;
      await context.store.delete(gcRunKey(run.runId));
    },
  };
}

/** The collections under way now (their marker keys). */
export async function runningGcRuns(context: RegistryContext): Promise<string[]> {
  return listAllKeys(context.store, GC_RUNS_PREFIX);
}

/**
 * Waits until none of `runs` is still under way. A marker older than `staleMs` belongs to a
 * collection that died, or that stalled and stops before its next delete: not waited for.
 */
export async function waitForGcRuns(context: RegistryContext, runs: readonly string[], staleMs: number): Promise<void> {
  let pending = [...runs];
  const deadline = Date.now() + 4 * staleMs;
  for (let round = 0; pending.length > 0; round++) {
    // A live collection refreshes its marker; one that runs this long is waited for no more, and
    // this attempt fails (to be retried) rather than commit what that collection may yet delete.
    if (Date.now() > deadline) throw new ObjectStoreError(context.store.name, `a collection has been running for more than ${(4 * staleMs) / 1000} s: the ingest is retried later`);
    const still: string[] = [];
    for (const key of pending) {
      const info = await context.store.head(key);
      if (info && context.now().getTime() - info.lastModified.getTime() < staleMs) still.push(key);
    }
    pending = still;
    if (pending.length > 0) await sleep(Math.min(50 * 2 ** round, 2000));
  }
}
