/**
 * Reads protected (REGISTRY_READ_PROTECTION=true) with real clients: skopeo pulls with
 * `--src-creds` (Basic, the read token as password) and is refused without or with a wrong one;
 * the repository and its resources answer a read token (Bearer or Basic) and 401 otherwise.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { httpAdd } from '../helpers/http-add.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';
import { skopeo } from '../helpers/skopeo.ts';

const READ = 'protected-reads-read-token-01';
const WRITE = 'protected-reads-write-token-1';
const V5 = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';

describe('protected reads with real clients', { timeout: 180_000 }, () => {
  let registry: RegistryUnderTest;
  let work: string;
  let host: string;
  let manifestDigest: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'protected-reads-'));
    registry = await startEmbeddedRegistry({ tokens: `read:${READ},write:${WRITE}`, env: { REGISTRY_READ_PROTECTION: 'true' } });
    host = new URL(registry.url).host;
    const imageBundle = join(work, 'image.dcos');
    ({ manifestDigest } = await writeSingleImageBundle({
      path: imageBundle, name: 'guarded', version: '1.0.0', repository: 'team/guarded', tag: '1', description: 'a guarded image',
      writeLayer: async (write) => {
        await write(Buffer.from('guarded layer bytes'));
        return 'guarded layer bytes'.length;
      },
    }));
    for (const path of [imageBundle, await writeSampleBundle(work)]) {
      const added = await httpAdd(registry.url, WRITE, await readFile(path));
      assert.equal(added.status, 'Accepted', JSON.stringify(added.error));
    }
  });
  after(async () => {
    await registry?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('skopeo pulls with the read token as --src-creds, and is refused without it or with another', async () => {
    const layout = join(work, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', '--src-creds', `agent:${READ}`, `docker://${host}/team/guarded:1`, `dir:${layout}`]);
    const manifest = await readFile(join(layout, 'manifest.json'));
    assert.equal(`sha256:${createHash('sha256').update(manifest).digest('hex')}`, manifestDigest);
    for (const credentials of [[], ['--src-creds', 'agent:not-the-token'], ['--src-creds', `agent:${WRITE.slice(0, -1)}`]]) {
      const outcome = await skopeo(['copy', '--src-tls-verify=false', ...credentials, `docker://${host}/team/guarded:1`, `dir:${join(work, 'refused')}`]).then(
        () => 'pulled',
        (error: Error) => error.message,
      );
      assert.match(outcome, /unauthorized|401|authentication required/i, `pull with ${credentials.join(' ') || 'no credentials'}`);
    }
  });

  it('/repo and its resources need a read token, Bearer or Basic; the write token reads too', async () => {
    const headers = { accept: V5, 'accept-encoding': 'gzip' };
    assert.equal((await fetch(`${registry.url}/repo`, { headers })).status, 401);
    const basic = `Basic ${Buffer.from(`cosmos:${READ}`).toString('base64')}`;
    let resourceUrl = '';
    for (const authorization of [`Bearer ${READ}`, basic, `Bearer ${WRITE}`]) {
      const response = await fetch(`${registry.url}/repo`, { headers: { ...headers, authorization } });
      assert.equal(response.status, 200, authorization.split(' ')[0]);
      // fetch decodes the gzip Cosmos asks for.
      const text = await response.text();
      const urls = [...text.matchAll(/"(http:\/\/[^"]*\/resource\/[^"]+)"/g)].map((match) => match[1]!);
      assert.ok(urls.length > 0, 'the repository names resources');
      resourceUrl = urls[0]!;
    }
    assert.equal((await fetch(resourceUrl)).status, 401);
    const resource = await fetch(resourceUrl, { headers: { authorization: basic } });
    assert.equal(resource.status, 200);
    await resource.arrayBuffer();
    // Health stays public.
    assert.equal((await fetch(`${registry.url}/health`)).status, 200);
  });
});
