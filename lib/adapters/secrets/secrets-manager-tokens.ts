/**
 * Token entries from AWS Secrets Manager: the secret's string holds them as
 * lib/auth/token-entries.ts reads them (commas or newlines between, or a JSON array). Fetched
 * with a SigV4-signed GetSecretValue call and kept for five minutes, so a rotated token takes
 * effect without a deploy. Never logged.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AuthPolicy } from '../../http/auth.ts';
import { parseTokenEntries, type TokenEntry } from '../../auth/token-entries.ts';

const CACHE_MS = 5 * 60 * 1000;

export interface SecretsManagerOptions {
  readonly secretId: string;
  readonly region: string;
  /** For tests and local stacks; defaults to the regional AWS endpoint. */
  readonly endpoint?: string;
}

export function secretsManagerTokens(options: SecretsManagerOptions): AuthPolicy {
  // The S3 client resolves credentials through the standard AWS chain; reuse it for signing.
  const credentialSource = new S3Client({ region: options.region });
  let cached: { entries: TokenEntry[]; at: number } | undefined;
  return {
    loopbackWithoutToken: false,
    async entries() {
      if (cached && Date.now() - cached.at < CACHE_MS) return cached.entries;
      const endpoint = new URL(options.endpoint ?? `https://secretsmanager.${options.region}.amazonaws.com/`);
      const body = JSON.stringify({ SecretId: options.secretId });
      const signer = new SignatureV4({
        credentials: credentialSource.config.credentials,
        region: options.region,
        service: 'secretsmanager',
        sha256: credentialSource.config.sha256,
      });
      const signed = await signer.sign({
        method: 'POST',
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
        path: endpoint.pathname,
        query: {},
        headers: {
          host: endpoint.host,
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'secretsmanager.GetSecretValue',
        },
        body,
      });
      const response = await fetch(endpoint, { method: 'POST', headers: signed.headers as Record<string, string>, body });
      if (!response.ok) throw new Error(`Secrets Manager answered ${response.status} for the management token secret`);
      const { SecretString } = (await response.json()) as { SecretString?: string };
      // A bad entry fails every call (its position named, never its text) rather than be skipped.
      const entries = parseTokenEntries(SecretString ?? '');
      cached = { entries, at: Date.now() };
      return entries;
    },
  };
}
