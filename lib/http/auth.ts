/**
 * Bearer-token authentication of the management API. Tokens are compared in constant time (both
 * sides hashed to a fixed length first, every configured token checked). Tokens are never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../registry/registry-errors.ts';

export interface AuthPolicy {
  /** The accepted tokens; empty means "no token configured". */
  tokens(): Promise<readonly string[]>;
  /** With no token configured: accept management calls from loopback addresses only. */
  readonly loopbackWithoutToken: boolean;
}

export function staticTokens(tokens: readonly string[], options: { loopbackWithoutToken: boolean }): AuthPolicy {
  const list = tokens.filter((token) => token.length > 0);
  return { tokens: async () => list, loopbackWithoutToken: options.loopbackWithoutToken };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

export function tokenMatches(presented: string, accepted: readonly string[]): boolean {
  const presentedDigest = digest(presented);
  let matched = false;
  for (const token of accepted) matched = timingSafeEqual(presentedDigest, digest(token)) || matched;
  return matched;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Who a caller is, for the audit trail: a fingerprint of its token (never the token), or loopback. */
export function tokenFingerprint(token: string): string {
  return `token:${digest(token).toString('hex').slice(0, 12)}`;
}

/** Checks the caller and returns who it is. */
export async function authorize(policy: AuthPolicy, authorization: string | undefined, sourceIp: string | undefined): Promise<string> {
  const accepted = await policy.tokens();
  if (accepted.length === 0) {
    if (policy.loopbackWithoutToken && isLoopback(sourceIp)) return `loopback:${sourceIp}`;
    throw new UnauthorizedError('No management token is configured: management calls are accepted from this machine only');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw new UnauthorizedError('Missing bearer token: send Authorization: Bearer <token>');
  if (!tokenMatches(match[1]!, accepted)) throw new UnauthorizedError('The bearer token is not valid');
  return tokenFingerprint(match[1]!);
}
