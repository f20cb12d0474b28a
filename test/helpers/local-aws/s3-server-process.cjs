// A local S3-compatible server for the tests: s3rver (pinned in package.json) in its own process,
// started with --openssl-legacy-provider (s3rver's list pagination tokens need it).
//
// Differences from real S3 are closed by a small middleware in front of s3rver's routes (and one
// store method replaced), so the tests exercise the contract the registry relies on:
// - s3rver ignores conditional writes; S3 enforces them. The middleware compares the current ETag
//   and answers 412.
// - s3rver writes objects in place, so a read during a write can see half an object; S3 replaces
//   objects atomically. The middleware serialises the requests on each key (reads buffered whole
//   inside the lock).
// - s3rver does not check SigV4 signatures; S3 does. For presigned URLs (what clients outside the
//   registry use: uploads, redirects) the middleware signs the request again as received and
//   refuses a mismatch, so a body of another length than the signed Content-Length, or a missing
//   signed If-None-Match, is refused as S3 refuses it.
// - s3rver has no ListMultipartUploads, ListParts nor AbortMultipartUpload; the middleware answers
//   them from s3rver's own upload directories, so abandoned uploads can be found and aborted.
// - s3rver has no UploadPartCopy (it stores the empty body as the part); the middleware copies the
//   source's range into the part, held to x-amz-copy-source-if-match.
// - s3rver prunes the directories a delete leaves empty, racing puts of other keys into the same
//   directory: a put between its mkdirp and its open gets ENOENT on a stream nobody listens to for
//   errors, which takes the whole server down. S3 has no directories; here deletes keep them.
//
// It also injects faults, so the tests see the answers real S3 gives under load and contention:
// `POST /__faults` with a JSON spec (or an array of them)
//   {"method":"PUT","keyContains":"x","query":"uploadId","status":409,"code":"ConditionalRequestConflict","times":1}
// makes the next `times` (default 1) object requests that match (method, a substring of the key in
// the bucket, a query parameter present; each optional) answer `status` with an S3 XML error body,
// before s3rver sees them. `GET /__faults` lists the specs with the times each has left;
// `DELETE /__faults` clears them.
//
// Protocol on stdout, one JSON document per line: {"ready":{"port":N}} once, then {"event":<S3 event>}
// for every object created or removed.
'use strict';
const fsp = require('fs/promises');
const path = require('path');
const crypto = require('crypto');
const S3rver = require('s3rver');
const { SignatureV4 } = require('@smithy/signature-v4');

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});

server.store.deleteObject = async function deleteObject(bucketName, key) {
  await Promise.all(
    ['object', 'object.md5', 'metadata.json'].map((resource) =>
      fsp.unlink(this.getResourcePath(bucketName, key, resource)).catch((error) => {
        if (error.code !== 'ENOENT') throw error;
      }),
    ),
  );
};

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

const MESSAGES = {
  ConditionalRequestConflict: 'A conflicting operation occurred. If using PutObject you can retry the request.',
  InternalError: 'We encountered an internal error. Please try again.',
  NoSuchUpload: 'The specified upload does not exist.',
  PreconditionFailed: 'At least one of the pre-conditions you specified did not hold',
  ServiceUnavailable: 'Please reduce your request rate.',
  SlowDown: 'Please reduce your request rate.',
};

function xmlEscape(value) {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function xmlElements(fields) {
  return Object.entries(fields)
    .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
    .join('');
}

function s3Error(ctx, status, code, message = MESSAGES[code] || `Injected ${code}`) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.set('x-amz-error-code', code);
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${xmlElements({ Code: code, Message: message })}</Error>`;
}

function preconditionFailed(ctx) {
  s3Error(ctx, 412, 'PreconditionFailed');
}

function xmlResult(ctx, root, inner) {
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
}

// Faults

let faults = [];

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
}

async function controlFaults(ctx) {
  if (ctx.method === 'POST') {
    const body = await readJson(ctx);
    const specs = Array.isArray(body) ? body : [body];
    for (const spec of specs) {
      if (!spec || !Number.isInteger(spec.status) || typeof spec.code !== 'string') {
        ctx.status = 400;
        ctx.body = 'a fault needs an integer status and a string code';
        return;
      }
    }
    for (const spec of specs) faults.push({ ...spec, times: spec.times === undefined ? 1 : spec.times });
    ctx.status = 204;
  } else if (ctx.method === 'DELETE') {
    faults = [];
    ctx.status = 204;
  } else {
    ctx.body = faults;
  }
}

function takeFault(ctx, key) {
  for (const fault of faults) {
    if (fault.times <= 0) continue;
    if (fault.method && fault.method.toUpperCase() !== ctx.method) continue;
    if (fault.keyContains && !key.includes(fault.keyContains)) continue;
    if (fault.query && !(fault.query in ctx.query)) continue;
    fault.times--;
    return fault;
  }
  return undefined;
}

// Multipart uploads: s3rver keeps each in <bucket>/._S3rver_uploads/<upload id>/, holding the
// files `key`, `metadata`, and `<part number>` with `<part number>.md5`.

function uploadDirectory(bucketName, uploadId) {
  if (!/^[0-9a-f]+$/.test(uploadId)) return undefined;
  return path.join(server.store.getResourcePath(bucketName, undefined, 'uploads'), uploadId);
}

async function uploadKey(bucketName, uploadId) {
  const directory = uploadDirectory(bucketName, uploadId);
  if (!directory) return undefined;
  try {
    return await fsp.readFile(path.join(directory, 'key'), 'utf8');
  } catch {
    return undefined;
  }
}

async function listMultipartUploads(ctx, bucketName) {
  const root = server.store.getResourcePath(bucketName, undefined, 'uploads');
  let ids;
  try {
    ids = await fsp.readdir(root);
  } catch {
    ids = [];
  }
  const prefix = ctx.query.prefix || '';
  const keyMarker = ctx.query['key-marker'] || '';
  const uploadIdMarker = ctx.query['upload-id-marker'] || '';
  const maxUploads = Math.min(Number(ctx.query['max-uploads']) || 1000, 1000);
  const uploads = [];
  for (const uploadId of ids) {
    try {
      const keyFile = path.join(root, uploadId, 'key');
      const [key, stats] = await Promise.all([fsp.readFile(keyFile, 'utf8'), fsp.stat(keyFile)]);
      if (!key.startsWith(prefix)) continue;
      if (keyMarker && !(key > keyMarker || (key === keyMarker && uploadIdMarker && uploadId > uploadIdMarker))) continue;
      uploads.push({ key, uploadId, initiated: stats.mtime });
    } catch {
      // Completed or aborted meanwhile.
    }
  }
  // By key, then (as the markers need an order) by upload id.
  uploads.sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.uploadId < b.uploadId ? -1 : 1));
  const page = uploads.slice(0, maxUploads);
  const truncated = uploads.length > page.length;
  const last = page[page.length - 1];
  const owner = '<ID>123456789000</ID><DisplayName>S3rver</DisplayName>';
  xmlResult(
    ctx,
    'ListMultipartUploadsResult',
    xmlElements({ Bucket: bucketName, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }) +
      (truncated ? xmlElements({ NextKeyMarker: last.key, NextUploadIdMarker: last.uploadId }) : '') +
      xmlElements({ Prefix: prefix, MaxUploads: maxUploads, IsTruncated: truncated }) +
      page
        .map(
          (upload) =>
            `<Upload>${xmlElements({ Key: upload.key, UploadId: upload.uploadId })}<Initiator>${owner}</Initiator>` +
            `<Owner>${owner}</Owner>${xmlElements({ StorageClass: 'STANDARD', Initiated: upload.initiated.toISOString() })}</Upload>`,
        )
        .join(''),
  );
}

async function listParts(ctx, bucketName, key) {
  const uploadId = ctx.query.uploadId;
  if ((await uploadKey(bucketName, uploadId)) !== key) return s3Error(ctx, 404, 'NoSuchUpload');
  const directory = uploadDirectory(bucketName, uploadId);
  const marker = Number(ctx.query['part-number-marker']) || 0;
  const maxParts = Math.min(Number(ctx.query['max-parts']) || 1000, 1000);
  const numbers = (await fsp.readdir(directory))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((number) => number > marker)
    .sort((a, b) => a - b);
  const page = numbers.slice(0, maxParts);
  const parts = [];
  for (const number of page) {
    const file = path.join(directory, String(number));
    const [stats, md5] = await Promise.all([fsp.stat(file), fsp.readFile(`${file}.md5`, 'utf8').catch(() => '')]);
    parts.push(
      `<Part>${xmlElements({ PartNumber: number, LastModified: stats.mtime.toISOString(), ETag: `"${md5}"`, Size: stats.size })}</Part>`,
    );
  }
  const truncated = numbers.length > page.length;
  xmlResult(
    ctx,
    'ListPartsResult',
    xmlElements({ Bucket: bucketName, Key: key, UploadId: uploadId, PartNumberMarker: marker }) +
      (truncated ? xmlElements({ NextPartNumberMarker: page[page.length - 1] }) : '') +
      xmlElements({ MaxParts: maxParts, IsTruncated: truncated, StorageClass: 'STANDARD' }) +
      parts.join(''),
  );
}

async function abortMultipartUpload(ctx, bucketName, key) {
  const uploadId = ctx.query.uploadId;
  if ((await uploadKey(bucketName, uploadId)) !== key) return s3Error(ctx, 404, 'NoSuchUpload');
  await fsp.rm(uploadDirectory(bucketName, uploadId), { recursive: true, force: true });
  ctx.status = 204;
}

/**
 * UploadPartCopy (a PUT of a part with `x-amz-copy-source`), which s3rver does not implement (it
 * would store the empty body as the part): the source's range is read from s3rver's store and
 * stored as the part, held to `x-amz-copy-source-if-match` as S3 holds it (412), with S3's
 * answers for a missing source (404 NoSuchKey) and a range outside it (400 InvalidArgument).
 */
async function uploadPartCopy(ctx, bucketName, key) {
  if ((await uploadKey(bucketName, ctx.query.uploadId)) !== key) return s3Error(ctx, 404, 'NoSuchUpload');
  const copySource = decodeURIComponent(String(ctx.get('x-amz-copy-source')).split('?')[0]).replace(/^\//, '');
  const [sourceBucket, ...sourceKeyParts] = copySource.split('/');
  const sourceKey = sourceKeyParts.join('/');
  return withKeyLock(`${sourceBucket}/${sourceKey}`, async () => {
    let metadata;
    try {
      metadata = await server.store.getMetadata(sourceBucket, sourceKey);
    } catch {
      metadata = undefined;
    }
    if (!metadata || metadata['content-length'] === undefined) return s3Error(ctx, 404, 'NoSuchKey');
    const ifMatch = ctx.get('x-amz-copy-source-if-match');
    if (ifMatch && metadata.etag !== ifMatch && metadata.etag !== `"${ifMatch.replace(/"/g, '')}"`) return preconditionFailed(ctx);
    const size = Number(metadata['content-length']);
    const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.get('x-amz-copy-source-range') || `bytes=0-${size - 1}`);
    const [start, end] = range ? [Number(range[1]), Number(range[2])] : [NaN, NaN];
    if (!range || end < start || end >= size) return s3Error(ctx, 400, 'InvalidArgument', `Range specified is not valid for source object of size: ${size}`);
    const object = await server.store.getObject(sourceBucket, sourceKey, { start, end });
    const { md5 } = await server.store.putPart(bucketName, ctx.query.uploadId, ctx.query.partNumber, object.content);
    xmlResult(ctx, 'CopyPartResult', xmlElements({ ETag: `"${md5}"`, LastModified: new Date().toISOString() }));
  });
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

class Sha256 {
  constructor(secret) {
    this.hash = secret ? crypto.createHmac('sha256', secret) : crypto.createHash('sha256');
  }
  update(data) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

const AUTH_QUERY = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'];

/** Why a presigned request's signature does not hold (signed again from what arrived), or undefined. */
async function presignedProblem(ctx) {
  const query = ctx.query;
  const credential = String(query['X-Amz-Credential'] || '').split('/');
  const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(query['X-Amz-Date'] || ''));
  if (credential.length !== 5 || !stamp) return 'malformed presigned URL';
  const signingDate = new Date(Date.UTC(+stamp[1], +stamp[2] - 1, +stamp[3], +stamp[4], +stamp[5], +stamp[6]));
  const expiresIn = Number(query['X-Amz-Expires']);
  if (signingDate.getTime() + expiresIn * 1000 < Date.now()) return 'expired';
  const headers = {};
  for (const name of String(query['X-Amz-SignedHeaders'] || '').split(';')) {
    const value = ctx.get(name);
    if (value === '') return `signed header ${name} is missing`;
    headers[name] = value;
  }
  const rest = {};
  for (const [name, value] of Object.entries(query)) if (!AUTH_QUERY.includes(name)) rest[name] = value;
  const signer = new SignatureV4({
    credentials: { accessKeyId: credential[0], secretAccessKey: 'S3RVER' },
    region: credential[2],
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = await signer.presign(
    { method: ctx.method, protocol: 'http:', hostname: ctx.hostname, path: ctx.path, query: rest, headers },
    { expiresIn, signingDate },
  );
  return signed.query['X-Amz-Signature'] === query['X-Amz-Signature'] ? undefined : 'signature does not match';
}

server.middleware.unshift(async (ctx, next) => {
  if (ctx.path === '/__faults') return controlFaults(ctx);
  if ('X-Amz-Signature' in ctx.query) {
    const problem = await presignedProblem(ctx);
    if (problem) {
      // Answered before the body is read: the connection cannot be reused.
      ctx.set('connection', 'close');
      return s3Error(ctx, 403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided (${problem})`);
    }
  }
  const { bucketName, key } = objectPath(ctx);
  if (key !== '') {
    const fault = takeFault(ctx, key);
    if (fault) return s3Error(ctx, fault.status, fault.code, fault.message);
  }
  if (key === '' && ctx.method === 'GET' && 'uploads' in ctx.query) return listMultipartUploads(ctx, bucketName);
  if (key !== '' && ctx.method === 'GET' && 'uploadId' in ctx.query) return listParts(ctx, bucketName, key);
  if (key !== '' && ctx.method === 'PUT' && 'uploadId' in ctx.query && ctx.get('x-amz-copy-source')) return uploadPartCopy(ctx, bucketName, key);
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
    // In the key's lock, so an abort and a completion of one upload do not interleave.
    if (ctx.method === 'DELETE' && 'uploadId' in ctx.query) return abortMultipartUpload(ctx, bucketName, key);
    await next();
    if (ctx.method === 'GET') await bufferBody(ctx);
  });
});

server.on('event', (event) => process.stdout.write(`${JSON.stringify({ event })}\n`));

server.run().then(({ port }) => process.stdout.write(`${JSON.stringify({ ready: { port } })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
