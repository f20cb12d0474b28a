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

export interface LocalS3 {
  readonly endpoint: string;
  readonly bucket: string;
  store(prefix?: string): S3ObjectStore;
  onEvent(listener: (event: S3Event) => void): void;
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
  return {
    endpoint,
    bucket,
    store: (prefix?: string) =>
      new S3ObjectStore({ bucket, endpoint, forcePathStyle: true, region: 'us-east-1', credentials: LOCAL_S3_CREDENTIALS, ...(prefix ? { prefix } : {}) }),
    onEvent: (listener) => listeners.push(listener),
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
