import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import AjvDraft04Module, { type ValidateFunction } from 'ajv-draft-04';
import { formatSchemaErrors, isValid, schemaErrors, type UniverseSchemaName } from '../../lib/universe/schema-registry.ts';
import { fixturePath } from '../helpers/fixtures.ts';

// Claim 2, by results: every fixture document, and every one-string mutation of the documents a schema
// accepts, gets the same answer (validity and reported errors) from the registry as from an Ajv set up as
// before c09733e (default `new RegExp` engine).
const NAMES: Record<UniverseSchemaName, string> = {
  package: 'package-schema.json', config: 'config-schema.json', 'v2-resource': 'v2-resource-schema.json',
  'v3-resource': 'v3-resource-schema.json', 'build-definition': 'build-definition-schema.json', metadata: 'metadata-schema.json',
  'v3-repo': 'v3-repo-schema.json', 'v4-repo': 'v4-repo-schema.json', 'v5-repo': 'v5-repo-schema.json',
};
const VARIANTS: Partial<Record<UniverseSchemaName, Record<string, string>>> = {
  package: { '2.0': 'v20Package', '3.0': 'v30Package', '4.0': 'v40Package', '5.0': 'v50Package' },
  'build-definition': { '3.0': 'v30BuildDef', '4.0': 'v40BuildDef', '5.0': 'v50BuildDef' },
  metadata: { '3.0': 'v30Metadata', '4.0': 'v40Metadata', '5.0': 'v50Metadata' },
};
const schemaJson = (file: string): object => JSON.parse(readFileSync(new URL(`../../lib/universe/schemas/${file}`, import.meta.url), 'utf8'));

const reference = new AjvDraft04Module.default({ allErrors: true, strict: false });
reference.addFormat('uri', /^[a-z][a-z0-9+.-]*:[^\s]*$/i);
reference.addFormat('regex', (pattern: string) => {
  for (const flags of ['u', '']) {
    try {
      new RegExp(pattern, flags);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
});
reference.addSchema(schemaJson('vX-repo-definitions.json'), 'vX-repo-definitions.json');
for (const [name, file] of Object.entries(NAMES)) reference.addSchema(schemaJson(file), `${name}.json`);
const get = (ref: string): ValidateFunction => reference.getSchema(ref) as ValidateFunction;

function referenceErrors(name: UniverseSchemaName, document: unknown): string[] {
  const validate = get(`${name}.json`);
  if (validate(document)) return [];
  const variants = VARIANTS[name];
  const version = typeof document === 'object' && document !== null ? (document as { packagingVersion?: unknown }).packagingVersion : undefined;
  if (variants && typeof version === 'string' && variants[version]) {
    const variant = get(`${name}.json#/definitions/${variants[version]}`);
    if (!variant(document)) return formatSchemaErrors(variant.errors);
  }
  if (variants && typeof version === 'string' && !variants[version]) return [`/packagingVersion must be one of ${JSON.stringify(Object.keys(variants))}`];
  return formatSchemaErrors(validate.errors);
}

function jsonFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? jsonFiles(join(directory, entry.name)) : entry.name.endsWith('.json') ? [join(directory, entry.name)] : [],
  );
}

/** Every copy of `document` with one string leaf replaced by `value`. */
function* mutations(document: unknown, value: string): Generator<unknown> {
  if (typeof document === 'string') {
    if (document !== value) yield value;
  } else if (Array.isArray(document)) {
    for (let index = 0; index < document.length; index++) {
      for (const changed of mutations(document[index], value)) yield document.map((item, at) => (at === index ? changed : item));
    }
  } else if (document && typeof document === 'object') {
    for (const [key, item] of Object.entries(document)) {
      for (const changed of mutations(item, value)) yield { ...document, [key]: changed };
    }
  }
}

const documents = jsonFiles(fixturePath('universe')).map((file) => ({ file, document: JSON.parse(readFileSync(file, 'utf8')) as unknown }));
const names = Object.keys(NAMES) as UniverseSchemaName[];

describe('review: validation results unchanged against an Ajv with the default pattern engine', () => {
  it('every fixture under every schema', () => {
    assert.ok(documents.length >= 40);
    let accepted = 0;
    for (const { file, document } of documents) {
      for (const name of names) {
        const expected = referenceErrors(name, document);
        assert.deepEqual(schemaErrors(name, document), expected, `${name} ${file}`);
        assert.equal(isValid(name, document), get(`${name}.json`)(document), `${name} ${file}`);
        if (expected.length === 0) accepted++;
      }
    }
    assert.ok(accepted >= 10, `only ${accepted} accepted pairs`);
  });

  it('every one-string mutation of the accepted fixtures', () => {
    const values = ['', 'a b', 'A===', '01.2', '@x'];
    let checked = 0;
    let refused = 0;
    for (const { file, document } of documents) {
      for (const name of names) {
        if (!get(`${name}.json`)(document)) continue;
        for (const value of values) {
          for (const mutated of mutations(document, value)) {
            checked++;
            const expected = get(`${name}.json`)(mutated);
            if (!expected) refused++;
            if (isValid(name, mutated) !== expected) assert.fail(`${name} ${file}: ${value} answered ${!expected}`);
          }
        }
      }
    }
    assert.ok(checked > 1000 && refused > 100, `only ${checked} mutations, ${refused} refused`);
  });
});
