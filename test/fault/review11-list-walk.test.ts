/**
 * Attack on the directory store's list (collectPage, fs-object-store.ts): a page is walked folder
 * by folder in key order and the walk stops when the page is full. Every page, whatever its limit
 * and token, must be the sorted key list; objects changed between pages may only drop out or come
 * in, never repeat or skip one that was there throughout. The walk tells objects from folders by
 * name only (`.obj` an object, `.tmp` a write in progress, anything else a folder): a folder whose
 * name ends in `.obj` or `.tmp` — a valid key segment, and a valid Docker repository component
 * (`org/app.obj`) or tag (`1.0.tmp`) — is taken for something else.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tagKey, tagListKey, tagOwnerKey } from '../../lib/registry/layout.ts';
import { storedTags } from '../../lib/registry/image-tags.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../lib/registry/context.ts';
import { InProcessJobQueue } from '../../lib/adapters/job-queue/in-process-job-queue.ts';
import { silentLogger } from '../../lib/support/logger.ts';
import { allKeys, freshStore } from './review11-helpers.ts';

const sorted = (keys: Iterable<string>): string[] => [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Keys with what sorts before '/' (space ( ) + , - .), folders and keys that prefix each other, deep nesting. */
const TRICKY = [
  'a',
  'a b',
  'a(1)',
  'a+',
  'a,b',
  'a-b',
  'a.b',
  'a.b/c',
  'a/b',
  'a/b/c',
  'a/b c',
  'a/b-c/d',
  'a/b.c',
  'a/b/c/d/e/f/g',
  'a/b/c/d/e/f/g/h',
  'a/b/c/d/e/f/g h',
  'a-/x',
  'a /x',
  'a(/x',
  'ab',
  'ab/c',
  'b',
  'b/a',
  'b/a/a',
  'b/a b',
  'b~',
  'B',
  'Z/z',
  '0/1',
  'x=y/@z:1',
  '_/_',
];

describe('directory store list: pages walked in key order', () => {
  it('every limit and every token (present, deleted, a folder, mid-segment) gives the sorted key list', async () => {
    const { store } = await freshStore();
    for (const key of TRICKY) await store.put(key, Buffer.from(key));
    const expected = sorted(TRICKY);
    assert.deepEqual(await allKeys(store, ''), expected);
    const tokens = [...expected, 'a/', 'a/b/', 'a/b/c/d/', 'a.', 'a/b/c/d/e/f/g/', 'aa', 'a/a', 'a/bz', 'b/', '', ' ', 'zzz', '0', 'a/b/c/d/e/f/g/h/i', 'a/b c/x'];
    for (const token of tokens) {
      for (const limit of [1, 2, 3, 5, 8, 13, 100]) {
        const page = await store.list('', { token, limit });
        const want = expected.filter((key) => key > token);
        assert.deepEqual(
          page.objects.map((object) => object.key),
          want.slice(0, limit),
          `token ${JSON.stringify(token)} limit ${limit}`,
        );
        assert.equal(page.nextToken, want.length > limit ? want[limit - 1] : undefined, `next token after ${JSON.stringify(token)} limit ${limit}`);
      }
    }
  });

  it('prefixes that end mid-segment, at a slash, or name a key exactly', async () => {
    const { store } = await freshStore();
    for (const key of TRICKY) await store.put(key, Buffer.from(key));
    const expected = sorted(TRICKY);
    for (const prefix of ['a', 'a/', 'a/b', 'a/b/', 'a/b ', 'a/b/c/d/e/f/g', 'a/b/c/d/e/f/g/', 'a.', 'a.b', 'a.b/', 'b/a', 'b/a/', 'x', 'x=y/@', 'nothing/', 'a/b/c/d/e/f/g h']) {
      for (const limit of [1, 2, 3, 1000]) {
        assert.deepEqual(await allKeys(store, prefix, limit), expected.filter((key) => key.startsWith(prefix)), `prefix ${JSON.stringify(prefix)} limit ${limit}`);
      }
    }
  });

  it('objects deleted and added between pages: none present throughout is repeated or skipped', async () => {
    const { store } = await freshStore();
    const initial = Array.from({ length: 120 }, (_, index) => `p/${String(index % 7)}/${String(index).padStart(3, '0')}${index % 3 === 0 ? ' x' : ''}`);
    for (const key of initial) await store.put(key, Buffer.from(key));
    const deleted = new Set<string>();
    const added = new Set<string>();
    const seen: string[] = [];
    let token: string | undefined;
    let round = 0;
    do {
      const page = await store.list('p/', { limit: 7, ...(token !== undefined ? { token } : {}) });
      seen.push(...page.objects.map((object) => object.key));
      token = page.nextToken;
      // Delete the key just listed (the token) and some ahead; add some before and after.
      if (token !== undefined) {
        await store.delete(token);
        deleted.add(token);
      }
      const ahead = initial[(round * 11 + 5) % initial.length]!;
      if (!seen.includes(ahead)) {
        await store.delete(ahead);
        deleted.add(ahead);
      }
      const fresh = `p/${round % 9}/${round % 2 === 0 ? '000' : 'zzz'}-${round}`;
      await store.put(fresh, Buffer.from(fresh));
      added.add(fresh);
      round++;
    } while (token !== undefined);
    assert.equal(new Set(seen).size, seen.length, 'no key repeated');
    const throughout = initial.filter((key) => !deleted.has(key));
    for (const key of throughout) assert.ok(seen.includes(key), `${key} was there throughout and was listed`);
    assert.deepEqual(seen, sorted(seen), 'in key order');
  });

  it('a write in progress (.tmp) and the lock folder are not keys', async () => {
    const { store, root } = await freshStore();
    for (const key of ['k/a', 'k/b', 'l']) await store.put(key, Buffer.from(key));
    await writeFile(join(root, 'k', 'c.obj.0123456789ab.tmp'), 'half');
    await writeFile(join(root, 'k', 'a.obj.0123456789ab.tmp'), 'half');
    await mkdir(join(root, '.locks', 'f'.repeat(64)), { recursive: true });
    assert.deepEqual(await allKeys(store, ''), ['k/a', 'k/b', 'l']);
    assert.deepEqual(await allKeys(store, '', 1), ['k/a', 'k/b', 'l']);
    assert.deepEqual(await allKeys(store, 'k/', 1), ['k/a', 'k/b']);
  });

  it('keys whose folders end in .obj are listed (they are valid keys: a Docker repository org/app.obj)', async () => {
    const { store } = await freshStore();
    const keys = ['docker/repositories/org/app.obj/_tags/1.0', 'docker/repositories/org/app.obj/_tags.json', 'docker/repositories/org/other/_tags.json'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    for (const key of keys) assert.ok(await store.head(key), `${key} is stored`);
    assert.deepEqual(await allKeys(store, 'docker/repositories/'), sorted(keys));
  });

  it('keys whose folders end in .tmp are listed (a Docker tag 1.0.tmp in refs/tags/<repo>/@<tag>/)', async () => {
    const { store } = await freshStore();
    const keys = ['refs/tags/org/app/@1.0.tmp/coordinate', 'docker/repositories/org/app.tmp/_tags.json', 'docker/repositories/org/app.tmp/_tags/1.0'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    assert.deepEqual(await allKeys(store, 'refs/'), ['refs/tags/org/app/@1.0.tmp/coordinate']);
    assert.deepEqual(await allKeys(store, 'docker/'), sorted(keys.filter((key) => key.startsWith('docker/'))));
  });

  it('the registry finds the stored tags of repositories named app.obj and app.tmp (rederiveTags reads them by listing)', async () => {
    const { store } = await freshStore();
    const context: RegistryContext = {
      store,
      queue: new InProcessJobQueue(silentLogger),
      settings: { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://registry.test' },
      log: silentLogger,
      now: () => new Date(),
    };
    for (const repository of ['org/app.obj', 'org/app.tmp', 'org/plain']) {
      await store.put(tagKey(repository, 'latest'), Buffer.from('{}'), { metadata: { digest: `sha256:${'0'.repeat(64)}` } });
      await store.put(tagListKey(repository), Buffer.from(JSON.stringify({ name: repository, tags: ['latest'] })));
      await store.put(tagOwnerKey(repository, 'latest', 'c0ord'), Buffer.from('{}'));
    }
    let stored: Awaited<ReturnType<typeof storedTags>> | undefined;
    let failure: Error | undefined;
    try {
      stored = await storedTags(context);
    } catch (error) {
      failure = error as Error;
    }
    assert.equal(failure, undefined, `storedTags threw: ${failure?.message}`);
    assert.deepEqual(sorted(stored!.tags.keys()), ['org/app.obj:latest', 'org/app.tmp:latest', 'org/plain:latest']);
    assert.deepEqual(sorted(stored!.lists.keys()), ['org/app.obj', 'org/app.tmp', 'org/plain']);
  });
});
