/**
 * Review 2: an ingest that loses its record compare-and-swap "judges again against what the winner
 * wrote", but only ever accepts identical content: when the winner is a *replaceable* record (a
 * Failed mark left by a refused bundle of the same version, or a Removed tombstone) the good
 * bundle is Rejected PackageAlreadyExists although the version is not in the registry.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { packageRecordKey } from '../../lib/registry/layout.ts';
import { encodeCoordinate } from '../../lib/universe/coordinate.ts';
import { requestRemoval } from '../../lib/registry/packages.ts';
import { removePackage } from '../../lib/registry/publisher.ts';
import { sizedBytes } from '../helpers/asset-server.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';
import { Gate } from '../helpers/faults/faulty-store.ts';

const coord = (name: string, version = '1.0.0') => encodeCoordinate({ name, version });

function liar(name: string): Buffer {
  const good = sizedBytes(50_000, `liar-${name}`);
  const bad = Buffer.from(good);
  bad[10] = bad[10]! ^ 1;
  const bytes = craftedBundle({ name, description: 'a damaged copy', files: [good] });
  const tampered = Buffer.from(bytes);
  bad.copy(tampered, tampered.indexOf(good.subarray(0, 64)), 0, 64);
  return tampered;
}

describe('review2: a good ingest losing its record CAS to a replaceable record', () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(() => h.close());

  it('P1: a damaged copy of the same version is refused (marks the version Failed) while the good bundle is about to write its record', async () => {
    const goodKey = await h.upload(craftedBundle({ name: 'p1' }), 'p1-good-upload');
    const gate = new Gate();
    h.store.inject({ op: 'put', key: packageRecordKey(coord('p1')), action: { kind: 'pause', gate } });
    const good = h.ingest(goodKey);
    await gate.reached;
    const refused = await h.ingest(await h.upload(liar('p1'), 'p1-bad-upload'), { ...h.context, store: h.inner });
    assert.equal(refused.outcome, 'rejected');
    assert.equal((await h.record('p1', '1.0.0'))?.status, 'Failed');
    gate.release();
    const outcome = await good;
    await h.drain();
    assert.deepEqual(
      { good: outcome.outcome === 'rejected' ? outcome.error.type : outcome.outcome, record: (await h.record('p1', '1.0.0'))?.status },
      { good: 'accepted', record: 'Added' },
      'either order of the two, sequentially: the good bundle is accepted',
    );
  });

  it('P2: a Failed version is removed (tombstone) while a good bundle of it is being staged', async () => {
    await h.ingest(await h.upload(liar('p2'), 'p2-bad-upload'));
    assert.equal((await h.record('p2', '1.0.0'))?.status, 'Failed');
    const goodKey = await h.upload(craftedBundle({ name: 'p2' }), 'p2-good-upload');
    const gate = new Gate();
    h.store.inject({ op: 'put', key: packageRecordKey(coord('p2')), action: { kind: 'pause', gate } });
    const good = h.ingest(goodKey);
    await gate.reached;
    const other = { ...h.context, store: h.inner };
    await requestRemoval(other, 'p2', '1.0.0');
    await removePackage(other, 'p2', '1.0.0');
    assert.equal((await h.record('p2', '1.0.0'))?.status, 'Removed');
    gate.release();
    const outcome = await good;
    await h.drain();
    assert.deepEqual(
      { good: outcome.outcome === 'rejected' ? outcome.error.type : outcome.outcome, record: (await h.record('p2', '1.0.0'))?.status },
      { good: 'accepted', record: 'Added' },
    );
  });
});
