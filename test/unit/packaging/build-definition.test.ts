import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RegistryError } from '../../../lib/domain/errors.ts';
import { loadBuildDefinition } from '../../../lib/packaging/build-definition.ts';
import { fixturePath } from '../../helpers/fixtures.ts';

const fixture = (name: string): string => fixturePath(`universe/dcos-cli-0.5.x-package-build/${name}`);
const expected = (name: string): unknown => JSON.parse(readFileSync(fixture(name), 'utf8'));

describe('loading a build definition', () => {
  for (const kind of ['resource_only', 'config', 'marathon'] as const) {
    it(`resolves the ${kind} reference exactly as the predecessor CLI did`, async () => {
      const { metadata } = await loadBuildDefinition(fixture(`package_${kind}_reference.json`));
      assert.deepEqual(metadata, expected(`package_${kind}_reference_expected.json`));
    });
  }

  it('resolves all references at once and keeps the referenced files key order', async () => {
    const { metadata } = await loadBuildDefinition(fixture('package_all_references.json'));
    assert.deepEqual(Object.keys(metadata.resource ?? {}), Object.keys(expected('resource.json') as object));
    assert.deepEqual(metadata.config, expected('config.json'));
    assert.equal(typeof metadata.marathon?.v2AppMustacheTemplate, 'string');
  });

  it('names a missing referenced file', async () => {
    await assert.rejects(loadBuildDefinition(fixture('package_missing_references.json')), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.type, 'FileNotFound');
      assert.match(error.message, /The file \[.*marathon\.json\] does not exist/);
      return true;
    });
  });

  for (const [name, where] of [
    ['package_badly_formed_reference.json', 'package_badly_formed_reference.json'],
    ['package_no_match_schema.json', 'package_no_match_schema.json'],
    ['package_reference_does_not_match_schema.json', 'resource-bad.json'],
  ] as const) {
    it(`refuses ${name}, naming ${where}`, async () => {
      await assert.rejects(loadBuildDefinition(fixture(name)), (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.equal(error.type, 'JsonSchemaMismatch');
        assert.match(error.message, new RegExp(`^Error validating package: \\[.*${where.replace('.', '\\.')}\\] does not conform`));
        return true;
      });
    });
  }
});
