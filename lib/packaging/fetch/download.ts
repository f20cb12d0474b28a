/**
 * Streams one asset into a sink, with retries for what is worth retrying.
 *
 * Transient failures (connection reset or refused, timeouts, 408/425/429/5xx, a body cut short)
 * are retried with exponential backoff; the sink is told to begin again each time, so a retry
 * never appends to a half-written copy. A 4xx, an unknown host or a missing file fail at once,
 * naming the URL.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { DownloadError } from '../../domain/errors.ts';
import { describeLocation, type AssetLocation } from './asset-location.ts';

export interface DownloadSink {
  /** Called before every attempt: forget whatever an earlier attempt wrote. */
  begin(): Promise<void>;
  write(chunk: Uint8Array): Promise<void>;
}

export interface DownloadOptions {
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly idleTimeoutMs: number;
  readonly onProgress?: (received: number, total: number | undefined) => void;
  readonly onRetry?: (attempt: number, reason: string) => void;
}

export const DEFAULT_DOWNLOAD_OPTIONS: DownloadOptions = { retries: 3, retryDelayMs: 250, idleTimeoutMs: 30_000 };

export interface DownloadResult {
  readonly contentType: string | undefined;
}

const MAX_REDIRECTS = 5;
const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);

class TransientFailure extends Error {}

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

export async function downloadAsset(location: AssetLocation, sink: DownloadSink, options: DownloadOptions = DEFAULT_DOWNLOAD_OPTIONS): Promise<DownloadResult> {
  if (location.kind === 'file') return copyLocalFile(location, sink, options);
  for (let attempt = 0; ; attempt++) {
    await sink.begin();
    try {
      return await httpAttempt(location, location.url, sink, options, 0);
    } catch (error) {
      if (!(error instanceof TransientFailure)) throw error;
      if (attempt >= options.retries) {
        throw new DownloadError(`Could not fetch ${describeLocation(location)}: ${error.message} (after ${attempt + 1} attempts)`, {
          url: location.original,
        });
      }
      options.onRetry?.(attempt + 1, error.message);
      await sleep(options.retryDelayMs * 2 ** attempt);
    }
  }
}

async function httpAttempt(location: AssetLocation, url: URL, sink: DownloadSink, options: DownloadOptions, redirects: number): Promise<DownloadResult> {
  const response = await request(location, url, options);
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    if (redirects >= MAX_REDIRECTS) {
      throw new DownloadError(`Could not fetch ${describeLocation(location)}: more than ${MAX_REDIRECTS} redirects`, { url: location.original });
    }
    return httpAttempt(location, new URL(response.headers.location, url), sink, options, redirects + 1);
  }
  if (status < 200 || status >= 300) {
    response.resume();
    const reason = `HTTP ${status} ${response.statusMessage ?? ''}`.trim();
    if (TRANSIENT_STATUS.has(status)) throw new TransientFailure(reason);
    throw new DownloadError(`Could not fetch ${describeLocation(location)}: ${reason}`, { url: location.original, status });
  }
  const declared = response.headers['content-length'];
  const total = declared === undefined ? undefined : Number(declared);
  let received = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      received += chunk.length;
      await sink.write(chunk);
      options.onProgress?.(received, total);
    }
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    throw new TransientFailure(`the connection failed after ${received} bytes: ${(error as Error).message}`);
  }
  if (!response.complete || (total !== undefined && received !== total)) {
    throw new TransientFailure(`the body ended after ${received} of ${total ?? 'unknown'} bytes`);
  }
  return { contentType: response.headers['content-type'] };
}

function request(location: AssetLocation, url: URL, options: DownloadOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.get(url, { agent: url.protocol === 'https:' ? agents.https : agents.http, headers: { 'user-agent': 'dcos-registry-build' } }, (response) => {
      response.setTimeout?.(options.idleTimeoutMs, () => response.destroy(new Error(`no data for ${options.idleTimeoutMs} ms`)));
      resolve(response);
    });
    req.setTimeout(options.idleTimeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${options.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOTFOUND') {
        reject(new DownloadError(`Could not fetch ${describeLocation(location)}: host ${url.hostname} not found`, { url: location.original }));
      } else if (error.code !== undefined && TRANSIENT_CODES.has(error.code)) {
        reject(new TransientFailure(`${error.code} ${url.host}`));
      } else {
        reject(new DownloadError(`Could not fetch ${describeLocation(location)}: ${error.message}`, { url: location.original }, { cause: error }));
      }
    });
  });
}

async function copyLocalFile(location: Extract<AssetLocation, { kind: 'file' }>, sink: DownloadSink, options: DownloadOptions): Promise<DownloadResult> {
  let total: number;
  try {
    const info = await stat(location.path);
    if (!info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    total = info.size;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DownloadError(
      `Could not fetch ${describeLocation(location)}: ${missing ? `the file [${location.path}] does not exist` : (error as Error).message}`,
      { url: location.original },
    );
  }
  await sink.begin();
  let received = 0;
  for await (const chunk of createReadStream(location.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    received += chunk.length;
    await sink.write(chunk);
    options.onProgress?.(received, total);
  }
  return { contentType: undefined };
}
