/** Small JSON documents in the object store, read with their ETag so they can be replaced by CAS. */
import { nextTurn } from '../support/turns.ts';
import { ObjectNotFoundError, PreconditionFailedError, readAllBytes, type ObjectInfo, type ObjectStore } from '../ports/object-store.ts';

export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

/** Above this, decoding and parsing each get a turn of the event loop of their own (a 3 MiB catalog took 40 ms at once). */
const LARGE_DOCUMENT_BYTES = 1024 * 1024;

/** A stored document's bytes and ETag; undefined when absent. */
async function readJsonBytes(store: ObjectStore, key: string): Promise<{ readonly bytes: Buffer; readonly etag: string } | undefined> {
  try {
    const object = await store.get(key);
    return { bytes: await readAllBytes(object.body), etag: object.etag };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

export async function readJson<T>(store: ObjectStore, key: string): Promise<Versioned<T> | undefined> {
  const stored = await readJsonBytes(store, key);
  if (!stored) return undefined;
  const large = stored.bytes.length > LARGE_DOCUMENT_BYTES;
  if (large) await nextTurn();
  const text = stored.bytes.toString('utf8');
  if (large) await nextTurn();
  return { value: JSON.parse(text) as T, etag: stored.etag };
}

/**
 * A document's bytes now, its parse later (`parse` throws what JSON.parse throws): what reads
 * many documents at once uses, so their parses do not all land in one turn of the event loop.
 */
export async function readJsonLater<T>(store: ObjectStore, key: string): Promise<{ readonly parse: () => T; readonly etag: string } | undefined> {
  const stored = await readJsonBytes(store, key);
  return stored && { parse: () => JSON.parse(stored.bytes.toString('utf8')) as T, etag: stored.etag };
}

/**
 * Writes `value` at `key` only if the key is still at `expected` (an ETag), or still absent when
 * `expected` is undefined. Returns the new ETag, or undefined when someone else wrote first.
 */
export async function writeJsonIf<T>(store: ObjectStore, key: string, value: T, expected: string | undefined): Promise<string | undefined> {
  try {
    const { etag } = await store.put(key, Buffer.from(JSON.stringify(value)), {
      contentType: 'application/json',
      ...(expected === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: expected }),
    });
    return etag;
  } catch (error) {
    if (error instanceof PreconditionFailedError) return undefined;
    throw error;
  }
}

export async function writeJson<T>(store: ObjectStore, key: string, value: T): Promise<string> {
  const { etag } = await store.put(key, Buffer.from(JSON.stringify(value)), { contentType: 'application/json' });
  return etag;
}

/**
 * Read-modify-write with optimistic concurrency: `change` sees the current value (or undefined)
 * and returns the next one, or undefined to leave it. Retries when another writer got in between.
 */
export async function updateJson<T>(
  store: ObjectStore,
  key: string,
  change: (current: T | undefined) => T | undefined,
  attempts = 20,
): Promise<T | undefined> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const current = await readJson<T>(store, key);
    const next = change(current?.value);
    if (next === undefined) return current?.value;
    if ((await writeJsonIf(store, key, next, current?.etag)) !== undefined) return next;
  }
  throw new Error(`too much contention on ${key}`);
}

/** Every object under `prefix`, all pages, with what the listing tells (size, last write). */
export async function listAllObjects(store: ObjectStore, prefix: string): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await store.list(prefix, token ? { token } : {});
    objects.push(...page.objects);
    token = page.nextToken;
  } while (token);
  return objects;
}

export async function listAllKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await listAllObjects(store, prefix)).map((object) => object.key);
}
