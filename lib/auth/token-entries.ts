/**
 * The entries that configure who may call the registry: one per token, in REGISTRY_AUTH_TOKENS
 * (comma- or newline-separated; no whitespace inside an entry), the options' secret, or the AWS
 * secret (the same text, or a JSON array of entries). Each entry is one of:
 *
 * - `<scope>:sha256:<64 hex digits>`: the hash of a token. Preferred: the secret store then holds
 *   no usable credential. `dcos-registry token create` prints such a line.
 * - `<scope>:<token>`: the token itself.
 * - `<token>` alone: an `admin` token, as a single management token was before scopes existed.
 *
 * Several entries may share a scope (rotation: add the new one, move clients, remove the old). An
 * entry that names an unknown scope (`raed:…`) is refused rather than taken as a token: a typo
 * must not grant admin. Tokens are never logged; errors name entries by position.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isScope, type Scope } from './scopes.ts';

export interface TokenEntry {
  readonly scope: Scope;
  /** sha256 of the token's UTF-8 bytes. */
  readonly digest: Buffer;
}

/** Longest entry accepted: a hashed one is 77 characters; a token of a few hundred is plenty. */
const MAX_ENTRY_LENGTH = 1024;
const HASHED = /^sha256:([0-9a-f]{64})$/;

export class TokenEntryError extends Error {
  constructor(
    readonly position: number,
    reason: string,
  ) {
    super(`token entry ${position}: ${reason}`);
    this.name = 'TokenEntryError';
  }
}

export const tokenDigest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Who a token is in audit lines and logs: the start of its hash (never the token). */
export const fingerprintOf = (digest: Buffer): string => `token:${digest.toString('hex').slice(0, 12)}`;

/**
 * Splits configuration text into entries: commas or line breaks between them (spaces around an
 * entry are dropped), or a JSON array of strings. Whitespace inside an entry is refused by
 * parseTokenEntry: split there, its words would each have been a bare, admin, token.
 */
export function splitEntries(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      // Not the parser's message: it quotes the text, tokens included.
      throw new TokenEntryError(0, 'the text starts with [ but is not a valid JSON array of strings');
    }
    if (!Array.isArray(parsed) || parsed.some((entry) => typeof entry !== 'string')) throw new TokenEntryError(0, 'a JSON array of entries must hold strings only');
    return (parsed as string[]).map((entry) => entry.trim()).filter(Boolean);
  }
  return trimmed.split(/[,\r\n]+/).map((entry) => entry.trim()).filter(Boolean);
}

export function parseTokenEntry(entry: string, position: number): TokenEntry {
  if (entry.length > MAX_ENTRY_LENGTH) throw new TokenEntryError(position, `longer than ${MAX_ENTRY_LENGTH} characters`);
  if (/\s/.test(entry)) throw new TokenEntryError(position, 'holds whitespace: separate entries with commas or line breaks');
  const colon = entry.indexOf(':');
  if (colon < 0) return { scope: 'admin', digest: tokenDigest(entry) };
  const prefix = entry.slice(0, colon);
  const rest = entry.slice(colon + 1);
  if (!isScope(prefix)) {
    // The text before the colon may be part of a token: it is not echoed.
    throw new TokenEntryError(position, 'what comes before its first colon is not a scope (read, write or admin); write an admin token that holds a colon as admin:<token>');
  }
  if (rest === '') throw new TokenEntryError(position, 'no token after the scope');
  if (rest.startsWith('sha256:')) {
    const hashed = HASHED.exec(rest);
    if (!hashed) throw new TokenEntryError(position, 'a sha256: entry needs 64 lowercase hex digits');
    return { scope: prefix, digest: Buffer.from(hashed[1]!, 'hex') };
  }
  return { scope: prefix, digest: tokenDigest(rest) };
}

/** Every entry of a configuration text; the first bad one throws (with its position, not its text). */
export function parseTokenEntries(text: string): TokenEntry[] {
  return splitEntries(text).map((entry, index) => parseTokenEntry(entry, index + 1));
}

/** A new random token (256 bits, base64url: no character needs quoting in a header or a URL). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether a token can stand in a capability URL (`/c/<token>/repo`) as it is: the characters a
 * generated token has (base64url), nothing that needs encoding in a path or escaping in JSON.
 */
export function isCapabilityToken(token: string): boolean {
  return /^[A-Za-z0-9._~-]{1,512}$/.test(token);
}

/** The configuration line that grants `scope` to `token`, hashed. */
export function hashedEntryLine(scope: Scope, token: string): string {
  return `${scope}:sha256:${tokenDigest(token).toString('hex')}`;
}
