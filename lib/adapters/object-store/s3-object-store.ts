/**
 * Object storage on S3 and S3-compatible stores (AWS S3, MinIO, LocalStack): bucket, optional key
 * prefix, optional endpoint and path-style addressing.
 *
 * Vendor errors are translated here and nowhere else: 404/NoSuchKey → ObjectNotFoundError,
 * 412 PreconditionFailed → PreconditionFailedError. A 409 ConditionalRequestConflict is not a
 * failed condition: S3 answers it when a conflicting write to the key was in flight, the
 * condition undecided, and documents it as "retry the request"; the adapter retries it a few
 * times and then reports a plain ObjectStoreError (transient), never PreconditionFailedError,
 * which callers take as "written meanwhile". Throttling (503 SlowDown) and server errors (500,
 * 502, 503, 504) are retried by the SDK's standard retry strategy.
 * Bodies of unknown length are uploaded in parts (multipart), so memory stays at one part.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompleteMultipartUploadCommandInput,
  type CompleteMultipartUploadCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { mapConcurrently } from '../../support/map-concurrently.ts';
import {
  assertValidKey,
  assertValidPrefix,
  ObjectNotFoundError,
  ObjectStoreError,
  PreconditionFailedError,
  type ByteRange,
  type ListPage,
  type MultipartUploads,
  type ObjectInfo,
  type ObjectStore,
  type PresignOptions,
  type PutOptions,
  type RangeSource,
  type StoredObject,
} from '../../ports/object-store.ts';

const ADAPTER = 's3';
const PART_SIZE = 16 * 1024 * 1024;
/** Parts of a range copied inside S3: large (each is one request), above S3's 5 MiB minimum. */
const COPY_PART_BYTES = 256 * 1024 * 1024;
const COPY_CONCURRENCY = 4;
/** S3's most parts per upload. */
const MAX_PARTS = 10_000;
// The SDK's own defaults (standard retry, 3 attempts), stated so that AWS_MAX_ATTEMPTS=1 or a
// profile's max_attempts cannot turn retries of throttling and server errors off. A larger
// AWS_MAX_ATTEMPTS is kept.
const MIN_SDK_ATTEMPTS = 3;
// 409 ConditionalRequestConflict: attempts in all, and the first backoff (doubling, jittered). A
// conflict lasts as long as the other write's request, so a few hundred milliseconds in all.
const CONFLICT_ATTEMPTS = 4;
const CONFLICT_BACKOFF_MS = 50;

export interface S3ObjectStoreOptions {
  readonly bucket: string;
  /** Prepended to every key, without a trailing slash (e.g. `registry`). */
  readonly prefix?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  readonly credentials?: S3ClientConfig['credentials'];
}

export class S3ObjectStore implements ObjectStore {
  readonly name = ADAPTER;
  private readonly prefix: string;
  private madeClient: S3Client | undefined;

  constructor(private readonly options: S3ObjectStoreOptions) {
    this.prefix = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
  }

  /** Made on first use: a Lambda's module init then costs nothing for it (issue 11, item 5). */
  get client(): S3Client {
    this.madeClient ??= this.makeClient();
    return this.madeClient;
  }

  private makeClient(): S3Client {
    const options = this.options;
    return new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      retryMode: 'standard',
      maxAttempts: Math.max(MIN_SDK_ATTEMPTS, Number(process.env.AWS_MAX_ATTEMPTS) || 0),
      // Checksums only where S3 requires them: S3-compatible stores (s3rver, older MinIO) store
      // streamed bodies with their aws-chunked framing otherwise.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertValidKey(ADAPTER, key);
    try {
      const output = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }));
      return {
        key,
        size: output.ContentLength ?? 0,
        etag: output.ETag ?? '',
        ...(output.ContentType ? { contentType: output.ContentType } : {}),
        ...(output.ContentEncoding ? { contentEncoding: output.ContentEncoding } : {}),
        metadata: output.Metadata ?? {},
        lastModified: output.LastModified ?? new Date(0),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw translate(error, key);
    }
  }

  async get(key: string, options: { range?: ByteRange } = {}): Promise<StoredObject> {
    assertValidKey(ADAPTER, key);
    const range = options.range ? `bytes=${options.range.start}-${options.range.end}` : undefined;
    try {
      const output = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key, ...(range ? { Range: range } : {}) }),
      );
      const total = output.ContentRange ? Number(/\/(\d+)$/.exec(output.ContentRange)?.[1]) : output.ContentLength;
      return {
        key,
        size: total ?? 0,
        etag: output.ETag ?? '',
        ...(output.ContentType ? { contentType: output.ContentType } : {}),
        ...(output.ContentEncoding ? { contentEncoding: output.ContentEncoding } : {}),
        metadata: output.Metadata ?? {},
        lastModified: output.LastModified ?? new Date(0),
        body: output.Body as AsyncIterable<Uint8Array>,
      };
    } catch (error) {
      throw translate(error, key);
    }
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<{ etag: string }> {
    assertValidKey(ADAPTER, key);
    if (body instanceof Uint8Array) return this.putSingle(key, body, options);
    // Gather the first part: a small body goes up in one request, a large one in parts.
    const iterator = body[Symbol.asyncIterator]();
    const first = await gather(iterator, PART_SIZE);
    if (first.done) return this.putSingle(key, first.data, options);
    return this.putMultipart(key, first.data, iterator, options);
  }

  async delete(key: string): Promise<void> {
    assertValidKey(ADAPTER, key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw translate(error, key);
    }
  }

  async list(prefix: string, options: { token?: string; limit?: number } = {}): Promise<ListPage> {
    assertValidPrefix(ADAPTER, prefix);
    try {
      const output = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: this.prefix + prefix,
          ...(options.token ? { ContinuationToken: options.token } : {}),
          MaxKeys: options.limit ?? 1000,
        }),
      );
      const objects = (output.Contents ?? []).map((object) => ({
        key: (object.Key ?? '').slice(this.prefix.length),
        size: object.Size ?? 0,
        etag: object.ETag ?? '',
        metadata: {},
        lastModified: object.LastModified ?? new Date(0),
      }));
      return output.IsTruncated && output.NextContinuationToken ? { objects, nextToken: output.NextContinuationToken } : { objects };
    } catch (error) {
      throw translate(error, prefix);
    }
  }

  readonly multipart: MultipartUploads = {
    start: async (key, options) => {
      assertValidKey(ADAPTER, key);
      try {
        const created = await this.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.options.bucket,
            Key: this.prefix + key,
            ...(options.contentType ? { ContentType: options.contentType } : {}),
          }),
        );
        return created.UploadId ?? '';
      } catch (error) {
        throw translate(error, key);
      }
    },
    presignPart: (key, uploadId, partNumber, expiresIn, contentLength) =>
      this.presignRequest('PUT', key, { expiresIn, ...(contentLength !== undefined ? { contentLength } : {}) }, { partNumber: String(partNumber), uploadId }),
    complete: async (key, uploadId, parts) => {
      assertValidKey(ADAPTER, key);
      try {
        const completed = await this.completeUpload(key, {
          Bucket: this.options.bucket,
          Key: this.prefix + key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
        });
        return { etag: completed.ETag ?? '' };
      } catch (error) {
        throw translate(error, key);
      }
    },
    abort: async (key, uploadId) => {
      assertValidKey(ADAPTER, key);
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.options.bucket, Key: this.prefix + key, UploadId: uploadId })).catch(() => undefined);
    },
  };

  async presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined> {
    return this.presignRequest(method, key, options, {});
  }

  /**
   * Aborts the multipart uploads under this store's prefix started more than `olderThanMs` ago
   * (S3's `Initiated`), counting the bytes of the parts they held.
   */
  async sweepAbandonedWrites(olderThanMs: number): Promise<{ removed: number; bytes: number }> {
    const cutoff = Date.now() - olderThanMs;
    const swept = { removed: 0, bytes: 0 };
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.options.bucket, ...(this.prefix ? { Prefix: this.prefix } : {}), ...markers }),
        );
      } catch (error) {
        throw translate(error, this.prefix);
      }
      for (const upload of page.Uploads ?? []) {
        // An upload of unknown age is left alone.
        if (!upload.Key || !upload.UploadId || !upload.Initiated || upload.Initiated.getTime() > cutoff) continue;
        const target = { Bucket: this.options.bucket, Key: upload.Key, UploadId: upload.UploadId };
        const key = upload.Key.slice(this.prefix.length);
        try {
          const bytes = await this.uploadedBytes(target);
          await this.client.send(new AbortMultipartUploadCommand(target));
          swept.removed++;
          swept.bytes += bytes;
        } catch (error) {
          // Completed or aborted meanwhile.
          if (statusOf(error) !== 404) throw translate(error, key);
        }
      }
      if (!page.IsTruncated) return swept;
      markers = {
        ...(page.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}),
        ...(page.NextUploadIdMarker ? { UploadIdMarker: page.NextUploadIdMarker } : {}),
      };
    }
  }

  private async uploadedBytes(target: { Bucket: string; Key: string; UploadId: string }): Promise<number> {
    let bytes = 0;
    let marker: string | undefined;
    do {
      const page = await this.client.send(new ListPartsCommand({ ...target, ...(marker ? { PartNumberMarker: marker } : {}) }));
      for (const part of page.Parts ?? []) bytes += part.Size ?? 0;
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return bytes;
  }

  /**
   * Sends a write that may carry a condition, retrying 409 ConditionalRequestConflict: the
   * condition was not decided, as a conflicting write to the key was in flight, and S3 documents
   * the answer as "retry the request". Still conflicting after CONFLICT_ATTEMPTS, it is a
   * transient storage failure, not a failed condition.
   */
  /**
   * A range copied inside S3 (UploadPartCopy): no byte of it passes through this process, which
   * is how a Lambda with 1 GiB of memory and /tmp places a 10 GiB bundle's members. Parts of at
   * least COPY_PART_BYTES (S3 wants 5 MiB but the last, at most 10,000 parts, at most 5 GiB each),
   * a few at a time, every one held to the source's ETag (CopySourceIfMatch): a source replaced or
   * deleted meanwhile fails the copy (undefined, the upload aborted), never mixes two versions.
   * The destination's condition is checked on completion, as for a put.
   */
  async copyRange(key: string, source: RangeSource, options: PutOptions = {}): Promise<{ etag: string } | undefined> {
    assertValidKey(ADAPTER, key);
    assertValidKey(ADAPTER, source.key);
    if (!Number.isSafeInteger(source.offset) || !Number.isSafeInteger(source.length) || source.offset < 0 || source.length < 0) return undefined;
    const info = await this.head(source.key);
    if (!info || info.etag !== source.etag || source.offset + source.length > info.size) return undefined;
    if (source.length === 0) return this.put(key, new Uint8Array(0), options);
    const target = { Bucket: this.options.bucket, Key: this.prefix + key };
    const copySource = `${this.options.bucket}/${(this.prefix + source.key).split('/').map(encodeURIComponent).join('/')}`;
    const partBytes = Math.max(COPY_PART_BYTES, Math.ceil(source.length / MAX_PARTS));
    const ranges: { partNumber: number; start: number; end: number }[] = [];
    for (let start = 0; start < source.length; start += partBytes) {
      ranges.push({ partNumber: ranges.length + 1, start: source.offset + start, end: source.offset + Math.min(start + partBytes, source.length) - 1 });
    }
    let uploadId: string | undefined;
    let copying = true;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({
          ...target,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.contentEncoding ? { ContentEncoding: options.contentEncoding } : {}),
          ...(options.metadata ? { Metadata: { ...options.metadata } } : {}),
        }));
      uploadId = created.UploadId;
      const parts = await mapConcurrently(ranges, COPY_CONCURRENCY, async (range) => {
        const copied = await this.client.send(
          new UploadPartCopyCommand({ ...target, UploadId: uploadId, PartNumber: range.partNumber, CopySource: copySource, CopySourceRange: `bytes=${range.start}-${range.end}`, CopySourceIfMatch: source.etag }),
        );
        return { PartNumber: range.partNumber, ETag: copied.CopyPartResult?.ETag ?? '' };
      });
      copying = false;
      return await this.completeUnderConditions(key, target, uploadId, parts, options);
    } catch (error) {
      if (uploadId) await this.client.send(new AbortMultipartUploadCommand({ ...target, UploadId: uploadId })).catch(() => undefined);
      // The source is not that version any more (412 on CopySourceIfMatch) or gone (404).
      if (copying && (statusOf(error) === 412 || statusOf(error) === 404)) return undefined;
      throw translate(error, key, options);
    }
  }

  /** Completes an upload of this store's under the put's conditions (If-None-Match, If-Match). */
  private async completeUnderConditions(
    key: string,
    target: { Bucket: string; Key: string },
    uploadId: string | undefined,
    parts: { PartNumber: number; ETag: string }[],
    options: PutOptions,
  ): Promise<{ etag: string }> {
    const completed = await this.completeUpload(key, {
      ...target,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
      ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
      ...(options.ifMatch ? { IfMatch: options.ifMatch } : {}),
    });
    return { etag: completed.ETag ?? '' };
  }

  private async sendRetryingConflicts<T>(key: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (!isConditionalConflict(error)) throw error;
        if (attempt >= CONFLICT_ATTEMPTS) {
          throw new ObjectStoreError(ADAPTER, `a conflicting write to ${key} was still in flight after ${attempt} attempts (409 ConditionalRequestConflict); try again`, {
            cause: error,
          });
        }
        await sleep(CONFLICT_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      }
    }
  }

  /**
   * CompleteMultipartUpload, retrying a conflict. AWS documents that after a 409 on completion
   * the upload may be gone (to be started again and its parts sent again): a retry that then
   * finds no upload reports the conflict as the transient failure it is, not as a missing object.
   */
  private completeUpload(key: string, input: CompleteMultipartUploadCommandInput): Promise<CompleteMultipartUploadCommandOutput> {
    let conflicted = false;
    return this.sendRetryingConflicts(key, async () => {
      try {
        return await this.client.send(new CompleteMultipartUploadCommand(input));
      } catch (error) {
        if (isConditionalConflict(error)) conflicted = true;
        else if (conflicted && (statusOf(error) === 404 || (error as { name?: string }).name === 'NoSuchUpload')) {
          throw new ObjectStoreError(ADAPTER, `a conflicting write to ${key} discarded its upload (409 ConditionalRequestConflict); upload it again`, {
            cause: error,
          });
        }
        throw error;
      }
    });
  }

  private async presignRequest(method: 'GET' | 'PUT', key: string, options: PresignOptions, extraQuery: Record<string, string>): Promise<string> {
    assertValidKey(ADAPTER, key);
    const config = this.client.config;
    const endpoint = await config.endpointProvider(
      { Bucket: this.options.bucket, Region: await config.region(), ForcePathStyle: config.forcePathStyle, ...(this.options.endpoint ? { Endpoint: this.options.endpoint } : {}) },
      {},
    );
    const url = new URL(endpoint.url.href);
    const objectPath = `${url.pathname.replace(/\/$/, '')}/${(this.prefix + key).split('/').map(encodeURIComponent).join('/')}`;
    const query: Record<string, string> = { ...extraQuery };
    if (options.responseContentType) query['response-content-type'] = options.responseContentType;
    if (options.responseContentDisposition) query['response-content-disposition'] = options.responseContentDisposition;
    const headers: Record<string, string> = { host: url.host };
    if (method === 'PUT' && options.contentType) headers['content-type'] = options.contentType;
    // Signed, so S3 itself refuses a body of another length, and a second PUT once one landed.
    if (method === 'PUT' && options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    if (method === 'PUT' && options.ifNoneMatch === '*') headers['if-none-match'] = '*';
    const signer = new SignatureV4({
      credentials: config.credentials,
      region: await config.region(),
      service: 's3',
      sha256: config.sha256,
      uriEscapePath: false,
    });
    const signed = await signer.presign(
      { method, protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path: objectPath, query, headers },
      { expiresIn: options.expiresIn, unsignableHeaders: new Set(['content-type']) },
    );
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(signed.query ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) if (item !== null) search.append(name, item);
    }
    return `${url.protocol}//${url.host}${objectPath}?${search.toString().replace(/\+/g, '%20')}`;
  }

  private async putSingle(key: string, data: Uint8Array, options: PutOptions): Promise<{ etag: string }> {
    try {
      const input = { Bucket: this.options.bucket, Key: this.prefix + key, Body: data, ContentLength: data.length, ...putHeaders(options) };
      // A command per attempt: a command object is not meant to be sent twice.
      const output = await this.sendRetryingConflicts(key, () => this.client.send(new PutObjectCommand(input)));
      return { etag: output.ETag ?? '' };
    } catch (error) {
      throw translate(error, key, options);
    }
  }

  private async putMultipart(
    key: string,
    firstPart: Uint8Array,
    rest: AsyncIterator<Uint8Array>,
    options: PutOptions,
  ): Promise<{ etag: string }> {
    const target = { Bucket: this.options.bucket, Key: this.prefix + key };
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({
          ...target,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.contentEncoding ? { ContentEncoding: options.contentEncoding } : {}),
          ...(options.metadata ? { Metadata: { ...options.metadata } } : {}),
        }),
      );
      uploadId = created.UploadId;
      const parts: { PartNumber: number; ETag: string }[] = [];
      let data = firstPart;
      for (let partNumber = 1; ; partNumber++) {
        const uploaded = await this.client.send(
          new UploadPartCommand({ ...target, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length }),
        );
        parts.push({ PartNumber: partNumber, ETag: uploaded.ETag ?? '' });
        const next = await gather(rest, PART_SIZE);
        if (next.data.length === 0) break;
        data = next.data;
        if (next.done) {
          const last = await this.client.send(
            new UploadPartCommand({ ...target, UploadId: uploadId, PartNumber: partNumber + 1, Body: data, ContentLength: data.length }),
          );
          parts.push({ PartNumber: partNumber + 1, ETag: last.ETag ?? '' });
          break;
        }
      }
      return await this.completeUnderConditions(key, target, uploadId, parts, options);
    } catch (error) {
      if (uploadId) {
        await this.client.send(new AbortMultipartUploadCommand({ ...target, UploadId: uploadId })).catch(() => undefined);
      }
      throw translate(error, key, options);
    }
  }
}

function putHeaders(options: PutOptions): Record<string, unknown> {
  return {
    ...(options.contentType ? { ContentType: options.contentType } : {}),
    ...(options.contentEncoding ? { ContentEncoding: options.contentEncoding } : {}),
    ...(options.metadata ? { Metadata: { ...options.metadata } } : {}),
    ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
    ...(options.ifMatch ? { IfMatch: options.ifMatch } : {}),
  };
}

async function gather(iterator: AsyncIterator<Uint8Array>, size: number): Promise<{ data: Uint8Array; done: boolean }> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < size) {
    const next = await iterator.next();
    if (next.done) return { data: Buffer.concat(chunks, length), done: true };
    chunks.push(next.value);
    length += next.value.length;
  }
  return { data: Buffer.concat(chunks, length), done: false };
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isConditionalConflict(error: unknown): boolean {
  return statusOf(error) === 409 && (error as { name?: string }).name === 'ConditionalRequestConflict';
}

function translate(error: unknown, key: string, options: PutOptions = {}): Error {
  // Already translated (a conflict that outlasted its retries).
  if (error instanceof ObjectStoreError) return error;
  const status = statusOf(error);
  const code = (error as { name?: string }).name;
  if (status === 404 || code === 'NoSuchKey' || code === 'NotFound') return new ObjectNotFoundError(ADAPTER, key);
  if (status === 412 || code === 'PreconditionFailed') {
    const condition = options.ifNoneMatch ? 'If-None-Match: *' : `If-Match: ${options.ifMatch ?? '?'}`;
    return new PreconditionFailedError(ADAPTER, key, condition);
  }
  return new ObjectStoreError(ADAPTER, `${code ?? 'error'} on ${key}: ${(error as Error).message}`, { cause: error });
}
