/**
 * review12b: capability URLs over real HTTP on the embedded registry with reads protected.
 * Probes: the plain /repo still refused; a refused capability echoes nothing; the token in no
 * log line; ETags not shared across tokens; HEAD; a stored view corrupt mid-stream is not a clean
 * 200; resources in the capability view all carry the prefix.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readAllBytes } from '../../lib/ports/object-store.ts';
import { INDEX_KEY } from '../../lib/registry/layout.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';

const READ = 'review12b-cap-read-token-00001';
const READ2 = 'review12b-cap-read-token-00002';
const WRITE = 'review12b-cap-write-token-0001';

describe('review12b: capability URLs over HTTP', { timeout: 180_000 }, () => {
  it('holds its claims', async () => {
    const work = await mkdtemp(join(tmpdir(), 'review12b-cap-'));
    const logFile = join(work, 'log.txt');
    const previous = process.env.REGISTRY_TEST_LOG;
    process.env.REGISTRY_TEST_LOG = logFile;
    const registry = await startEmbeddedRegistry({ tokens: `read:${READ},read:${READ2},write:${WRITE}`, env: { REGISTRY_READ_PROTECTION: 'true' } });
    if (previous === undefined) delete process.env.REGISTRY_TEST_LOG;
    else process.env.REGISTRY_TEST_LOG = previous;
    const problems: string[] = [];
    try {
      const added = await httpAdd(registry.url, WRITE, await readFile(await writeSampleBundle(work)));
      assert.equal(added.status, 'Accepted');
      await registry.settled();

      // The plain /repo and resources stay refused.
      const plain = await fetch(`${registry.url}/repo`);
      if (plain.status !== 401) problems.push(`plain /repo without credentials: ${plain.status}`);
      await plain.arrayBuffer();

      // A wrong capability: 401, its body and headers say nothing of it.
      const wrong = 'review12b-not-a-token-SECRETISH';
      const refused = await fetch(`${registry.url}/c/${wrong}/repo`);
      const refusedText = await refused.text();
      if (refused.status !== 401) problems.push(`wrong capability: ${refused.status}`);
      if (refusedText.includes(wrong) || JSON.stringify([...refused.headers]).includes(wrong)) problems.push(`the 401 echoes the capability: ${refusedText}`);

      // Through the capability: every resource URL carries the prefix.
      const repo = await fetch(`${registry.url}/c/${READ}/repo`, { headers: { 'accept-encoding': 'gzip' } });
      const text = await repo.text();
      if (repo.status !== 200) problems.push(`capability /repo: ${repo.status}`);
      const etag = repo.headers.get('etag') ?? '';
      const urls = [...text.matchAll(/"(https?:\/\/[^"]*)"/g)].map((m) => m[1]!).filter((u) => u.startsWith(registry.url));
      console.log(`registry URLs in the view: ${urls.length}, resources: ${urls.filter((x) => x.includes("/resource/")).length}`);
      for (const u of urls) if (!u.startsWith(`${registry.url}/c/${READ}/`)) problems.push(`a registry URL without the prefix: ${u}`);
      for (const u of urls.filter((x) => x.includes('/resource/'))) {
        const r = await fetch(u);
        await r.arrayBuffer();
        if (r.status !== 200) problems.push(`resource through capability ${u}: ${r.status}`);
      }

      // Another token's ETag: no 304 across tokens; the own ETag: 304.
      const own = await fetch(`${registry.url}/c/${READ}/repo`, { headers: { 'if-none-match': etag } });
      await own.arrayBuffer();
      if (own.status !== 304) problems.push(`own ETag: ${own.status}`);
      const other = await fetch(`${registry.url}/c/${READ2}/repo`, { headers: { 'if-none-match': etag } });
      const otherText = await other.text();
      if (other.status !== 200) problems.push(`another token's ETag answered ${other.status}`);
      if (otherText.includes(READ)) problems.push('token 2 sees token 1 in its view');
      if (other.headers.get('etag') === etag) problems.push('the same ETag for two tokens');

      // HEAD: headers, no body.
      const head = await fetch(`${registry.url}/c/${READ}/repo`, { method: 'HEAD' });
      if (head.status !== 200) problems.push(`HEAD: ${head.status}`);

      // The stored view corrupted in the middle of its deflate data (same size): not a clean 200.
      const stored = await readAllBytes((await registry.store.get(INDEX_KEY)).body);
      const corrupt = Buffer.from(stored);
      for (let i = Math.floor(corrupt.length * 0.6); i < Math.floor(corrupt.length * 0.6) + 16; i++) corrupt[i] = corrupt[i]! ^ 0xa5;
      await registry.store.put(INDEX_KEY, corrupt, { contentType: 'application/json', contentEncoding: 'gzip' });
      for (const encoding of ['gzip', 'identity']) {
        let outcome: string;
        try {
          const response = await fetch(`${registry.url}/c/${READ}/repo`, { headers: { 'accept-encoding': encoding } });
          const body = await response.text();
          let parsed = true;
          try {
            JSON.parse(body);
          } catch {
            parsed = false;
          }
          outcome = `status ${response.status}, ${body.length} chars, parses: ${parsed}`;
          if (response.status === 200) problems.push(`a corrupt stored view read to its end as a 200 (${encoding}): ${outcome}`);
        } catch (error) {
          outcome = `the body failed: ${(error as Error).message}`;
        }
        console.log(`corrupt view, ${encoding}: ${outcome}`);
      }

      const log = await readFile(logFile, 'utf8').catch(() => '');
      console.log(`log lines: ${log.split("\n").length}`);
      for (const secret of [READ, READ2, wrong]) if (log.includes(secret)) problems.push(`the log holds ${secret}: ${log.split('\n').find((l) => l.includes(secret))}`);
    } finally {
      await registry.close();
      await rm(work, { recursive: true, force: true });
    }
    assert.deepEqual(problems, []);
  });
});
