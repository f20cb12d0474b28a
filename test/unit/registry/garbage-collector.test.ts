import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsObjectStore } from '../../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../../lib/adapters/job-queue/in-process-job-queue.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../../lib/registry/context.ts';
import { collectGarbage, markIfUnreferenced } from '../../../lib/registry/garbage-collector.ts';
import { listAllKeys } from '../../../lib/registry/json-objects.ts';
import { imageBlobKey, resourceKey, resourceReferenceKey } from '../../../lib/registry/layout.ts';
import { silentLogger } from '../../../lib/support/logger.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

describe('garbage collection', () => {
  it('deletes unreferenced content only after the grace window, and keeps what is used again', async () => {
    let now = Date.now();
    const context: RegistryContext = {
      store: new FsObjectStore(await temporaryDirectory()),
      queue: new InProcessJobQueue(silentLogger),
      settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry', gcGraceSeconds: 3600 },
      log: silentLogger,
      now: () => new Date(now),
    };
    const { store } = context;
    await store.put(resourceKey(A), Buffer.from('unused file'));
    await store.put(imageBlobKey(B), Buffer.from('unused layer'));
    await store.put(resourceKey(C), Buffer.from('file used again'));
    await store.put(resourceReferenceKey(C, 'other-package'), new Uint8Array(0));
    await markIfUnreferenced(context, 'resources', A);
    await markIfUnreferenced(context, 'image-blobs', B);
    await markIfUnreferenced(context, 'resources', C);
    assert.deepEqual(await listAllKeys(store, 'gc/'), [`gc/image-blobs/${B}`, `gc/resources/${A}`], 'a referenced file is no candidate');

    now += 30 * 60 * 1000;
    assert.deepEqual(await collectGarbage(context), { deleted: 0, kept: 0, waiting: 2 });
    assert.ok(await store.head(resourceKey(A)), 'still there within the grace window');

    // An ingest starts to use A again: its marker rescues A.
    await store.put(resourceReferenceKey(A, 'new-package'), new Uint8Array(0));
    now += 2 * 60 * 60 * 1000;
    assert.deepEqual(await collectGarbage(context), { deleted: 1, kept: 1, waiting: 0 });
    assert.ok(await store.head(resourceKey(A)));
    assert.equal(await store.head(imageBlobKey(B)), undefined);
    assert.deepEqual(await listAllKeys(store, 'gc/'), []);
  });
});
