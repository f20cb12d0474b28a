/**
 * Configuration from environment variables, parsed once into typed values. Unknown or malformed
 * values fail at start with a message naming the variable.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { trustedKeyFrom } from '../signing/bundle-signature.ts';
import type { LogLevel } from '../support/logger.ts';
import { parseTokenEntries, TokenEntryError, type TokenEntry } from '../auth/token-entries.ts';

export type StorageConfig =
  | { readonly kind: 'fs'; readonly root: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      readonly prefix: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly forcePathStyle?: boolean;
    };

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Set explicitly, or derived from host and port once listening. */
  readonly publicBaseUrl?: string;
  /** `host[:port]` that image references in /repo name (default: the public URL's host). */
  readonly dockerHost?: string;
  readonly storage: StorageConfig;
  /** Who may call (lib/auth/token-entries.ts); empty: management from loopback only. */
  readonly authTokens: readonly TokenEntry[];
  /** Whether reads (repository, resources, images) need a read token. */
  readonly readProtection: boolean;
  /** Keys bundles must be signed by; absent: signatures not required. */
  readonly trustedKeys?: readonly KeyObject[];
  readonly logLevel: LogLevel;
  /** Seconds between scans of the drop folder (or drop/ prefix). */
  readonly dropScanSeconds: number;
  /** Seconds unreferenced content waits before deletion, and between collections. */
  readonly gcGraceSeconds: number;
  readonly gcIntervalSeconds: number;
  /** Seconds without a heartbeat after which work is taken for dead; seconds between reconciler passes. */
  readonly staleAfterSeconds: number;
  readonly reconcileIntervalSeconds: number;
  /** PEM certificate (chain) and key: the server speaks HTTPS (agents' Docker pulls on 443). */
  readonly tls?: { readonly certificatePath: string; readonly keyPath: string };
}

export class ConfigurationError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigurationError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function integerFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigurationError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

/**
 * REGISTRY_TRUSTED_KEYS: the Ed25519 keys bundles must be signed by, comma-separated, each the
 * `ed25519:<base64>` line `dcos-registry key create` prints or the path of a PEM public key file.
 * Unset: signatures are not required (and not checked).
 */
export function trustedKeysFrom(env: Env): KeyObject[] | undefined {
  const entries = (env.REGISTRY_TRUSTED_KEYS ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) return undefined;
  return entries.map((entry, index) => {
    try {
      return trustedKeyFrom(entry.startsWith('ed25519:') ? entry : readFileSync(entry, 'utf8'));
    } catch (error) {
      throw new ConfigurationError('REGISTRY_TRUSTED_KEYS', `entry ${index + 1}: ${(error as Error).message}`);
    }
  });
}

/** REGISTRY_READ_PROTECTION: `true` makes the repository, resources and images need a read token. */
export function readProtectionFrom(env: Env): boolean {
  const raw = env.REGISTRY_READ_PROTECTION ?? '';
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigurationError('REGISTRY_READ_PROTECTION', `expected true or false, got "${raw.slice(0, 20)}"`);
}

function logLevel(env: Env): LogLevel {
  const raw = env.LOG_LEVEL ?? 'info';
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw;
  throw new ConfigurationError('LOG_LEVEL', `expected debug, info, warn or error, got "${raw}"`);
}

export function publicBaseUrlFrom(env: Env): string | undefined {
  const raw = env.REGISTRY_PUBLIC_URL;
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError('REGISTRY_PUBLIC_URL', `not a URL: "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigurationError('REGISTRY_PUBLIC_URL', 'must be http or https');
  return raw.replace(/\/+$/, '');
}

export function storageFrom(env: Env, dataDir: string): StorageConfig {
  const bucket = env.REGISTRY_S3_BUCKET;
  if (bucket === undefined || bucket === '') return { kind: 'fs', root: resolve(dataDir, 'objects') };
  const endpoint = env.REGISTRY_S3_ENDPOINT;
  return {
    kind: 's3',
    bucket,
    prefix: (env.REGISTRY_S3_PREFIX ?? '').replace(/^\/+|\/+$/g, ''),
    ...(endpoint ? { endpoint } : {}),
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.REGISTRY_S3_FORCE_PATH_STYLE ? { forcePathStyle: env.REGISTRY_S3_FORCE_PATH_STYLE !== 'false' } : {}),
  };
}

/** REGISTRY_AUTH_TOKENS: entries separated by commas or newlines; a bad one fails the start. */
export function tokenEntriesFrom(env: Env): TokenEntry[] {
  try {
    return parseTokenEntries(env.REGISTRY_AUTH_TOKENS ?? '');
  } catch (error) {
    if (error instanceof TokenEntryError || error instanceof SyntaxError) throw new ConfigurationError('REGISTRY_AUTH_TOKENS', error.message);
    throw error;
  }
}

/** `{ [name]: value }` when the value is present, else nothing (exactOptionalPropertyTypes). */
function optional<K extends string, V>(name: K, value: V | undefined): { [key in K]?: V } {
  return value === undefined ? {} : ({ [name]: value } as { [key in K]?: V });
}

export function serverConfigFrom(env: Env): ServerConfig {
  const dataDir = resolve(env.REGISTRY_DATA_DIR ?? '.registry-data');
  const publicBaseUrl = publicBaseUrlFrom(env);
  return {
    host: env.HOST ?? '127.0.0.1',
    port: integerFrom(env, 'PORT', 8080, 0, 65535),
    dataDir,
    ...(publicBaseUrl ? { publicBaseUrl } : {}),
    ...(env.REGISTRY_DOCKER_HOST ? { dockerHost: dockerHostFrom(env.REGISTRY_DOCKER_HOST) } : {}),
    storage: storageFrom(env, dataDir),
    authTokens: tokenEntriesFrom(env),
    readProtection: readProtectionFrom(env),
    ...optional('trustedKeys', trustedKeysFrom(env)),
    logLevel: logLevel(env),
    dropScanSeconds: integerFrom(env, 'REGISTRY_DROP_SCAN_SECONDS', 2, 1, 3600),
    gcGraceSeconds: integerFrom(env, 'REGISTRY_GC_GRACE_SECONDS', 3600, 0, 30 * 86400),
    gcIntervalSeconds: integerFrom(env, 'REGISTRY_GC_INTERVAL_SECONDS', 600, 1, 86400),
    staleAfterSeconds: integerFrom(env, 'REGISTRY_STALE_SECONDS', 120, 1, 86400),
    reconcileIntervalSeconds: integerFrom(env, 'REGISTRY_RECONCILE_INTERVAL_SECONDS', 60, 1, 86400),
    ...tlsFrom(env),
  };
}

export { logLevel as logLevelFrom };

/** A Docker registry host as image references name it: `host` or `host:port`, nothing else. */
export function dockerHostFrom(raw: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$/.test(raw)) {
    throw new ConfigurationError('REGISTRY_DOCKER_HOST', `expected host or host:port, got "${raw}"`);
  }
  return raw;
}

function tlsFrom(env: Env): { tls?: { certificatePath: string; keyPath: string } } {
  const certificatePath = env.REGISTRY_TLS_CERT;
  const keyPath = env.REGISTRY_TLS_KEY;
  if (!certificatePath && !keyPath) return {};
  if (!certificatePath || !keyPath) throw new ConfigurationError(certificatePath ? 'REGISTRY_TLS_KEY' : 'REGISTRY_TLS_CERT', 'TLS needs both REGISTRY_TLS_CERT and REGISTRY_TLS_KEY');
  return { tls: { certificatePath: resolve(certificatePath), keyPath: resolve(keyPath) } };
}
