/** The upload side of the management API: where to put a bundle, and what became of it. */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.ts';
import { readJson, writeJsonIf, type Versioned } from './json-objects.ts';
import { isUploadId, uploadBundleKey, uploadRecordKey } from './layout.ts';
import type { UploadRecord } from './records.ts';
import { InvalidRequestError, UploadNotFoundError } from './registry-errors.ts';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dcos.universe.package+zip;version=v1';

export interface UploadRequest {
  readonly fileName?: string;
  readonly size?: number;
}

export interface UploadPart {
  readonly partNumber: number;
  readonly url: string;
  /** Byte range of the bundle this part carries (inclusive). */
  readonly start: number;
  readonly end: number;
}

export interface UploadTicket {
  readonly uploadId: string;
  readonly status: UploadRecord['status'];
  /** One PUT of the whole bundle to `url`, or one PUT per part; then POST …/complete. */
  readonly upload: {
    readonly method: 'PUT';
    readonly url?: string;
    readonly parts?: readonly UploadPart[];
    readonly headers: Record<string, string>;
    readonly expiresAt: string;
  };
  readonly statusUrl: string;
}

export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** S3 allows 10,000 parts; fewer keep the plan (one presigned URL per part) small. */
const MAX_PARTS = 2_000;

export function parseCompletion(body: unknown): readonly CompletedPart[] | undefined {
  if (body === undefined || body === null) return undefined;
  const parts = (body as { parts?: unknown }).parts;
  if (parts === undefined) return undefined;
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_PARTS) {
    throw new InvalidRequestError(`parts must be a list of 1 to ${MAX_PARTS} {partNumber, etag}`, { field: 'parts' });
  }
  return parts.map((part: unknown, index) => {
    const { partNumber, etag } = (part ?? {}) as Record<string, unknown>;
    if (partNumber !== index + 1 || typeof etag !== 'string' || etag.length === 0 || etag.length > 200) {
      throw new InvalidRequestError(`parts[${index}] must be {"partNumber": ${index + 1}, "etag": "<ETag of that part>"}`, { field: `parts[${index}]` });
    }
    return { partNumber, etag };
  });
}

export function parseUploadRequest(body: unknown): UploadRequest {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object: {"size": <bytes>, "fileName": "<name>"}');
  }
  const { fileName, size } = body as Record<string, unknown>;
  // Required: the upload URL is signed for exactly this many bytes.
  if (size === undefined) throw new InvalidRequestError('size is required: the bundle\'s length in bytes (the upload URL takes exactly that many)', { field: 'size' });
  if (fileName !== undefined && (typeof fileName !== 'string' || fileName.length > 255)) {
    throw new InvalidRequestError('fileName must be a string of at most 255 characters', { field: 'fileName' });
  }
  if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) {
    throw new InvalidRequestError('size must be a non-negative whole number of bytes', { field: 'size' });
  }
  return { ...(fileName === undefined ? {} : { fileName }), ...(size === undefined ? {} : { size }) };
}

export async function createUpload(context: RegistryContext, request: UploadRequest, actor = 'anonymous'): Promise<UploadTicket> {
  if (request.size !== undefined && request.size > context.settings.maxBundleBytes) {
    throw new InvalidRequestError(`The bundle is ${request.size} bytes; this registry accepts at most ${context.settings.maxBundleBytes}`, {
      size: request.size,
      maxBundleBytes: context.settings.maxBundleBytes,
    });
  }
  const uploadId = randomUUID();
  const now = context.now();
  const lifetime = context.settings.uploadUrlLifetimeSeconds;
  const expiresAt = new Date(now.getTime() + lifetime * 1000).toISOString();
  const key = uploadBundleKey(uploadId);
  const multipart = context.store.multipart;
  if (multipart && request.size !== undefined && request.size > context.settings.multipartThresholdBytes) {
    const partBytes = Math.max(context.settings.multipartPartBytes, Math.ceil(request.size / MAX_PARTS));
    const count = Math.ceil(request.size / partBytes);
    const storeUploadId = await multipart.start(key, { contentType: 'application/zip' });
    const parts: UploadPart[] = [];
    for (let partNumber = 1; partNumber <= count; partNumber++) {
      const start = (partNumber - 1) * partBytes;
      const end = Math.min(request.size, start + partBytes) - 1;
      parts.push({ partNumber, url: await multipart.presignPart(key, storeUploadId, partNumber, lifetime, end - start + 1), start, end });
    }
    await writeJsonIf(context.store, uploadRecordKey(uploadId), newRecord(uploadId, request, now, actor, { uploadId: storeUploadId, partBytes, parts: count }), undefined);
    return { uploadId, status: 'Uploading', upload: { method: 'PUT', parts, headers: {}, expiresAt }, statusUrl: `/v1/uploads/${uploadId}` };
  }
  const record = newRecord(uploadId, request, now, actor);
  await writeJsonIf(context.store, uploadRecordKey(uploadId), record, undefined);
  // The URL takes the announced length exactly, once: storage refuses more, less, or a second PUT.
  const url = await context.store.presign('PUT', key, { expiresIn: lifetime, ...(request.size !== undefined ? { contentLength: request.size } : {}), ifNoneMatch: '*' });
  if (!url) throw new InvalidRequestError('This storage cannot take uploads through a URL', {});
  return { uploadId, status: record.status, upload: { method: 'PUT', url, headers: { 'if-none-match': '*' }, expiresAt }, statusUrl: `/v1/uploads/${uploadId}` };
}

function newRecord(uploadId: string, request: UploadRequest, now: Date, actor: string, multipart?: UploadRecord['multipart']): UploadRecord {
  return {
    uploadId,
    status: 'Uploading',
    bundleKey: uploadBundleKey(uploadId),
    ...(request.fileName ? { fileName: request.fileName } : {}),
    ...(request.size !== undefined ? { size: request.size } : {}),
    ...(multipart ? { multipart } : {}),
    uploadedBy: actor,
    packages: [],
    error: null,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

export async function getUpload(context: RegistryContext, uploadId: string): Promise<UploadRecord> {
  return (await getUploadVersion(context, uploadId)).value;
}

/** The upload's record with its ETag and key, for a client that waits on it (record-watch.ts). */
export async function getUploadVersion(context: RegistryContext, uploadId: string): Promise<Versioned<UploadRecord> & { key: string }> {
  if (!isUploadId(uploadId)) throw new UploadNotFoundError(uploadId);
  const key = uploadRecordKey(uploadId);
  const record = await readJson<UploadRecord>(context.store, key);
  if (!record) throw new UploadNotFoundError(uploadId);
  return { ...record, key };
}

/**
 * The client says the bytes are in place (for an upload in parts: which parts, with their ETags,
 * which assembles the bundle). Returns the key of the bundle to ingest, if it is there.
 */
export async function completeUpload(
  context: RegistryContext,
  uploadId: string,
  parts: readonly CompletedPart[] | undefined,
): Promise<{ record: UploadRecord; bundleKey: string; present: boolean }> {
  let record = await getUpload(context, uploadId);
  let present = (await context.store.head(record.bundleKey)) !== undefined;
  // Ingest records its outcome before it deletes the bundle, so a bundle gone while the record
  // read before looking still said Uploading means the registry took it in between (its storage
  // event beat this call): the record read after tells the true state.
  if (!present && record.status === 'Uploading') record = await getUpload(context, uploadId);
  if (!present && record.multipart && record.status === 'Uploading') {
    if (!parts) throw new InvalidRequestError(`Upload [${uploadId}] was made in parts: send {"parts":[{"partNumber","etag"},…]}`, { uploadId });
    if (parts.length !== record.multipart.parts) {
      throw new InvalidRequestError(`Upload [${uploadId}] has ${record.multipart.parts} parts, not ${parts.length}`, { uploadId });
    }
    const multipart = context.store.multipart;
    if (!multipart) throw new InvalidRequestError('This storage does not take uploads in parts', {});
    await multipart.complete(record.bundleKey, record.multipart.uploadId, parts);
    present = true;
  }
  return { record, bundleKey: record.bundleKey, present };
}
