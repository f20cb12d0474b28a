import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { BASE64_PATTERN, linearBase64Pattern, schemaErrors } from '../../../lib/universe/schema-registry.ts';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../../helpers/fixtures.ts';

const readJson = (relative: string): unknown => JSON.parse(readFileSync(fixturePath(relative), 'utf8'));
const evidence = 'universe/migrate-evidence/hello-world-2.1.0-0.31.2';

const backtracking = new RegExp(BASE64_PATTERN, 'u');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.é';

function randomText(): string {
  const length = randomInt(0, 14);
  let text = '';
  for (let index = 0; index < length; index++) text += ALPHABET[randomInt(0, ALPHABET.length)];
  return text;
}

describe('linear base64 pattern', () => {
  it('answers as the schemas\' backtracking pattern does, on edges and random strings', () => {
    const edges = ['', '=', '==', 'A', 'AA', 'AAA', 'AAAA', 'AA==', 'AAA=', 'A===', '====', 'AAAAA', 'AAAA=', 'AAAA==', 'AA=A', 'A=AA', 'AAAA\n', '\nAAAA', 'AAAAAAA=', 'AAAAAA==', 'AAAAA===', 'AB-_', 'AAAAAAAA'];
    for (const text of edges) assert.equal(linearBase64Pattern.test(text), backtracking.test(text), JSON.stringify(text));
    for (let trial = 0; trial < 20_000; trial++) {
      const text = randomText();
      assert.equal(linearBase64Pattern.test(text), backtracking.test(text), JSON.stringify(text));
    }
    for (let trial = 0; trial < 200; trial++) {
      const encoded = randomBytes(randomInt(1, 300)).toString('base64');
      assert.equal(linearBase64Pattern.test(encoded), true);
      const broken = encoded.slice(0, -1);
      assert.equal(linearBase64Pattern.test(broken), backtracking.test(broken));
    }
  });

  it('is what the schemas apply: near misses of a template are refused, real base64 accepted', () => {
    const entry = { ...(readJson(`${evidence}/hello-world-2.1.0-0.31.2.json`) as object), releaseVersion: 1 };
    const withTemplate = (template: string): unknown => ({ packages: [{ ...entry, marathon: { v2AppMustacheTemplate: template } }] });
    assert.deepEqual(schemaErrors('v5-repo', withTemplate(randomBytes(100_001).toString('base64'))), []);
    for (const nearMiss of ['AAAAA', 'AA=A', 'AAAA=', 'A===', `${'A'.repeat(400)}\n`, 'AB-_']) {
      assert.notDeepEqual(schemaErrors('v5-repo', withTemplate(nearMiss)), [], JSON.stringify(nearMiss));
    }
  });
});
