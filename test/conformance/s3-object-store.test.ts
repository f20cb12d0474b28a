import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { startLocalS3, type LocalS3 } from '../helpers/local-aws/local-s3.ts';
import { describeObjectStore } from './object-store-suite.ts';

let server: LocalS3;
before(async () => {
  server = await startLocalS3();
});
after(() => server.close());

// Each test gets its own key prefix in the one bucket, as several registries sharing a bucket would.
describeObjectStore('s3 (local S3-compatible server)', async () => server.store(`t-${randomUUID()}`), {
  presign: true,
  // Each round is three requests; the race these rounds look for is the filesystem's.
  raceIterations: 200,
  unorderedAcrossFolders: 's3rver lists keys in the order it walks its folders, not in byte order as S3 and MinIO do (and as the S3 adapter passes on)',
  faults: {
    inject: (spec) => server.injectFault(spec),
    clear: () => server.clearFaults(),
    remaining: async () => (await server.faults()).reduce((sum, fault) => sum + fault.times, 0),
  },
  // A put killed midway leaves its multipart upload, with the parts sent so far.
  abandonWrite: async (store, key, body) => {
    assert.ok(store.multipart);
    const uploadId = await store.multipart.start(key, { contentType: 'application/octet-stream' });
    const response = await fetch(await store.multipart.presignPart(key, uploadId, 1, 300), { method: 'PUT', body });
    assert.equal(response.status, 200, await response.text());
  },
});
