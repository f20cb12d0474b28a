import assert from 'node:assert/strict';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RegistryError } from '../../../lib/domain/errors.ts';
import { migrate, migratePackageDirectory } from '../../../lib/packaging/migrate.ts';
import { isValid } from '../../../lib/universe/schema-registry.ts';
import { fixturePath } from '../../helpers/fixtures.ts';
import { temporaryDirectory } from '../../helpers/temp-dir.ts';

const evidence = fixturePath('universe/migrate-evidence/hello-world-2.1.0-0.31.2');

describe('migrate', () => {
  it('reproduces the original CLI output for hello-world 2.1.0-0.31.2 byte for byte (13,448 bytes)', async () => {
    const out = await temporaryDirectory();
    const { path, warnings } = await migrate({ packageDirectory: join(evidence, 'package'), outputDirectory: out, overwrite: false });
    assert.equal(path, join(out, 'hello-world-2.1.0-0.31.2.json'));
    assert.deepEqual(warnings, []);
    const written = await readFile(path);
    assert.equal(written.length, 13_448);
    assert.deepEqual(written, await readFile(join(evidence, 'hello-world-2.1.0-0.31.2.json')));
  });

  it('drops selected, keeps key order, and base64-encodes the template', async () => {
    const { definition } = await migratePackageDirectory(fixturePath('universe/packages/H/hello-world/700'));
    const packageJson = JSON.parse(await readFile(fixturePath('universe/packages/H/hello-world/700/package.json'), 'utf8')) as Record<string, unknown>;
    const expectedKeys = [...Object.keys(packageJson).filter((key) => key !== 'selected'), 'marathon', 'config', 'resource'];
    assert.deepEqual(Object.keys(definition), expectedKeys);
    const template = await readFile(fixturePath('universe/packages/H/hello-world/700/marathon.json.mustache'));
    assert.equal(definition.marathon?.v2AppMustacheTemplate, template.toString('base64'));
  });

  it('refuses packagingVersion 2.0 with a clear message', async () => {
    await assert.rejects(migratePackageDirectory(fixturePath('universe/packages/C/cassandra/0')), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.type, 'UnsupportedPackagingVersion');
      assert.match(error.message, /packagingVersion 2\.0, which the DC\/OS Package Registry does not support/);
      return true;
    });
  });

  it('migrates packagingVersion 3.0 as 4.0, dropping command.json with a warning', async () => {
    const { definition, warnings } = await migratePackageDirectory(fixturePath('universe/packages/C/cassandra/25'));
    assert.equal(definition.packagingVersion, '4.0');
    assert.equal('command' in definition, false);
    assert.equal(warnings.length, 2);
    assert.match(warnings.join('\n'), /command\.json is dropped/);
    assert.match(warnings.join('\n'), /uses packagingVersion 3\.0: migrated as 4\.0/);
    assert.equal(isValid('metadata', definition), true);
  });

  it('refuses command.json in a 4.0 package', async () => {
    const directory = await temporaryDirectory();
    await cp(fixturePath('universe/packages/H/hello-world/700'), directory, { recursive: true });
    await writeFile(join(directory, 'command.json'), '{"pip":["x"]}');
    await assert.rejects(migratePackageDirectory(directory), /command\.json\] is not allowed with packagingVersion 4\.0/);
  });

  it('names the file and the schema errors of an invalid resource.json', async () => {
    const directory = await temporaryDirectory();
    await cp(fixturePath('universe/packages/H/hello-world/700'), directory, { recursive: true });
    await writeFile(join(directory, 'resource.json'), '{"assets":{"uris":{"x":1}}}');
    await assert.rejects(migratePackageDirectory(directory), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.match(error.message, /resource\.json\] does not conform/);
      assert.match(error.message, /\/assets\/uris\/x must be string/);
      return true;
    });
  });

  it('reports a missing directory and a broken package.json', async () => {
    await assert.rejects(migratePackageDirectory('/no/such/dir'), /The package directory \[\/no\/such\/dir\] does not exist/);
    const directory = await temporaryDirectory();
    await writeFile(join(directory, 'package.json'), '{"name": ');
    await assert.rejects(migratePackageDirectory(directory), /package\.json\] is not valid JSON/);
  });

  it('refuses to overwrite an existing build definition unless forced, leaving it untouched', async () => {
    const out = await temporaryDirectory();
    const options = { packageDirectory: join(evidence, 'package'), outputDirectory: out, overwrite: false };
    const { path } = await migrate(options);
    await writeFile(path, 'sentinel');
    await assert.rejects(migrate(options), /already exists/);
    assert.equal(await readFile(path, 'utf8'), 'sentinel');
    await migrate({ ...options, overwrite: true });
    assert.equal((await stat(path)).size, 13_448);
  });
});
