/**
 * `add` checks before any byte goes up (issue 13, item 3): a file that is not a bundle is refused
 * naming the file, a version already there with this content is not uploaded again, and one there
 * with other content is refused; `--token` is taken; a server that is not a registry is named as
 * such. The built CLI against the built server, every error as JSON under --json.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sampleBundleEntries, sampleMetadata } from '../helpers/bundle-builder.ts';
import { runBuiltCli } from '../helpers/cli.ts';
import { startRegistryProcess, type RegistryProcess } from '../helpers/registry-process.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { craftZip } from '../helpers/zip-crafter.ts';

const TOKEN = 'add-preflight-token-0123456789';

describe('add, before it uploads', () => {
  let work: string;
  let server: RegistryProcess;
  let uploadsDir: string;
  const cli = (args: string[], token = true) => runBuiltCli([...args, `--url=${server.url}`, '--json', ...(token ? [`--token=${TOKEN}`] : [])], { env: { DCOS_REGISTRY_TOKEN: '' } });
  const error = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop()!) as { type: string; message: string };
  const uploadRecords = async () => (await readdir(uploadsDir).catch(() => [] as string[])).length;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'add-preflight-'));
    server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, 'data'), REGISTRY_AUTH_TOKENS: `write:${TOKEN}` });
    uploadsDir = join(work, 'data', 'objects', 'uploads');
  });
  after(async () => {
    await server?.kill();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses a file that is not a bundle, naming it, and creates no upload', async () => {
    const file = join(work, 'notes.txt.dcos');
    await writeFile(file, 'these are not the bytes of a bundle');
    const run = await cli(['add', `--dcos-file=${file}`]);
    assert.equal(run.code, 1);
    const refused = error(run.stderr);
    assert.equal(refused.type, 'UnreadableArchive');
    assert.match(refused.message, new RegExp(`The file \\[${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\] is not a bundle`));
    assert.equal(await uploadRecords(), 0);
  });

  it('takes --token; the same bundle again uploads nothing; other content under that version is refused first', async () => {
    const bundle = await writeSampleBundle(work);
    const first = await cli(['add', `--dcos-file=${bundle}`, '--wait']);
    assert.equal(first.code, 0, first.stderr);
    const uploads = await uploadRecords();
    const again = await cli(['add', `--dcos-file=${bundle}`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { unchanged?: boolean }).unchanged, true);
    assert.equal(await uploadRecords(), uploads, 'no new upload for the same content');
    const changed = join(work, 'changed.dcos');
    await writeFile(changed, craftZip(sampleBundleEntries({ ...(sampleMetadata() as unknown as Record<string, unknown>), description: 'other content, same version' })));
    const refused = await cli(['add', `--dcos-file=${changed}`]);
    assert.equal(refused.code, 1);
    assert.equal(error(refused.stderr).type, 'PackageAlreadyExists');
    assert.equal(await uploadRecords(), uploads, 'refused before any upload');
    const without = await cli(['list'], false);
    assert.equal(without.code, 1);
    assert.equal(error(without.stderr).type, 'Unauthorized');
  });

  it('names a server that is not a registry as such', async () => {
    const other = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>some other service</body></html>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const run = await runBuiltCli(['list', `--url=http://127.0.0.1:${(other.address() as AddressInfo).port}`, '--json']);
      assert.equal(run.code, 1);
      const refused = error(run.stderr);
      assert.equal(refused.type, 'NotARegistry');
      assert.doesNotMatch(refused.message, /destructure/);
    } finally {
      other.close();
    }
  });
});
