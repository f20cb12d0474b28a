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
describeObjectStore('s3 (local S3-compatible server)', async () => server.store(`t-${randomUUID()}`), { presign: true });
