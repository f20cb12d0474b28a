/**
 * Short-lived pull tokens for the Docker token flow: a Docker client refused with a Bearer
 * challenge trades Basic credentials (the read token as password) at `/v2/token` for one of these,
 * scoped to the repositories it asked to pull, and sends it on every request of the pull.
 *
 * A token is `v1.<payload>.<mac>` (base64url): the payload names who it was issued to (the read
 * token's fingerprint), the repositories it may pull, and when it expires; the MAC is
 * HMAC-SHA256 under the registry's signing key, checked in constant time. Nothing is stored per
 * token: any instance holding the key verifies it. It holds only while the read token it names
 * is still configured (registry/pull-tokens.ts), so removing that token stops it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const BEARER_TTL_SECONDS = 300;
const PREFIX = 'v1.';
/** A pull asks for a handful of repositories; a longer scope list is refused, not signed. */
const MAX_REPOSITORIES = 32;

export interface PullGrant {
  /** Fingerprint of the read token that obtained it. */
  readonly sub: string;
  /** Repositories it may pull. */
  readonly repositories: readonly string[];
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
}

const mac = (key: Buffer, payload: string): Buffer => createHmac('sha256', key).update(payload).digest();

export function issuePullToken(key: Buffer, grant: PullGrant): string {
  const payload = Buffer.from(JSON.stringify(grant)).toString('base64url');
  return `${PREFIX}${payload}.${mac(key, payload).toString('base64url')}`;
}

/** Whether a bearer value has this module's shape (as opposed to a configured token). */
export const isPullToken = (value: string): boolean => value.startsWith(PREFIX);

export type PullTokenCheck = { readonly valid: true; readonly grant: PullGrant } | { readonly valid: false; readonly reason: 'malformed' | 'signature' | 'expired' };

export function verifyPullToken(key: Buffer, token: string, nowSeconds: number): PullTokenCheck {
  const parts = token.slice(PREFIX.length).split('.');
  if (!isPullToken(token) || parts.length !== 2 || token.length > 8192) return { valid: false, reason: 'malformed' };
  const [payload, presented] = parts as [string, string];
  const expected = mac(key, payload);
  const given = Buffer.from(presented, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { valid: false, reason: 'signature' };
  let grant: PullGrant;
  try {
    grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as PullGrant;
  } catch {
    return { valid: false, reason: 'malformed' };
  }
  if (typeof grant.exp !== 'number' || !Array.isArray(grant.repositories) || typeof grant.sub !== 'string') return { valid: false, reason: 'malformed' };
  if (grant.exp <= nowSeconds) return { valid: false, reason: 'expired' };
  return { valid: true, grant };
}

/**
 * The repositories a token request asks to pull: `scope=repository:<name>:pull` (repeated, or
 * several space-separated). Other actions (push) are not granted: this registry is read-only.
 */
export function requestedRepositories(scopes: readonly string[]): string[] | undefined {
  const names = new Set<string>();
  for (const scope of scopes.flatMap((value) => value.split(' ')).filter(Boolean)) {
    const match = /^repository:([^:]+):([a-z,*]+)$/.exec(scope);
    if (!match) continue;
    if (match[2]!.split(',').includes('pull') || match[2] === '*') names.add(match[1]!);
  }
  return names.size > MAX_REPOSITORIES ? undefined : [...names];
}
