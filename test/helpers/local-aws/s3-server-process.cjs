// A local S3-compatible server for the tests: s3rver (pinned in package.json) in its own process,
// started with --openssl-legacy-provider (s3rver's list pagination tokens need it).
//
// s3rver ignores conditional writes; real S3 enforces them. A small middleware in front of s3rver's
// routes compares the current ETag and answers 412, serialising writes per key, so the storage
// conformance suite tests the same contract on S3 as on the filesystem.
//
// Protocol on stdout, one JSON document per line: {"ready":{"port":N}} once, then {"event":<S3 event>}
// for every object created or removed.
'use strict';
const S3rver = require('s3rver');

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});

const keyLocks = new Map();
async function withKeyLock(id, work) {
  const previous = keyLocks.get(id) || Promise.resolve();
  let release;
  const mine = new Promise((resolve) => (release = resolve));
  const chained = previous.then(() => mine);
  keyLocks.set(id, chained);
  await previous;
  try {
    return await work();
  } finally {
    release();
    if (keyLocks.get(id) === chained) keyLocks.delete(id);
  }
}

function preconditionFailed(ctx) {
  ctx.status = 412;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
    '<Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
}

server.middleware.unshift(async (ctx, next) => {
  const ifNoneMatch = ctx.get('if-none-match');
  const ifMatch = ctx.get('if-match');
  const isObjectWrite =
    (ctx.method === 'PUT' && !('partNumber' in ctx.query) && !ctx.get('x-amz-copy-source')) ||
    (ctx.method === 'POST' && 'uploadId' in ctx.query);
  if (!isObjectWrite || (!ifNoneMatch && !ifMatch)) return next();
  const [, bucketName, ...keyParts] = decodeURIComponent(ctx.path).split('/');
  const key = keyParts.join('/');
  await withKeyLock(`${bucketName}/${key}`, async () => {
    let current;
    try {
      current = (await server.store.getMetadata(bucketName, key)).etag;
    } catch {
      current = undefined;
    }
    if (ifNoneMatch === '*' && current !== undefined) return preconditionFailed(ctx);
    if (ifMatch && current !== ifMatch && current !== `"${ifMatch.replace(/"/g, '')}"`) return preconditionFailed(ctx);
    await next();
  });
});

server.on('event', (event) => process.stdout.write(`${JSON.stringify({ event })}\n`));

server.run().then(({ port }) => process.stdout.write(`${JSON.stringify({ ready: { port } })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
