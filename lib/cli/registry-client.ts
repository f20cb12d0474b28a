/**
 * The CLI's HTTP client for the registry's management API. Errors come back as the registry's
 * envelope (type, message, data), so the CLI prints exactly what the server said.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { RegistryError } from '../domain/errors.ts';

export interface ClientOptions {
  readonly url: string;
  readonly token?: string;
}

export class RegistryClient {
  private readonly base: URL;

  constructor(private readonly options: ClientOptions) {
    try {
      this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    } catch {
      throw new RegistryError('InvalidOption', `The registry URL [${options.url}] is not a URL`, { url: options.url });
    }
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.send<T>(method, path, body)).value as T;
  }

  /**
   * GET of a record the server holds until it changes: with the ETag of the version the caller
   * has and `Prefer: wait` (the server's record-watch). Undefined when it did not change within
   * the wait; `waited` is false when the server did not wait (an older one), so the caller paces
   * itself.
   */
  async watch<T>(path: string, known: string | undefined, waitSeconds: number): Promise<{ value: T; etag: string | undefined; waited: boolean } | undefined> {
    const headers: Record<string, string> = { prefer: `wait=${waitSeconds}`, ...(known ? { 'if-none-match': known } : {}) };
    const { status, value, response } = await this.send<T>('GET', path, undefined, headers);
    const waited = response.headers.get('preference-applied') !== null;
    if (status === 304) return undefined;
    return { value: value as T, etag: response.headers.get('etag') ?? undefined, waited };
  }

  private async send<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<{ status: number; value: T | undefined; response: Response }> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...extraHeaders,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryError('RegistryUnreachable', `Cannot reach the registry at ${this.base.href}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {
        url: this.base.href,
      });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok && response.status !== 304) {
      const envelope = parsed as { type?: string; message?: string; data?: Record<string, unknown> } | undefined;
      if (envelope?.type && envelope.message) throw new RegistryError(envelope.type, envelope.message, envelope.data ?? {});
      throw new RegistryError('RegistryError', `The registry answered ${response.status} ${response.statusText} to ${method} ${url.pathname}`, {
        status: response.status,
      });
    }
    if (parsed === undefined && text !== '') {
      throw new RegistryError('NotARegistry', `${this.base.href} answered ${method} ${url.pathname} with something that is not JSON (${response.headers.get('content-type') ?? 'no content type'}): is this the registry's URL?`, { url: this.base.href });
    }
    return { status: response.status, value: parsed as T | undefined, response };
  }

  /**
   * Streams a file, or the byte range `[start, end]` of it, to a (presigned) URL, reporting bytes
   * sent. Returns the ETag the store answered with (needed to complete an upload in parts).
   */
  async uploadFile(
    target: string,
    file: string,
    headers: Record<string, string>,
    onProgress: (sent: number) => void,
    range?: { start: number; end: number },
  ): Promise<string> {
    const size = range ? range.end - range.start + 1 : (await stat(file)).size;
    const url = new URL(target, this.base);
    return new Promise<string>((resolve, reject) => {
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(url, { method: 'PUT', headers: { ...headers, 'content-length': size } }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk.slice(0, 2000)));
        response.on('end', () => {
          if ((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300) resolve(String(response.headers.etag ?? ''));
          else reject(new RegistryError('UploadFailed', `The upload was refused: HTTP ${response.statusCode} ${text.trim().slice(0, 300)}`, { status: response.statusCode }));
        });
      });
      request.on('error', (error) => reject(new RegistryError('UploadFailed', `The upload failed: ${error.message}`, {})));
      let sent = 0;
      const stream = createReadStream(file, { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) });
      stream.on('data', (chunk) => {
        sent += chunk.length;
        onProgress(sent);
      });
      stream.on('error', (error) => request.destroy(error));
      stream.pipe(request);
    });
  }
}

export function clientFrom(options: { url?: string; token?: string }): RegistryClient {
  const url = options.url ?? process.env.DCOS_REGISTRY_URL;
  if (!url) {
    throw new RegistryError('MissingRegistryUrl', 'No registry given: pass --url=<registry URL> or set DCOS_REGISTRY_URL', {});
  }
  const token = options.token ?? process.env.DCOS_REGISTRY_TOKEN;
  return new RegistryClient({ url, ...(token ? { token } : {}) });
}
