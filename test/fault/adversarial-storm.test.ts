/**
 * Adversarial review, attack 2: random storms of add (identical / different content), remove and
 * deliveries (duplicated, reversed) on one coordinate. The expected end state is that of the last
 * operation that succeeded when it was called (the linearisation in call order): Added with that
 * content, or absent. Also: fsck clean, nothing transient after reconciliation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reconcile } from '../../lib/registry/maintenance/reconciler.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { craftedBundle, startHarness } from '../helpers/faults/registry-harness.ts';
import { invariantProblems } from './adversarial-helpers.ts';

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('adversarial: storms on one coordinate', () => {
  it('end state equals the call-order linearisation, fsck clean', { timeout: 600_000 }, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 60; seed++) {
      const h = await startHarness();
      const rng = mulberry32(seed);
      const trace: string[] = [];
      let expected: string | undefined; // contentDigest, or undefined for absent
      for (let step = 0; step < 14; step++) {
        const r = rng();
        if (r < 0.4) {
          const description = ['A', 'B', 'C'][Math.floor(rng() * 3)]!;
          const outcome = await h.ingest(await h.upload(craftedBundle({ name: 'storm', description })));
          trace.push(`add ${description} → ${outcome.outcome}${outcome.outcome === 'accepted' && outcome.unchanged ? ' (unchanged)' : ''}${outcome.outcome === 'rejected' ? ` ${outcome.error.type}` : ''}`);
          if (outcome.outcome === 'accepted') expected = outcome.contentDigest;
        } else if (r < 0.65) {
          try {
            await requestRemoval(h.context, 'storm', '1.0.0');
            trace.push('remove → ok');
            expected = undefined;
          } catch (error) {
            trace.push(`remove → ${(error as Error).name}`);
          }
        } else {
          const duplicate = rng() < 0.5;
          const reverse = rng() < 0.5;
          trace.push(`drain${duplicate ? ' dup' : ''}${reverse ? ' rev' : ''}`);
          await h.drain({ duplicate, reverse });
        }
      }
      await h.drain({ duplicate: true, reverse: true });
      for (let pass = 0; pass < 3; pass++) {
        await reconcile(h.context, { staleAfterMs: 0 });
        await h.drain();
      }
      const record = await h.record('storm', '1.0.0');
      const actual = record && record.status !== 'Removed' ? `${record.status} ${record.contentDigest.slice(0, 8)}` : 'absent';
      const want = expected ? `Added ${expected.slice(0, 8)}` : 'absent';
      const problems = await invariantProblems(h);
      const fsck = (await h.fsck()).violations.map((v) => v.type);
      if (actual !== want || problems.length > 0 || fsck.length > 0) {
        failures.push(`seed ${seed}: want ${want}, got ${actual} ${record?.error?.type ?? ''}; problems ${JSON.stringify(problems)}; fsck ${JSON.stringify(fsck)}\n    ${trace.join('\n    ')}`);
      }
      await h.close();
    }
    assert.equal(failures.length, 0, failures.join('\n'));
  });
});

/** Every call waits 0–3 ms at random: enough to interleave concurrent writers. */
import type { ObjectStore } from '../../lib/ports/object-store.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import type { RegistryJob } from '../../lib/ports/job-queue.ts';
function jittery(inner: ObjectStore, rng: () => number): ObjectStore {
  const wait = () => new Promise((resolve) => setTimeout(resolve, rng() < 0.05 ? 40 : Math.floor(rng() * 4)));
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !['head', 'get', 'put', 'delete', 'list'].includes(String(property))) return value;
      return async (...args: unknown[]) => {
        await wait();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const SEEDS = Number(process.env.STORM_SEEDS ?? 60);
describe('adversarial: concurrent storms (two instances consume every job; adds and removes concurrent)', () => {
  it('invariants hold at rest', { timeout: 900_000 }, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const h = await startHarness();
      const rng = mulberry32(1000 + seed);
      const instances = [0, 1].map(() => ({ ...h.context, store: jittery(h.inner, rng) }));
      const trace: string[] = [];
      for (let round = 0; round < 6; round++) {
        const work: Promise<unknown>[] = [];
        const adds = Math.floor(rng() * 3);
        for (let i = 0; i < adds; i++) {
          const description = ['A', 'B'][Math.floor(rng() * 2)]!;
          const instance = instances[Math.floor(rng() * 2)]!;
          work.push(
            h.upload(craftedBundle({ name: 'cstorm', description })).then((key) =>
              h.ingest(key, instance).then(
                (o) => trace.push(`r${round} add ${description} → ${o.outcome}${o.outcome === 'rejected' ? ` ${o.error.type}` : ''}`),
                (e) => trace.push(`r${round} add ${description} threw ${(e as Error).message}`),
              ),
            ),
          );
        }
        if (rng() < 0.5) {
          work.push(requestRemoval(instances[Math.floor(rng() * 2)]!, 'cstorm', '1.0.0').then(() => trace.push(`r${round} remove ok`), () => trace.push(`r${round} remove none`)));
        }
        const jobs: RegistryJob[] = h.queue.sent.splice(0);
        await h.queue.run(async () => undefined); // clear pending: the two instances deliver instead
        for (const instance of instances) {
          work.push((async () => {
            for (const job of rng() < 0.5 ? [...jobs].reverse() : jobs) {
              try {
                await handleJob(instance, job, 1);
              } catch {
                try { await handleJob(instance, job, 3); } catch { /* recorded */ }
              }
            }
          })());
        }
        await Promise.all(work);
        trace.push(`r${round} jobs ${jobs.map((j) => j.kind).join(',')}`);
      }
      await h.drain();
      for (let pass = 0; pass < 3; pass++) {
        await reconcile(h.context, { staleAfterMs: 0 });
        await h.drain();
      }
      const problems = await invariantProblems(h);
      // Late fragments of raced publications are garbage for the collector, not a broken invariant.
      await collectGarbage(h.context);
      const fsck = (await h.fsck()).violations.map((v) => `${v.type}: ${v.message}`);
      if (problems.length > 0 || fsck.length > 0) failures.push(`seed ${seed}: problems ${JSON.stringify(problems)}; fsck ${JSON.stringify(fsck)}\n    ${trace.join('\n    ')}`);
      await h.close();
    }
    assert.equal(failures.length, 0, `${failures.length} of ${SEEDS} seeds broke:\n${failures.join('\n')}`);
  });
});

describe('adversarial: live storms (every job delivered at once to two instances, as it is sent)', () => {
  it('invariants hold at rest', { timeout: 900_000 }, async () => {
    const failures: string[] = [];
    for (let seed = Number(process.env.SEED_FROM ?? 1); seed <= SEEDS; seed++) {
      const h = await startHarness();
      const rng = mulberry32(5000 + seed);
      const inflight: Promise<unknown>[] = [];
      const trace: string[] = [];
      const instances: (typeof h.context)[] = [];
      const queue = {
        name: 'live',
        send: async (job: RegistryJob) => {
          for (const instance of instances) {
            inflight.push((async () => {
              await new Promise((resolve) => setTimeout(resolve, Math.floor(rng() * 5)));
              try { await handleJob(instance, job, 1); } catch { try { await handleJob(instance, job, 3); } catch { /* recorded */ } }
            })());
          }
        },
      };
      for (let i = 0; i < 2; i++) instances.push({ ...h.context, queue, store: jittery(h.inner, rng) });
      const work: Promise<unknown>[] = [];
      for (let step = 0; step < 10; step++) {
        const instance = instances[Math.floor(rng() * 2)]!;
        if (rng() < 0.55) {
          const description = ['A', 'B'][Math.floor(rng() * 2)]!;
          work.push(h.upload(craftedBundle({ name: 'live', description })).then((key) => h.ingest(key, instance)).then(
            (o) => trace.push(`add ${description} → ${o.outcome}${o.outcome === 'rejected' ? ` ${o.error.type}` : ''}`),
            (e) => trace.push(`add ${description} threw ${(e as Error).message}`),
          ));
        } else {
          work.push(requestRemoval(instance, 'live', '1.0.0').then(() => trace.push('remove ok'), () => trace.push('remove none')));
        }
        await new Promise((resolve) => setTimeout(resolve, Math.floor(rng() * 15)));
      }
      await Promise.all(work);
      while (inflight.length > 0) await Promise.all(inflight.splice(0));
      const quiet = { ...h.context, store: h.inner };
      for (let pass = 0; pass < 3; pass++) {
        await reconcile({ ...quiet, queue: h.queue }, { staleAfterMs: 0 });
        await h.drain();
      }
      await collectGarbage(quiet);
      const problems = await invariantProblems(h);
      const fsck = (await h.fsck()).violations.map((v) => `${v.type}: ${v.message}`);
      const final = await h.record('live', '1.0.0');
      if (problems.length > 0 || fsck.length > 0) failures.push(`seed ${seed}: record ${final?.status} ${final?.error?.type ?? ''} ${final?.error?.message ?? ''}; problems ${JSON.stringify(problems)}; fsck ${JSON.stringify(fsck)}\n    ${trace.join('\n    ')}`);
      await h.close();
    }
    assert.equal(failures.length, 0, `${failures.length} of ${SEEDS} seeds broke:\n${failures.join('\n')}`);
  });
});
