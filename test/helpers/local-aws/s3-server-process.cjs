// A local S3-compatible server for the tests: s3rver (pinned in package.json) in its own process,
// started with --openssl-legacy-provider (s3rver's list pagination tokens need it).
//
// Two differences from real S3 are closed by a small middleware in front of s3rver's routes, so the
// tests exercise the contract the registry relies on:
// - s3rver ignores conditional writes; S3 enforces them. The middleware compares the current ETag
//   and answers 412.
// - s3rver writes objects in place, so a read during a write can see half an object; S3 replaces
//   objects atomically. The middleware serialises the requests on each key (reads buffered whole
//   inside the lock).
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

function objectPath(ctx) {
  const [, bucketName, ...keyParts] = decodeURIComponent(ctx.path).split('/');
  return { bucketName, key: keyParts.join('/') };
}

async function bufferBody(ctx) {
  const body = ctx.body;
  if (!body || typeof body.pipe !== 'function') return;
  const chunks = [];
  for await (const chunk of body) chunks.push(chunk);
  ctx.body = Buffer.concat(chunks);
}

server.middleware.unshift(async (ctx, next) => {
  const { bucketName, key } = objectPath(ctx);
  const isObjectRequest = key !== '' && !('uploadId' in ctx.query && ctx.method === 'PUT') && !('list-type' in ctx.query);
  if (!isObjectRequest) return next();
  const ifNoneMatch = ctx.get('if-none-match');
  const ifMatch = ctx.get('if-match');
  const isObjectWrite =
    (ctx.method === 'PUT' && !ctx.get('x-amz-copy-source')) || (ctx.method === 'POST' && 'uploadId' in ctx.query);
  await withKeyLock(`${bucketName}/${key}`, async () => {
    if (isObjectWrite && (ifNoneMatch || ifMatch)) {
      let current;
      try {
        current = (await server.store.getMetadata(bucketName, key)).etag;
      } catch {
        current = undefined;
      }
      if (ifNoneMatch === '*' && current !== undefined) return preconditionFailed(ctx);
      if (ifMatch && current !== ifMatch && current !== `"${ifMatch.replace(/"/g, '')}"`) return preconditionFailed(ctx);
    }
    await next();
    if (ctx.method === 'GET') await bufferBody(ctx);
  });
});

server.on('event', (event) => process.stdout.write(`${JSON.stringify({ event })}\n`));

server.run().then(({ port }) => process.stdout.write(`${JSON.stringify({ ready: { port } })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
