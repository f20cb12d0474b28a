/**
 * Bearer-token authentication and scope checks. The presented token is hashed and compared, in
 * constant time, against the hash of every configured entry (no early exit; hashed entries are
 * never turned back into tokens). Tokens are never logged: callers are named by fingerprint.
 */
import { timingSafeEqual } from 'node:crypto';
import { grants, widest, type RequiredScope, type Scope } from '../auth/scopes.ts';
import { fingerprintOf, tokenDigest, type TokenEntry } from '../auth/token-entries.ts';
import { ForbiddenError, UnauthorizedError } from '../registry/registry-errors.ts';

export interface AuthPolicy {
  /** The accepted tokens; empty means "no token configured". */
  entries(): Promise<readonly TokenEntry[]>;
  /** With no token configured: accept management calls from loopback addresses only. */
  readonly loopbackWithoutToken: boolean;
  /** Whether the repository, resources and images need a `read` credential (default: public). */
  readonly readProtected?: boolean;
}

/** Who called, for the audit trail and the scope check. */
export interface Caller {
  /** A token's fingerprint, `loopback:<address>`, or `anonymous` on a public route. */
  readonly actor: string;
  /** What the caller may do (`public`: it showed no credential, on a route that needs none). */
  readonly scope: Scope | 'public';
}

export function staticTokens(entries: readonly TokenEntry[], options: { loopbackWithoutToken: boolean }): AuthPolicy {
  const list = [...entries];
  return { entries: async () => list, loopbackWithoutToken: options.loopbackWithoutToken };
}

/** The widest scope any entry grants this token, or undefined; every entry is compared. */
export function scopeOfToken(presented: string, entries: readonly TokenEntry[]): Scope | undefined {
  const presentedDigest = tokenDigest(presented);
  let scope: Scope | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(presentedDigest, entry.digest)) scope = scope ? widest(scope, entry.scope) : entry.scope;
  }
  return scope;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Headers a reverse proxy adds: a request with any of them did not start on this machine. */
export const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'via'] as const;

/** Whether a listening address is loopback only (`127.0.0.1`, `::1`, `localhost`). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}

/** Who a caller is, for the audit trail: a fingerprint of its token (never the token). */
export function tokenFingerprint(token: string): string {
  return fingerprintOf(tokenDigest(token));
}

/** The value of `Authorization: Bearer <value>`, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/**
 * The token a request presents: `Bearer <token>`, or `Basic` credentials whose password is the
 * token (any user name: what `docker login`, skopeo `--creds` and a browser send).
 */
export function presentedToken(authorization: string | undefined): string | undefined {
  const bearer = bearerToken(authorization);
  if (bearer !== undefined) return bearer;
  const basic = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization ?? '');
  if (!basic) return undefined;
  const credentials = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon >= 0 && colon < credentials.length - 1 ? credentials.slice(colon + 1) : undefined;
}

/** Checks the caller against what the route needs and returns who it is. */
export async function authorize(
  policy: AuthPolicy,
  authorization: string | undefined,
  sourceIp: string | undefined,
  required: RequiredScope,
  request: { forwarded?: boolean } = {},
): Promise<Caller> {
  if (required === 'public') return { actor: 'anonymous', scope: 'public' };
  const entries = await policy.entries();
  if (entries.length === 0) {
    // A request a proxy forwarded comes from loopback but not from this machine's user.
    if (policy.loopbackWithoutToken && isLoopback(sourceIp) && request.forwarded) {
      throw new UnauthorizedError('No management token is configured, and this call came through a proxy (it carries forwarding headers): configure a token (dcos-registry token create)');
    }
    if (policy.loopbackWithoutToken && isLoopback(sourceIp)) return { actor: `loopback:${sourceIp}`, scope: 'admin' };
    throw new UnauthorizedError('No management token is configured: management calls are accepted from this machine only');
  }
  const token = presentedToken(authorization);
  if (token === undefined) throw new UnauthorizedError('Missing bearer token: send Authorization: Bearer <token> (or Basic credentials with the token as password)');
  const scope = scopeOfToken(token, entries);
  if (!scope) throw new UnauthorizedError('The bearer token is not valid');
  const actor = tokenFingerprint(token);
  if (!grants(scope, required)) {
    throw new ForbiddenError(`The token ${actor} has the ${scope} scope; this call needs ${required}`, { fingerprint: actor, scope, required });
  }
  return { actor, scope };
}
