/** The upload side of the management API: where to put a bundle, and what became of it. */
import { randomUUID } from 'node:crypto';
import type { RegistryContext } from './context.ts';
import { readJson, writeJsonIf } from './json-objects.ts';
import { isUploadId, uploadBundleKey, uploadRecordKey } from './layout.ts';
import type { UploadRecord } from './records.ts';
import { InvalidRequestError, UploadNotFoundError } from './registry-errors.ts';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dcos.universe.package+zip;version=v1';

export interface UploadRequest {
  readonly fileName?: string;
  readonly size?: number;
}

export interface UploadTicket {
  readonly uploadId: string;
  readonly status: UploadRecord['status'];
  readonly upload: { readonly method: 'PUT'; readonly url: string; readonly headers: Record<string, string>; readonly expiresAt: string };
  readonly statusUrl: string;
}

export function parseUploadRequest(body: unknown): UploadRequest {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('The request body must be a JSON object');
  const { fileName, size } = body as Record<string, unknown>;
  if (fileName !== undefined && (typeof fileName !== 'string' || fileName.length > 255)) {
    throw new InvalidRequestError('fileName must be a string of at most 255 characters', { field: 'fileName' });
  }
  if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) {
    throw new InvalidRequestError('size must be a non-negative whole number of bytes', { field: 'size' });
  }
  return { ...(fileName === undefined ? {} : { fileName }), ...(size === undefined ? {} : { size }) };
}

export async function createUpload(context: RegistryContext, request: UploadRequest): Promise<UploadTicket> {
  if (request.size !== undefined && request.size > context.settings.maxBundleBytes) {
    throw new InvalidRequestError(`The bundle is ${request.size} bytes; this registry accepts at most ${context.settings.maxBundleBytes}`, {
      size: request.size,
      maxBundleBytes: context.settings.maxBundleBytes,
    });
  }
  const uploadId = randomUUID();
  const now = context.now();
  const record: UploadRecord = {
    uploadId,
    status: 'Uploading',
    bundleKey: uploadBundleKey(uploadId),
    ...(request.fileName ? { fileName: request.fileName } : {}),
    ...(request.size !== undefined ? { size: request.size } : {}),
    packages: [],
    error: null,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  await writeJsonIf(context.store, uploadRecordKey(uploadId), record, undefined);
  const lifetime = context.settings.uploadUrlLifetimeSeconds;
  const url = await context.store.presign('PUT', uploadBundleKey(uploadId), { expiresIn: lifetime });
  if (!url) throw new InvalidRequestError('This storage cannot take uploads through a URL', {});
  return {
    uploadId,
    status: record.status,
    upload: { method: 'PUT', url, headers: {}, expiresAt: new Date(now.getTime() + lifetime * 1000).toISOString() },
    statusUrl: `/v1/uploads/${uploadId}`,
  };
}

export async function getUpload(context: RegistryContext, uploadId: string): Promise<UploadRecord> {
  if (!isUploadId(uploadId)) throw new UploadNotFoundError(uploadId);
  const record = await readJson<UploadRecord>(context.store, uploadRecordKey(uploadId));
  if (!record) throw new UploadNotFoundError(uploadId);
  return record.value;
}

/** The client says the bytes are in place: the key of the bundle to ingest (if it is there). */
export async function completeUpload(context: RegistryContext, uploadId: string): Promise<{ record: UploadRecord; bundleKey: string; present: boolean }> {
  const record = await getUpload(context, uploadId);
  const present = (await context.store.head(record.bundleKey)) !== undefined;
  return { record, bundleKey: record.bundleKey, present };
}
