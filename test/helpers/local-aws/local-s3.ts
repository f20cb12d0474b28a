/**
 * Starts the local S3-compatible server (s3-server-process.cjs) for a test and hands out
 * S3ObjectStores on it and the S3 events it emits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { S3Event } from 'aws-lambda';
import { S3ObjectStore } from '../../../lib/adapters/object-store/s3-object-store.ts';

export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An error the server answers to object requests before s3rver sees them (see s3-server-process.cjs). */
export interface FaultSpec {
  /** HTTP method to match (PUT, GET, HEAD, POST for CompleteMultipartUpload, DELETE); any when absent. */
  readonly method?: string;
  /** A substring of the key in the bucket (store prefix included); any key when absent. */
  readonly keyContains?: string;
  /** A query parameter the request carries (`uploadId` tells a completion from a start, `uploads`). */
  readonly query?: string;
  readonly status: number;
  /** The S3 error code, e.g. ConditionalRequestConflict, SlowDown, InternalError, PreconditionFailed. */
  readonly code: string;
  readonly message?: string;
  /** How many matching requests get the error; 1 when absent. */
  readonly times?: number;
}

export interface LocalS3 {
  readonly endpoint: string;
  readonly bucket: string;
  store(prefix?: string): S3ObjectStore;
  onEvent(listener: (event: S3Event) => void): void;
  /** Makes the next matching requests fail as the spec says. */
  injectFault(spec: FaultSpec): Promise<void>;
  /** Drops every injected fault, used up or not. */
  clearFaults(): Promise<void>;
  /** The injected faults with the times each has left. */
  faults(): Promise<(FaultSpec & { times: number })[]>;
  close(): Promise<void>;
}

export async function startLocalS3(bucket = 'registry'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'local-s3-'));
  const script = fileURLToPath(new URL('./s3-server-process.cjs', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', script, directory, bucket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listeners: ((event: S3Event) => void)[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the local S3 server exited with ${code} before it was ready`)));
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { ready?: { port: number }; event?: S3Event };
      if (message.ready) resolve(message.ready.port);
      if (message.event) for (const listener of listeners) listener(message.event);
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const controlFaults = async (method: 'GET' | 'POST' | 'DELETE', body?: unknown): Promise<Response> => {
    const response = await fetch(`${endpoint}/__faults`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!response.ok) throw new Error(`the local S3 server refused ${method} /__faults: ${response.status} ${await response.text()}`);
    return response;
  };
  return {
    endpoint,
    bucket,
    store: (prefix?: string) =>
      new S3ObjectStore({ bucket, endpoint, forcePathStyle: true, region: 'us-east-1', credentials: LOCAL_S3_CREDENTIALS, ...(prefix ? { prefix } : {}) }),
    onEvent: (listener) => listeners.push(listener),
    injectFault: async (spec) => {
      await (await controlFaults('POST', spec)).arrayBuffer();
    },
    clearFaults: async () => {
      await (await controlFaults('DELETE')).arrayBuffer();
    },
    faults: async () => (await (await controlFaults('GET')).json()) as (FaultSpec & { times: number })[],
    close: async () => {
      child.removeAllListeners('exit');
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      await rm(directory, { recursive: true, force: true });
    },
  };
}
