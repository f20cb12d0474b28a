/**
 * The embedded server streams blobs and resources from storage to the socket (issue 11, item 3):
 * four clients pulling a 60 MiB layer at once (below the 64 MiB inline limit, where it used to be
 * read whole, turned into base64 and decoded again: 880 MB of server memory for one pull) leave
 * the server's memory where it was. The built server runs as a process of its own, so its RSS is
 * its own; it is sampled from /proc while the pulls run.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpAdd } from '../helpers/http-add.ts';
import { residentMiB } from '../helpers/process-measures.ts';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.ts';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';

const MiB = 1024 * 1024;
const TOKEN = 'streamed-blobs-token-0123456789';
const LAYER_BYTES = 60 * MiB;


describe('blobs streamed by the embedded server', { timeout: 300_000 }, () => {
  let work: string;
  let server: RegistryProcess;
  let layerDigest: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'streamed-blobs-'));
    server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, 'data'), REGISTRY_AUTH_TOKENS: TOKEN });
    const path = join(work, 'big.dcos');
    ({ layerDigest } = await writeSingleImageBundle({
      path, name: 'streamed', version: '1.0.0', repository: 'team/big', tag: '1', description: 'a 60 MiB layer',
      writeLayer: async (write) => {
        // Distinct bytes in every MiB, so a client that got a wrong or shifted chunk fails its digest.
        const block = Buffer.alloc(MiB);
        for (let written = 0; written < LAYER_BYTES; written += MiB) {
          block.fill(written / MiB);
          block.writeUInt32LE(written, 0);
          await write(block);
        }
        return LAYER_BYTES;
      },
    }));
    const added = await httpAdd(server.url, TOKEN, await readFile(path), { timeoutMs: 180_000 });
    assert.equal(added.status, 'Accepted', JSON.stringify(added.error));
  });
  after(async () => {
    await server?.kill();
    await rm(work, { recursive: true, force: true });
  });

  it('serves four concurrent pulls of a 60 MiB layer, whole and correct, without the server holding them', async (t) => {
    const pid = server.child.pid!;
    const blob = `${server.url}/v2/team/big/blobs/sha256:${layerDigest}`;
    // Settled first: what ingest allocated is given back before the baseline is taken.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = residentMiB(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, residentMiB(pid))), 20);
    try {
      const digests = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const response = await fetch(blob, { redirect: 'manual' });
          assert.equal(response.status, 200, 'sent by the server itself');
          assert.equal(response.headers.get('content-length'), String(LAYER_BYTES));
          const hash = createHash('sha256');
          let received = 0;
          // Read slowly, as a pull over a real network would: the server must wait, not buffer.
          for await (const chunk of response.body!) {
            hash.update(chunk);
            received += chunk.length;
            if (received % (8 * MiB) < chunk.length) await new Promise((resolve) => setTimeout(resolve, 30));
          }
          assert.equal(received, LAYER_BYTES);
          return hash.digest('hex');
        }),
      );
      for (const digest of digests) assert.equal(digest, layerDigest);
    } finally {
      clearInterval(sampler);
    }
    t.diagnostic(`server RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at most during the pulls`);
    // Four whole copies would be 240 MiB, one base64 copy alone 80 MiB: the bound allows neither.
    assert.ok(peak - before < 48, `server RSS rose from ${before.toFixed(0)} to ${peak.toFixed(0)} MiB while four clients pulled a 60 MiB layer`);
    assert.ok(peak < 200, `server RSS peaked at ${peak.toFixed(0)} MiB`);
  });
});
