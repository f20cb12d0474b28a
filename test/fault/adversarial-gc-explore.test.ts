/**
 * Adversarial review, attack 1, systematic: pause the collection before each of its storage calls
 * (then the ingest before each of its own), let the other side run, release, and check that no
 * Added package or /repo entry names a missing file. Stale age is long here (30 s) so that only
 * the lease protocol itself is tested, not the stale-age shortcuts (those are A1/A2).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { listAllKeys } from '../../lib/registry/json-objects.ts';
import { collectGarbage } from '../../lib/registry/maintenance/garbage-collector.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { handleJob } from '../../lib/registry/publisher.ts';
import { ingestBundle } from '../../lib/registry/ingest.ts';
import { resourceKey } from '../../lib/registry/layout.ts';
import { sizedBytes, sha256Hex } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { invariantProblems, settleWithin, Stepper } from './adversarial-helpers.ts';

const shared = sizedBytes(300_000, 'explore');

let graceSeconds = 0;

async function setup(): Promise<Harness> {
  const h = await startHarness({ staleAfterSeconds: 30, gcGraceSeconds: graceSeconds });
  await h.ingest(await h.upload(craftedBundle({ name: 'old', files: [shared] })));
  await h.drain();
  const keep = { ...h.context, settings: { ...h.context.settings, gcGraceSeconds: 3600 } };
  await requestRemoval(keep, 'old', '1.0.0');
  await h.queue.run((job, attempt) => handleJob(keep, job, attempt));
  assert.ok(await h.inner.head(resourceKey(sha256Hex(shared))));
  if (graceSeconds > 0) {
    // Every stored file is old: past the grace window by its last write (reuse refreshes nothing).
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const key of await listAllKeys(h.inner, 'resources/')) await utimes(join(h.inner.root, `${key}.obj`), old, old);
  }
  return h;
}

async function check(h: Harness, label: string, failures: string[]): Promise<void> {
  const problems = await invariantProblems(h);
  const record = await h.record('new', '1.0.0');
  if (record?.status !== 'Added') problems.push(`new is ${record?.status ?? 'absent'} ${record?.error?.type ?? ''}`);
  const fsck = await h.fsck();
  for (const v of fsck.violations) if (v.type !== 'ContentUnreachable') problems.push(`fsck ${v.type}: ${v.message}`);
  if (problems.length > 0) failures.push(`${label}: ${problems.join('; ')}`);
}

async function callCount(actor: 'gc' | 'ingest'): Promise<number> {
  const h = await setup();
  const stepper = new Stepper(h.inner, -1);
  const key = await h.upload(craftedBundle({ name: 'new', files: [shared] }));
  if (actor === 'gc') await collectGarbage({ ...h.context, store: stepper });
  else await ingestBundle({ ...h.context, store: stepper }, key);
  await h.close();
  return stepper.calls.length;
}

for (const grace of [0, 600]) describe(`adversarial: GC vs reusing ingest, every pause point (grace ${grace} s)`, () => {
  it('(set grace)', () => void (graceSeconds = grace));
  it('pausing the collection at each call (one and two collections)', { timeout: 600_000 }, async () => {
    const n = await callCount('gc');
    const failures: string[] = [];
    for (const twoRuns of [false, true]) {
      for (let k = 0; k < n; k++) {
        const h = await setup();
        const stepper = new Stepper(h.inner, k);
        const collection = collectGarbage({ ...h.context, store: stepper });
        await Promise.race([stepper.gate.reached, collection]);
        const ingest = ingestBundle({ ...h.context, store: h.inner }, await h.upload(craftedBundle({ name: 'new', files: [shared] })));
        if (twoRuns) await collectGarbage({ ...h.context, store: h.inner });
        await settleWithin(ingest, 500);
        stepper.gate.release();
        await collection;
        await ingest;
        await h.queue.run((job, attempt) => handleJob({ ...h.context, store: h.inner }, job, attempt));
        await collectGarbage({ ...h.context, store: h.inner });
        await check(h, `gc paused before ${stepper.calls[k] ?? '(end)'} (#${k}${twoRuns ? ', second run' : ''})`, failures);
        await h.close();
      }
    }
    assert.deepEqual(failures, []);
  });

  it('pausing the ingest at each call', { timeout: 600_000 }, async () => {
    const n = await callCount('ingest');
    const failures: string[] = [];
    for (let j = 0; j < n; j++) {
      const h = await setup();
      const stepper = new Stepper(h.inner, j);
      const key = await h.upload(craftedBundle({ name: 'new', files: [shared] }));
      const ingest = ingestBundle({ ...h.context, store: stepper }, key);
      await Promise.race([stepper.gate.reached, ingest]);
      const collection = collectGarbage({ ...h.context, store: h.inner });
      await settleWithin(collection, 2000);
      stepper.gate.release();
      await ingest;
      await collection;
      await h.queue.run((job, attempt) => handleJob({ ...h.context, store: h.inner }, job, attempt));
      await collectGarbage({ ...h.context, store: h.inner });
      await check(h, `ingest paused before ${stepper.calls[j] ?? '(end)'} (#${j})`, failures);
      await h.close();
    }
    assert.deepEqual(failures, []);
  });
});
