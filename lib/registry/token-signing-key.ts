/**
 * The registry's pull-token signing key, kept in its own storage so every instance (each Lambda,
 * each embedded server on shared storage) signs and verifies with the same key without any
 * configuration. Made on first use with a conditional write: of two instances racing, one key
 * wins and both use it. Whoever can read the bucket could mint pull tokens, but could read every
 * image anyway. Kept in memory once read.
 */
import { randomBytes } from 'node:crypto';
import { ObjectNotFoundError, PreconditionFailedError, readAllBytes, type ObjectStore } from '../ports/object-store.ts';
import { TOKEN_SIGNING_KEY } from './layout.ts';

const KEY_BYTES = 32;
const loaded = new WeakMap<ObjectStore, Promise<Buffer>>();

export function tokenSigningKey(store: ObjectStore): Promise<Buffer> {
  let key = loaded.get(store);
  if (!key) {
    key = loadOrCreate(store);
    // A failed read is not remembered: the next request tries again.
    key.catch(() => loaded.delete(store));
    loaded.set(store, key);
  }
  return key;
}

async function read(store: ObjectStore): Promise<Buffer | undefined> {
  try {
    const bytes = Buffer.from(await readAllBytes((await store.get(TOKEN_SIGNING_KEY)).body));
    return bytes.length === KEY_BYTES ? bytes : undefined;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

async function loadOrCreate(store: ObjectStore): Promise<Buffer> {
  const existing = await read(store);
  if (existing) return existing;
  const fresh = randomBytes(KEY_BYTES);
  try {
    await store.put(TOKEN_SIGNING_KEY, fresh, { contentType: 'application/octet-stream', ifNoneMatch: '*' });
    return fresh;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    const winner = await read(store);
    if (!winner) throw new Error('the pull-token signing key is not readable after another instance wrote it', { cause: error });
    return winner;
  }
}
