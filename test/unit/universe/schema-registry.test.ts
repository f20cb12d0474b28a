import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SchemaValidationError } from '../../../lib/domain/errors.ts';
import { assertValid, isValid, schemaErrors } from '../../../lib/universe/schema-registry.ts';
import { fixturePath } from '../../helpers/fixtures.ts';

const readJson = (relative: string): unknown => JSON.parse(readFileSync(fixturePath(relative), 'utf8'));
const evidence = 'universe/migrate-evidence/hello-world-2.1.0-0.31.2';

describe('Universe schema validators', () => {
  it('accept the hello-world evidence as build definition and as metadata', () => {
    const definition = readJson(`${evidence}/hello-world-2.1.0-0.31.2.json`);
    assert.equal(isValid('build-definition', definition), true);
    assert.equal(isValid('metadata', definition), true);
  });

  it('accept package.json, config.json (draft-04 meta-schema) and resource.json of a 4.0 revision', () => {
    assert.deepEqual(schemaErrors('package', readJson('universe/packages/H/hello-world/700/package.json')), []);
    assert.deepEqual(schemaErrors('config', readJson('universe/packages/H/hello-world/700/config.json')), []);
    assert.deepEqual(schemaErrors('v3-resource', readJson('universe/packages/H/hello-world/700/resource.json')), []);
  });

  it('refuse a config.json that is not a JSON schema', () => {
    assert.notDeepEqual(schemaErrors('config', { type: 'objekt', properties: [] }), []);
    assert.notDeepEqual(schemaErrors('config', { properties: { port: { pattern: '(' } } }), [], 'an invalid regex pattern');
  });

  it('focus the errors on the variant the packagingVersion selects', () => {
    const definition = { ...(readJson(`${evidence}/hello-world-2.1.0-0.31.2.json`) as object), selected: true };
    const errors = schemaErrors('build-definition', definition);
    assert.deepEqual(errors, ["(root) must NOT have additional properties 'selected'"]);
  });

  it('name an unknown packagingVersion', () => {
    const errors = schemaErrors('metadata', { packagingVersion: '1.0', name: 'x' });
    assert.match(errors.join(), /packagingVersion must be one of \["3.0","4.0","5.0"\]/);
  });

  it('validate a v5 repository document and refuse a non-base64 template', () => {
    const entry = {
      ...(readJson(`${evidence}/hello-world-2.1.0-0.31.2.json`) as object),
      releaseVersion: 1,
    };
    assert.deepEqual(schemaErrors('v5-repo', { packages: [entry] }), []);
    const broken = { ...entry, marathon: { v2AppMustacheTemplate: 'not base64!' } };
    assert.equal(isValid('v5-repo', { packages: [broken] }), false);
  });

  it('tell the v3, v4 and v5 repository documents apart', () => {
    const repo = readJson('universe/generated/repo-up-to-2.0.json') as { packages: { packagingVersion: string }[] };
    assert.deepEqual(schemaErrors('v5-repo', repo), []);
    assert.equal(isValid('v4-repo', repo), false, 'a v4 repository cannot carry 5.0 entries');
    const without50 = { packages: repo.packages.filter((entry) => entry.packagingVersion !== '5.0') };
    assert.deepEqual(schemaErrors('v4-repo', without50), []);
    assert.equal(isValid('v3-repo', without50), false, 'a v3 repository cannot carry 4.0 entries');
    const only2and3 = { packages: repo.packages.filter((entry) => ['2.0', '3.0'].includes(entry.packagingVersion)) };
    assert.ok(only2and3.packages.length > 0);
    assert.deepEqual(schemaErrors('v3-repo', only2and3), []);
  });

  it('refuse the Cosmos negative fixtures', () => {
    assert.equal(isValid('v5-repo', readJson('universe/generated/universe_invalid_byteBuffer.json')), false);
    assert.equal(isValid('v5-repo', readJson('universe/generated/universe_invalid_packagingVersion_value.json')), false);
  });

  it('throw a typed error that names the document', () => {
    assert.throws(
      () => assertValid('package', { packagingVersion: '4.0' }, '/somewhere/package.json'),
      (error: unknown) =>
        error instanceof SchemaValidationError &&
        error.type === 'JsonSchemaMismatch' &&
        error.message.includes('/somewhere/package.json') &&
        error.message.includes("must have required property 'name'"),
    );
  });
});
