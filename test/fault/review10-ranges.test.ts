/**
 * Review 10, claim 5: byte ranges on inline /v2 blobs, over HTTP on the embedded registry.
 * parseByteRange caps each number at 15 digits and treats a longer one as "no Range" (200, the
 * whole blob), while a shorter first-pos past the end is 416. RFC 9110 §14.1.1/§15.5.17: a valid
 * range-spec (first-pos is 1*DIGIT, unbounded) whose first-pos is at or past the length is
 * unsatisfiable, and the server SHOULD answer 416 with `Content-Range: bytes *\/<size>`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';

async function bundleWithLayer(name: string, repository: string, layerSize: number): Promise<{ bytes: Buffer; layerDigest: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'r10-range-'));
  const path = join(directory, 'b.dcos');
  const written = await writeSingleImageBundle({
    path,
    name,
    version: '1.0.0',
    repository,
    tag: '1.0',
    description: `layer of ${layerSize}`,
    writeLayer: async (write) => {
      const layer = Buffer.alloc(layerSize, 7);
      Buffer.from(name).copy(layer);
      await write(layer);
      return layer.length;
    },
  });
  const bytes = await readFile(path);
  await rm(directory, { recursive: true, force: true });
  return { bytes, layerDigest: written.layerDigest };
}

describe('byte ranges on /v2 blobs over HTTP', () => {
  let registry: RegistryUnderTest;
  let small: { url: string; size: number };
  before(async () => {
    registry = await startEmbeddedRegistry();
    const inline = await bundleWithLayer('range-small', 'team/small', 1000);
    for (const bundle of [inline]) assert.equal((await httpAdd(registry.url, registry.token, bundle.bytes)).status, 'Accepted');
    await registry.settled();
    small = { url: `${registry.url}/v2/team/small/blobs/sha256:${inline.layerDigest}`, size: 1000 };
  });
  after(() => registry.close());

  async function ask(url: string, range: string, method = 'GET'): Promise<{ status: number; contentRange: string | null; length: number }> {
    const response = await fetch(url, { method, headers: { range } });
    const body = Buffer.from(await response.arrayBuffer());
    return { status: response.status, contentRange: response.headers.get('content-range'), length: body.length };
  }

  it('control: a satisfiable single range is 206', async () => {
    assert.deepEqual(await ask(small.url, 'bytes=0-9'), { status: 206, contentRange: `bytes 0-9/${small.size}`, length: 10 });
  });

  it('control: a first-pos just past the end is 416', async () => {
    assert.deepEqual(await ask(small.url, `bytes=${small.size}-`), { status: 416, contentRange: `bytes */${small.size}`, length: 0 });
  });

  it('answers a first-pos far past the end (a 16-digit number) 416, like one just past it', async () => {
    const answer = await ask(small.url, 'bytes=1000000000000000-');
    assert.deepEqual(answer, { status: 416, contentRange: `bytes */${small.size}`, length: 0 }, 'a huge first-pos is as unsatisfiable as size+1');
  });
});

describe('byte ranges with long numbers (inline blob)', () => {
  it('clamps a last-pos of 16 digits to the end, as it does one of 15 (206, not the whole 200)', async () => {
    const registry = await startEmbeddedRegistry();
    try {
      const inline = await bundleWithLayer('range-long', 'team/long', 1000);
      assert.equal((await httpAdd(registry.url, registry.token, inline.bytes)).status, 'Accepted');
      await registry.settled();
      const url = `${registry.url}/v2/team/long/blobs/sha256:${inline.layerDigest}`;
      const fifteen = await fetch(url, { headers: { range: 'bytes=5-999999999999999' } });
      await fifteen.arrayBuffer();
      assert.equal(fifteen.status, 206, 'control: 15 digits');
      const sixteen = await fetch(url, { headers: { range: 'bytes=5-9999999999999999' } });
      await sixteen.arrayBuffer();
      assert.deepEqual([sixteen.status, sixteen.headers.get('content-range')], [206, 'bytes 5-999/1000']);
    } finally {
      await registry.close();
    }
  });
});
