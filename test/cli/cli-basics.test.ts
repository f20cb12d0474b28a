import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { fixturePath } from '../helpers/fixtures.ts';
import packageJson from '../../package.json' with { type: 'json' };

describe('dcos-registry as a standalone command and as a DC/OS CLI plugin', () => {
  it('prints its version, its plugin summary and its help, standalone and with the registry word', async () => {
    for (const prefix of [[], ['registry']]) {
      const version = await runBuiltCli([...prefix, '--version']);
      assert.deepEqual([version.code, version.stdout], [0, `${packageJson.version}\n`]);
      const info = await runBuiltCli([...prefix, '--info']);
      assert.equal(info.code, 0);
      assert.match(info.stdout, /^Build, add, describe and remove packages of a DC\/OS Package Registry\n$/);
      const help = await runBuiltCli([...prefix, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /migrate \[options\]/);
      assert.match(help.stdout, /build \[options\]/);
    }
  });

  it('exits 1 with a message on stderr for unknown commands and missing options', async () => {
    const unknown = await runBuiltCli(['registry', 'frobnicate']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const missing = await runBuiltCli(['migrate', '--package-directory=x']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /required option '--output-directory <dir>' not specified/);
  });

  it('migrates through the plugin form with --flag value and --flag=value alike, text and JSON', async () => {
    const out = await temporaryDirectory();
    const directory = fixturePath('universe/migrate-evidence/hello-world-2.1.0-0.31.2/package');
    const text = await runBuiltCli(['registry', 'migrate', '--package-directory', directory, `--output-directory=${out}`]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `Created DC/OS Build Definition ${out}/hello-world-2.1.0-0.31.2.json\n`);
    const json = await runBuiltCli(['migrate', `--package-directory=${directory}`, '--output-directory', out, '--json', '--force']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { name: `${out}/hello-world-2.1.0-0.31.2.json` });
  });

  it('reports a refused packagingVersion 2.0 on stderr, and as an envelope under --json', async () => {
    const out = await temporaryDirectory();
    const directory = fixturePath('universe/packages/C/cassandra/0');
    const text = await runBuiltCli(['migrate', `--package-directory=${directory}`, `--output-directory=${out}`]);
    assert.equal(text.code, 1);
    assert.equal(text.stdout, '');
    assert.match(text.stderr, /^Package \[cassandra\] version \[.*\] uses packagingVersion 2\.0/);
    const json = await runBuiltCli(['migrate', `--package-directory=${directory}`, `--output-directory=${out}`, '--json']);
    assert.equal(json.code, 1);
    assert.equal(json.stdout, '');
    assert.equal((JSON.parse(json.stderr) as { type: string }).type, 'UnsupportedPackagingVersion');
  });

  it('warns on stderr when it migrates a 3.0 package as 4.0', async () => {
    const out = await temporaryDirectory();
    const run = await runBuiltCli(['migrate', `--package-directory=${fixturePath('universe/packages/D/dcos-enterprise-cli/11')}`, `--output-directory=${out}`, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^Warning: Package \[dcos-enterprise-cli\] version \[1\.0\.7\] uses packagingVersion 3\.0: migrated as 4\.0$/m);
    assert.deepEqual(Object.keys(JSON.parse(run.stdout) as object), ['name']);
  });
});
