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
}

function signature(secret: Buffer, method: string, key: string, expires: number, contentType: string): string {
  return createHmac('sha256', secret).update(`${method}\n${key}\n${expires}\n${contentType}`).digest('hex');
}

export function createUrlSigner(secret: Buffer, baseUrl: () => string, now: () => number = Date.now) {
  return (method: 'GET' | 'PUT', key: string, options: PresignOptions): string => {
    const expires = Math.floor(now() / 1000) + options.expiresIn;
    const contentType = options.responseContentType ?? '';
    const query = new URLSearchParams({ method, expires: String(expires), signature: signature(secret, method, key, expires, contentType) });
    if (contentType) query.set('type', contentType);
    return `${baseUrl()}${STORE_PATH_PREFIX}${key}?${query.toString()}`;
  };
}

/** The request a signed URL allows, or why it allows none. */
export function verifySignedUrl(secret: Buffer, method: string, url: URL, now: () => number = Date.now): SignedRequest | { error: string } {
  const key = decodeURIComponent(url.pathname.slice(STORE_PATH_PREFIX.length));
  const signed = url.searchParams.get('method');
  const expires = Number(url.searchParams.get('expires'));
  const given = url.searchParams.get('signature') ?? '';
  const contentType = url.searchParams.get('type') ?? '';
  if (signed !== method || (method !== 'GET' && method !== 'PUT')) return { error: 'the URL is not signed for this method' };
  if (!Number.isInteger(expires) || expires < Math.floor(now() / 1000)) return { error: 'the URL has expired' };
  const expected = Buffer.from(signature(secret, method, key, expires, contentType), 'hex');
  const presented = Buffer.from(given, 'hex');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return { error: 'the signature does not match' };
  return { method, key, ...(contentType ? { responseContentType: contentType } : {}) };
}
