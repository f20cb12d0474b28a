/**
 * Resources are streamed by the embedded server with their ranges (issue 11, item 3): a resumed
 * download gets 206 with the range asked for, one past the end 416 with the size and the typed
 * envelope; the bytes are the stored file's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ASSET_BYTES } from '../helpers/bundle-builder.ts';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { COSMOS_HEADERS, fetchRepository, resourceUrls } from '../helpers/repository-checks.ts';
import { openFdsUnder } from '../fault/review11-helpers.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';

describe('resource ranges', () => {
  let registry: RegistryUnderTest & { dataDir: string };
  let work: string;
  before(async () => {
    registry = await startEmbeddedRegistry();
    work = await mkdtemp(join(tmpdir(), 'resource-ranges-'));
    const added = await httpAdd(registry.url, registry.token, await readFile(await writeSampleBundle(work)));
    assert.equal(added.status, 'Accepted');
    await registry.settled();
  });
  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('answers whole, a range, a suffix range and a range past the end', async () => {
    const [entry] = (await fetchRepository(registry.url)).packages;
    const urls = resourceUrls(entry!).filter((url) => url.startsWith(registry.url));
    let asset: string | undefined;
    for (const url of urls) if (Buffer.from(await (await fetch(url)).arrayBuffer()).equals(ASSET_BYTES)) asset = url;
    assert.ok(asset, 'the asset is served at one of the entry\'s URLs');
    const whole = await fetch(asset);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(whole.headers.get('content-length'), String(ASSET_BYTES.length));
    await whole.body?.cancel();
    const part = await fetch(asset, { headers: { range: 'bytes=2-5' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 2-5/${ASSET_BYTES.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), ASSET_BYTES.subarray(2, 6));
    const suffix = await fetch(asset, { headers: { range: 'bytes=-3' } });
    assert.equal(suffix.status, 206);
    assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), ASSET_BYTES.subarray(ASSET_BYTES.length - 3));
    const beyond = await fetch(asset, { headers: { range: `bytes=${ASSET_BYTES.length}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${ASSET_BYTES.length}`);
    assert.equal(((await beyond.json()) as { type: string }).type, 'RangeNotSatisfiable');
  });

  it('leaves no stored object open after HEADs of /repo and of a resource (their bodies let go unread)', async () => {
    const [entry] = (await fetchRepository(registry.url)).packages;
    const resource = resourceUrls(entry!).find((url) => url.startsWith(registry.url))!;
    for (let index = 0; index < 20; index++) {
      for (const url of [`${registry.url}/repo`, resource]) {
        const head = await fetch(url, { method: 'HEAD', headers: COSMOS_HEADERS });
        assert.equal(head.status, 200, url);
        await head.body?.cancel();
      }
    }
    // Let the server finish its side of the last answers.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(openFdsUnder(registry.dataDir), []);
  });
});
