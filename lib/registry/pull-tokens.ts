/**
 * The Docker token flow on this registry (lib/auth/bearer-tokens.ts has the tokens): what
 * `/v2/token` answers, how a pull token presented on `/v2/…` is checked, and the challenge a
 * refused Docker client is sent to find the token endpoint.
 */
import { BEARER_TTL_SECONDS, issuePullToken, requestedRepositories, verifyPullToken } from '../auth/bearer-tokens.ts';
import { grants } from '../auth/scopes.ts';
import { fingerprintOf, type TokenEntry } from '../auth/token-entries.ts';
import { InvalidRequestError, UnauthorizedError } from './registry-errors.ts';
import { dockerHostOf, type RegistryContext } from './context.ts';
import { parseDistributionPath } from './serve-images.ts';
import { tokenSigningKey } from './token-signing-key.ts';

export interface TokenResponse {
  readonly token: string;
  readonly access_token: string;
  readonly expires_in: number;
  readonly issued_at: string;
}

/** `GET /v2/token?service=…&scope=repository:<name>:pull…`, for a caller already checked for `read`. */
export async function answerTokenRequest(context: RegistryContext, actor: string, rawQuery: string): Promise<TokenResponse> {
  const repositories = requestedRepositories(new URLSearchParams(rawQuery).getAll('scope'));
  if (!repositories) throw new InvalidRequestError('A token request may name at most 32 repositories');
  const now = context.now();
  const token = issuePullToken(await tokenSigningKey(context.store), { sub: actor, repositories, exp: Math.floor(now.getTime() / 1000) + BEARER_TTL_SECONDS });
  return { token, access_token: token, expires_in: BEARER_TTL_SECONDS, issued_at: now.toISOString() };
}

/**
 * Who a pull token was issued to, if it is valid for this `/v2/<path>`; else the 401 to answer.
 * It holds only while the read token that obtained it is still configured (`entries`): removing
 * a read token stops its pull tokens at once, and one issued while reads were public (to
 * `anonymous`) is worth nothing once they are protected.
 */
export async function checkPullToken(context: RegistryContext, token: string, path: string, entries: readonly TokenEntry[]): Promise<{ actor: string }> {
  const check = verifyPullToken(await tokenSigningKey(context.store), token, Math.floor(context.now().getTime() / 1000));
  if (!check.valid) throw new PullTokenRefused(check.reason === 'expired' ? 'The pull token has expired: ask /v2/token for a new one' : 'The pull token is not valid', 'invalid_token');
  const issuer = entries.find((entry) => fingerprintOf(entry.digest) === check.grant.sub);
  if (!issuer || !grants(issuer.scope, 'read')) throw new PullTokenRefused('The pull token was issued to a token that is no longer configured', 'invalid_token');
  const route = safeRoute(path);
  // The catalog names every repository: not for a token scoped to some.
  if (route?.kind === 'catalog') throw new PullTokenRefused('A pull token does not list the catalog: send the read token', 'insufficient_scope');
  if (route && 'name' in route && !check.grant.repositories.includes(route.name)) {
    throw new PullTokenRefused(`The pull token does not cover repository ${route.name}`, 'insufficient_scope', route.name);
  }
  return { actor: check.grant.sub };
}

function safeRoute(path: string): ReturnType<typeof parseDistributionPath> | undefined {
  try {
    return parseDistributionPath(path);
  } catch {
    // Not a valid path: the handler answers it (it needs no repository to be refused).
    return undefined;
  }
}

/** A refused pull token: 401 with a challenge that says why, so the client asks for a new one. */
export class PullTokenRefused extends UnauthorizedError {
  constructor(
    message: string,
    readonly error: 'invalid_token' | 'insufficient_scope',
    readonly repository?: string,
  ) {
    super(message);
  }
}

/** The Bearer challenge of a protected `/v2/…` (Docker's token flow): where to get a token and for what. */
export function dockerChallenge(context: RegistryContext, path: string, refusal?: PullTokenRefused): Record<string, string> {
  const route = safeRoute(path);
  const repository = refusal?.repository ?? (route && 'name' in route ? route.name : undefined);
  const parts = [`realm="${context.settings.publicBaseUrl}/v2/token"`, `service="${dockerHostOf(context.settings)}"`];
  if (repository) parts.push(`scope="repository:${repository}:pull"`);
  if (refusal) parts.push(`error="${refusal.error}"`);
  return { 'www-authenticate': `Bearer ${parts.join(',')}`, 'docker-distribution-api-version': 'registry/2.0' };
}
