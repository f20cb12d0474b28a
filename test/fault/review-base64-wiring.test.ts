import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BASE64_PATTERN, isValid, linearBase64Pattern, schemaErrors } from '../../lib/universe/schema-registry.ts';
import { fixturePath } from '../helpers/fixtures.ts';

// Claim 2: Ajv calls the engine for the base64 pattern of every schema, and compiles every other
// pattern as `new RegExp(pattern, 'u')`. Watches the global RegExp constructor (looked up by the
// engine when it runs, i.e. when the lazily built Ajv compiles) and the linear check's `test`.
const constructed: { pattern: unknown; flags: unknown }[] = [];
const NativeRegExp = globalThis.RegExp;
globalThis.RegExp = new Proxy(NativeRegExp, {
  construct(target, args: unknown[]) {
    constructed.push({ pattern: args[0], flags: args[1] });
    return new target(...(args as [string, string]));
  },
}) as RegExpConstructor;

const tested: string[] = [];
const linearTest = linearBase64Pattern.test;
linearBase64Pattern.test = (text: string): boolean => {
  tested.push(text);
  return linearTest(text);
};

const readJson = (relative: string): unknown => JSON.parse(readFileSync(fixturePath(relative), 'utf8'));
const schemaFile = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../lib/universe/schemas/${name}`, import.meta.url), 'utf8'));

function patternsOf(node: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const item of node) patternsOf(item, into);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'pattern' && typeof value === 'string') into.add(value);
      if (key === 'patternProperties' && value && typeof value === 'object' && !('type' in value)) {
        for (const name of Object.keys(value)) into.add(name);
      }
      patternsOf(value, into);
    }
  }
  return into;
}

const definition = readJson('universe/migrate-evidence/hello-world-2.1.0-0.31.2/hello-world-2.1.0-0.31.2.json') as object;
const withTemplate = (template: unknown): Record<string, unknown> => ({ ...definition, marathon: { v2AppMustacheTemplate: template } });
const repoEntry = (template: unknown): Record<string, unknown> => ({ ...withTemplate(template), releaseVersion: 1 });

describe('review: the base64 engine is wired into every schema, other patterns untouched', () => {
  it('no Ajv built yet when the watchers are installed', () => {
    assert.equal(constructed.filter((call) => call.pattern === BASE64_PATTERN).length, 0);
  });

  it('compiling every schema constructs each other pattern with u, never the base64 one', () => {
    for (const name of ['package', 'config', 'v2-resource', 'v3-resource', 'build-definition', 'metadata', 'v3-repo', 'v4-repo', 'v5-repo'] as const) {
      isValid(name, {});
      schemaErrors(name, { packagingVersion: '3.0' }); // compiles the variants too
      schemaErrors(name, { packagingVersion: '4.0' });
      schemaErrors(name, { packagingVersion: '5.0' });
    }
    const all = new Set<string>();
    for (const file of ['vX-repo-definitions.json', 'metadata-schema.json', 'build-definition-schema.json', 'package-schema.json', 'config-schema.json',
      'v2-resource-schema.json', 'v3-resource-schema.json', 'v3-repo-schema.json', 'v4-repo-schema.json', 'v5-repo-schema.json']) {
      patternsOf(schemaFile(file), all);
    }
    assert.ok(all.has(BASE64_PATTERN));
    assert.ok(all.has('^[^\\s]+$') && all.has('^[-a-zA-Z0-9.]+$') && all.has('^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$'));
    assert.equal(constructed.filter((call) => call.pattern === BASE64_PATTERN).length, 0, 'base64 compiled by new RegExp');
    for (const pattern of all) {
      if (pattern === BASE64_PATTERN) continue;
      assert.ok(constructed.some((call) => call.pattern === pattern && call.flags === 'u'), `not compiled as new RegExp(${JSON.stringify(pattern)}, 'u')`);
    }
  });

  for (const [name, document] of [
    ['v5-repo', (template: unknown) => ({ packages: [repoEntry(template)] })],
    ['v4-repo', (template: unknown) => ({ packages: [{ ...repoEntry(template), packagingVersion: '4.0' }] })],
    ['metadata', (template: unknown) => withTemplate(template)],
    ['build-definition', (template: unknown) => withTemplate(template)],
  ] as const) {
    it(`${name}: the template is checked by the linear engine and its answer is the one given`, () => {
      for (const template of ['QUJD', 'QUI=', 'QQ==', 'QUJDRA==']) {
        tested.length = 0;
        assert.deepEqual(schemaErrors(name, document(template)), [], template);
        assert.ok(tested.includes(template), `${name} did not call the engine on ${template}`);
      }
      for (const template of ['QUJ', 'A===', 'QUJD\n', 'QU=I', '', 'QUJD=']) {
        tested.length = 0;
        assert.equal(isValid(name, document(template)), false, JSON.stringify(template));
        assert.ok(tested.includes(template), `${name} did not call the engine on ${JSON.stringify(template)}`);
      }
    });
  }

  it('build-definition: an @reference template goes to the ^@ pattern (and fails base64)', () => {
    tested.length = 0;
    assert.deepEqual(schemaErrors('build-definition', withTemplate('@marathon.json.mustache')), []);
    assert.ok(tested.includes('@marathon.json.mustache'));
    assert.equal(isValid('metadata', withTemplate('@marathon.json.mustache')), false);
  });
});
