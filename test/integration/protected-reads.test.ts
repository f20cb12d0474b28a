/**
 * Reads protected (REGISTRY_READ_PROTECTION=true) with real clients: skopeo pulls with
 * `--src-creds` (Basic, the read token as password) or an agent's Docker config.json and is
 * refused without or with a wrong one; podman logs in and pulls as a container engine does;
 * the repository and its resources answer a read token (Bearer or Basic) and 401 otherwise.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedRegistry } from '../helpers/embedded-registry.ts';
import { assertResourceServed, COSMOS_HEADERS, fetchRepository, rawGet, resourceUrls } from '../helpers/repository-checks.ts';
import { httpAdd } from '../helpers/http-add.ts';
import type { RegistryUnderTest } from '../helpers/registry-under-test.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';
import { skopeo } from '../helpers/skopeo.ts';

const run = promisify(execFile);
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
    // A real (tiny) tar layer: podman applies what it pulls.
    await mkdir(join(work, 'layer'));
    await writeFile(join(work, 'layer', 'guarded.txt'), 'guarded layer bytes\n');
    await run('tar', ['-C', join(work, 'layer'), '-cf', join(work, 'layer.tar'), 'guarded.txt']);
    const layer = await readFile(join(work, 'layer.tar'));
    ({ manifestDigest } = await writeSingleImageBundle({
      path: imageBundle, name: 'guarded', version: '1.0.0', repository: 'team/guarded', tag: '1', description: 'a guarded image',
      writeLayer: async (write) => {
        await write(layer);
        return layer.length;
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

  it("an agent's Docker config.json (auths) pulls, and podman logs in and pulls as a container engine does", async () => {
    // What an agent is given: a config.json with the read token, as Marathon's fetcher delivers it.
    const config = join(work, 'config.json');
    await writeFile(config, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`agent:${READ}`).toString('base64') } } }));
    await skopeo(['copy', '--src-tls-verify=false', '--src-authfile', config, `docker://${host}/team/guarded:1`, `dir:${join(work, 'by-config')}`]);
    const podman = (args: readonly string[]) =>
      run('podman', ['--root', join(work, 'podman-storage'), '--runroot', join(work, 'podman-run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args], { timeout: 120_000 }).catch((error: { stderr?: string; message: string }) => {
        throw new Error(`podman ${args.join(' ')}: ${error.stderr ?? error.message}`);
      });
    const authfile = join(work, 'podman-auth.json');
    const refusedLogin = await podman(['login', '--tls-verify=false', '--authfile', authfile, '--username', 'agent', '--password', 'not-the-token', host]).then(() => 'logged in', (error: Error) => error.message);
    assert.match(refusedLogin, /unauthorized|401|invalid username\/password/i);
    await podman(['login', '--tls-verify=false', '--authfile', authfile, '--username', 'agent', '--password', READ, host]);
    await podman(['pull', '--tls-verify=false', '--authfile', authfile, `${host}/team/guarded:1`]);
    const digest = (await podman(['image', 'inspect', '--format', '{{.Digest}}', `${host}/team/guarded:1`])).stdout.trim();
    assert.equal(digest, manifestDigest);
  });

  it('follows the Docker token flow: a Bearer challenge naming /v2/token, a pull token for the repository asked, refused elsewhere', async () => {
    const manifestUrl = `${registry.url}/v2/team/guarded/manifests/1`;
    const accept = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    const challenged = await fetch(manifestUrl, { headers: accept });
    assert.equal(challenged.status, 401);
    const challenge = challenged.headers.get('www-authenticate') ?? '';
    assert.match(challenge, new RegExp(`^Bearer realm="${registry.url}/v2/token",service="${host}",scope="repository:team/guarded:pull"$`));
    // The token endpoint wants the read token (Basic), as `docker login` sends it.
    assert.equal((await fetch(`${registry.url}/v2/token?service=${host}&scope=repository:team/guarded:pull`)).status, 401);
    const basic = `Basic ${Buffer.from(`agent:${READ}`).toString('base64')}`;
    const issued = await fetch(`${registry.url}/v2/token?service=${host}&scope=repository:team/guarded:pull`, { headers: { authorization: basic } });
    assert.equal(issued.status, 200);
    const { token, expires_in } = (await issued.json()) as { token: string; expires_in: number };
    assert.equal(expires_in, 300);
    const pulled = await fetch(manifestUrl, { headers: { ...accept, authorization: `Bearer ${token}` } });
    assert.equal(pulled.status, 200, await pulled.clone().text());
    assert.equal(`sha256:${createHash('sha256').update(Buffer.from(await pulled.arrayBuffer())).digest('hex')}`, manifestDigest);
    // Another repository: 401 with a challenge for it, so the client asks again.
    const other = await fetch(`${registry.url}/v2/team/other/manifests/1`, { headers: { ...accept, authorization: `Bearer ${token}` } });
    assert.equal(other.status, 401);
    assert.match(other.headers.get('www-authenticate') ?? '', /scope="repository:team\/other:pull",error="insufficient_scope"/);
    // A token changed by one character is not valid.
    const tampered = `${token.slice(0, -2)}${token.endsWith('A') ? 'B' : 'A'}${token.slice(-1)}`;
    const refused = await fetch(manifestUrl, { headers: { ...accept, authorization: `Bearer ${tampered}` } });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('a Cosmos-style reader with no credentials works through the capability URL, and every resource resolves through it', async () => {
    const base = `${registry.url}/c/${READ}`;
    const { packages, etag } = await fetchRepository(base);
    assert.ok(packages.length >= 2);
    const urls = packages.flatMap(resourceUrls).filter((url) => url.startsWith(registry.url));
    assert.ok(urls.length > 0, 'the repository names resources of this registry');
    for (const url of urls) {
      assert.ok(url.startsWith(`${base}/resource/`), `${url} is not under the capability`);
      await assertResourceServed(url);
    }
    // 304 on the capability's own ETag, which is not the plain view's.
    assert.equal((await rawGet(`${base}/repo`, { ...COSMOS_HEADERS, 'if-none-match': etag })).status, 304);
    const plain = await rawGet(`${registry.url}/repo`, { ...COSMOS_HEADERS, authorization: `Bearer ${READ}` });
    assert.notEqual(plain.headers.etag, etag);
    // Another token's capability, or none valid: refused; a resource URL under a wrong capability too.
    assert.equal((await rawGet(`${registry.url}/c/not-a-token/repo`, COSMOS_HEADERS)).status, 401);
    assert.equal((await fetch(urls[0]!.replace(`/c/${READ}/`, '/c/not-a-token/'))).status, 401);
    // The write token is a read token too; a capability of characters outside a token's is refused.
    assert.equal((await rawGet(`${registry.url}/c/${WRITE}/repo`, COSMOS_HEADERS)).status, 200);
    assert.equal((await rawGet(`${registry.url}/c/%22%7D/repo`, COSMOS_HEADERS)).status, 401);
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
