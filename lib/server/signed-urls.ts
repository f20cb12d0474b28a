/**
 * Presigned URLs for the filesystem store, served by the embedded server itself: the same
 * contract as S3 presigning (an expiring, HMAC-signed URL that needs no token), so the handlers
 * redirect and upload the same way on every backend.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PresignOptions } from '../ports/object-store.ts';

export const STORE_PATH_PREFIX = '/_store/';

export interface SignedRequest {
  readonly method: 'GET' | 'PUT';
  readonly key: string;
  readonly responseContentType?: string;
  /** PUT: the exact length of body the URL takes. */
  readonly contentLength?: number;
  /** PUT: only while nothing is stored at the key. */
  readonly once?: boolean;
}

/** What the signature covers: everything the URL allows (a changed length or once flag breaks it). */
function signature(secret: Buffer, method: string, key: string, expires: number, contentType: string, length: string, once: string): string {
  return createHmac('sha256', secret).update(`${method}\n${key}\n${expires}\n${contentType}\n${length}\n${once}`).digest('hex');
}

export function createUrlSigner(secret: Buffer, baseUrl: () => string, now: () => number = Date.now) {
  return (method: 'GET' | 'PUT', key: string, options: PresignOptions): string => {
    const expires = Math.floor(now() / 1000) + options.expiresIn;
    const contentType = options.responseContentType ?? '';
    const length = method === 'PUT' && options.contentLength !== undefined ? String(options.contentLength) : '';
    const once = method === 'PUT' && options.ifNoneMatch === '*' ? '1' : '';
    const query = new URLSearchParams({ method, expires: String(expires), signature: signature(secret, method, key, expires, contentType, length, once) });
    if (contentType) query.set('type', contentType);
    if (length) query.set('length', length);
    if (once) query.set('once', once);
    return `${baseUrl()}${STORE_PATH_PREFIX}${key}?${query.toString()}`;
  };
}

/** The request a signed URL allows, or why it allows none. */
export function verifySignedUrl(secret: Buffer, method: string, url: URL, now: () => number = Date.now): SignedRequest | { error: string } {
  let key: string;
  try {
    key = decodeURIComponent(url.pathname.slice(STORE_PATH_PREFIX.length));
  } catch {
    return { error: 'the URL is not valid percent-encoding' };
  }
  const length = url.searchParams.get('length') ?? '';
  const once = url.searchParams.get('once') ?? '';
  const signed = url.searchParams.get('method');
  const expires = Number(url.searchParams.get('expires'));
  const given = url.searchParams.get('signature') ?? '';
  const contentType = url.searchParams.get('type') ?? '';
  if (signed !== method || (method !== 'GET' && method !== 'PUT')) return { error: 'the URL is not signed for this method' };
  if (!Number.isInteger(expires) || expires < Math.floor(now() / 1000)) return { error: 'the URL has expired' };
  if (length !== '' && !/^[0-9]{1,16}$/.test(length)) return { error: 'the URL names no valid length' };
  const expected = Buffer.from(signature(secret, method, key, expires, contentType, length, once), 'hex');
  const presented = Buffer.from(given, 'hex');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return { error: 'the signature does not match' };
  return { method, key, ...(contentType ? { responseContentType: contentType } : {}), ...(length ? { contentLength: Number(length) } : {}), ...(once ? { once: true } : {}) };
}
