/** Shared by the review11-* attack tests (an independent review of issue 11). */
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import type { ByteRange, ListPage, ObjectInfo, ObjectStore, PresignOptions, PutOptions, StoredObject } from '../../lib/ports/object-store.ts';

export const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export async function freshStore(presign = false): Promise<{ store: FsObjectStore; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'r11-store-'));
  const store = new FsObjectStore(root, presign ? (method, key) => `https://bucket.example/${key}?method=${method}` : undefined);
  return { store, root };
}

/** Every key a store holds under `prefix`, one page of `limit` at a time from `token`. */
export async function allKeys(store: ObjectStore, prefix: string, limit = 1000): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.list(prefix, { limit, ...(token !== undefined ? { token } : {}) });
    keys.push(...page.objects.map((object) => object.key));
    token = page.nextToken;
  } while (token !== undefined);
  return keys;
}

/** The file descriptors of this process open on a path under `directory`. */
export function openFdsUnder(directory: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(directory)) open.push(target);
    } catch {
      // Closed meanwhile.
    }
  }
  return open;
}

/** Resolves when `condition` holds (checked every 20 ms), or rejects after `ms` with `what`. */
export async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A store over a real one whose reads of keys matching `slow` hand out their first chunk and then
 * wait for `resume()` before the next (a disk or bucket that is slow mid-object); `closed` counts
 * the bodies whose reading was ended (finished or abandoned), `opened` those handed out.
 */
export class SlowBodyStore implements ObjectStore {
  readonly name: string;
  opened = 0;
  closed = 0;
  private resumeAll!: () => void;
  private resumed = new Promise<void>((resolve) => (this.resumeAll = resolve));
  private firstChunkSent!: () => void;
  readonly firstChunk = new Promise<void>((resolve) => (this.firstChunkSent = resolve));

  constructor(
    readonly inner: ObjectStore,
    private readonly slow: (key: string) => boolean,
  ) {
    this.name = inner.name;
  }

  resume(): void {
    this.resumeAll();
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }

  async get(key: string, options?: { range?: ByteRange }): Promise<StoredObject> {
    const object = await this.inner.get(key, options);
    if (!this.slow(key)) return object;
    this.opened++;
    const self = this;
    async function* slowly(): AsyncGenerator<Uint8Array> {
      let first = true;
      try {
        for await (const chunk of object.body) {
          if (!first) await self.resumed;
          first = false;
          yield chunk;
          self.firstChunkSent();
        }
      } finally {
        self.closed++;
      }
    }
    return { ...object, body: slowly() };
  }

  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<{ etag: string }> {
    return this.inner.put(key, body, options);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  list(prefix: string, options?: { token?: string; limit?: number }): Promise<ListPage> {
    return this.inner.list(prefix, options);
  }

  presign(method: 'GET' | 'PUT', key: string, options: PresignOptions): Promise<string | undefined> {
    return this.inner.presign(method, key, options);
  }
}
