/**
 * An ingest says how far it has got (issue 11, item 4): while Validating, the upload's record
 * carries the phase and the files and bytes verified so far, written with the attempt's heartbeat
 * at most once a second, never past the whole, and gone once the upload has ended. The stores of
 * the files are slowed here, so the attempt lasts long enough to be watched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IngestProgress } from '../../lib/registry/records.ts';
import { craftedBundle, startHarness, type Harness } from '../helpers/faults/registry-harness.ts';

describe('ingest progress in the upload record', () => {
  let h: Harness;
  before(async () => (h = await startHarness()));
  after(() => h.close());

  it('reports verifying N/M files as it goes, then recording, and clears it at the end', async () => {
    const files = [0, 1, 2, 3].map((index) => Buffer.alloc(256 * 1024, index + 1));
    const key = await h.upload(craftedBundle({ name: 'progress', files }), 'progress-upload');
    h.store.inject({ op: 'put', key: 'resources/', times: 10, action: { kind: 'delay', ms: 700 } });
    const seen: IngestProgress[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const record = await h.uploadRecord('progress-upload');
        if (record?.progress && JSON.stringify(record.progress) !== JSON.stringify(seen[seen.length - 1])) seen.push(record.progress);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    const outcome = await h.ingest(key);
    watching = false;
    await watcher;
    assert.equal(outcome.outcome, 'accepted');
    assert.ok(seen.length >= 2, `progress seen: ${JSON.stringify(seen)}`);
    const total = seen[0]!.filesTotal;
    assert.ok(total >= files.length, 'every file of the bundle is counted');
    assert.ok(seen.some((progress) => progress.phase === 'verifying' && progress.filesDone > 0 && progress.filesDone < total), `a step part-way: ${JSON.stringify(seen)}`);
    for (let index = 1; index < seen.length; index++) {
      assert.ok(seen[index]!.filesDone >= seen[index - 1]!.filesDone, 'files done never go back');
      assert.ok(seen[index]!.bytesDone >= seen[index - 1]!.bytesDone, 'bytes done never go back');
    }
    for (const progress of seen) assert.ok(progress.bytesDone <= progress.bytesTotal && progress.filesDone <= progress.filesTotal);
    const ended = await h.uploadRecord('progress-upload');
    assert.equal(ended?.status, 'Accepted');
    assert.equal(ended?.progress, undefined, 'an ended upload carries no progress');
  });
});
