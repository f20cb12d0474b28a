import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BASE64_PATTERN, linearBase64Pattern, schemaErrors } from '../../lib/universe/schema-registry.ts';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../helpers/fixtures.ts';

// Claim 1: the linear check accepts exactly the strings the schemas' pattern (compiled with `u`, as Ajv
// does) accepts.
const original = new RegExp(BASE64_PATTERN, 'u');

function same(text: string): void {
  const expected = original.test(text);
  if (linearBase64Pattern.test(text) !== expected) {
    assert.fail(`linear check answers ${!expected} for ${JSON.stringify(text)}, the pattern ${expected}`);
  }
}

/** Every string of length 0..maxLength over `symbols` (each symbol is one string, maybe 2 code units). */
function* strings(symbols: readonly string[], maxLength: number): Generator<string> {
  let level = [''];
  yield '';
  for (let length = 1; length <= maxLength; length++) {
    const next: string[] = [];
    for (const prefix of level) for (const symbol of symbols) next.push(prefix + symbol);
    yield* next;
    level = next;
  }
}

describe('review: linear base64 check = the schemas\' pattern with the u flag', () => {
  it('every string of length 0..12 over {A, =}: every placement of padding', () => {
    for (const text of strings(['A', '='], 12)) same(text);
  });

  it('every string of length 0..9 over {A, /, =, -}', () => {
    for (const text of strings(['A', '/', '=', '-'], 9)) same(text);
  });

  it('every string of up to 7 code units over alphabet, padding, line terminators and surrogates', () => {
    // Lone high and low surrogates, which also pair up into one astral code point under `u`.
    const symbols = ['A', '=', '\n', '\r', '\u2028', '\uD83D', '\uDE00', 'é'];
    for (const text of strings(symbols, 7)) same(text);
  });

  it('every UTF-16 code unit at every position of 4- and 8-character accepted strings', () => {
    for (const template of ['AAAA', 'AAA=', 'AA==', 'AAAAAAAA', 'AAAAAAA=', 'AAAAAA==']) {
      for (let position = 0; position < template.length; position++) {
        for (let unit = 0; unit <= 0xffff; unit++) {
          const char = String.fromCharCode(unit);
          same(template.slice(0, position) + char + template.slice(position + 1)); // replaced
          same(template.slice(0, position) + char + template.slice(position)); // inserted
        }
        same(template.slice(0, position) + '\u{1F600}' + template.slice(position + 2)); // astral pair over two
      }
      same(template + '\n');
      same('\n' + template);
      same(template.slice(0, -1) + '\u{1F600}');
    }
  });

  it('long strings (up to 1 M characters) and near misses at either end', () => {
    for (const length of [4, 400, 40_000, 1_000_000]) {
      const body = 'Ab+/'.repeat(length / 4);
      for (const text of [
        body,
        body.slice(0, -1) + '=',
        body.slice(0, -2) + '==',
        body.slice(0, -3) + '===',
        body + 'A',
        body.slice(0, -1),
        '=' + body.slice(1),
        body.slice(0, length / 2) + '=' + body.slice(length / 2 + 1),
        body.slice(0, length / 2) + '==' + body.slice(length / 2 + 2),
        body.slice(0, -1) + '\n',
        body.slice(0, -2) + '\u{1F600}',
      ]) {
        same(text);
      }
    }
  });

  it('a template far past V8\'s backtracking limit: the pattern threw RangeError, the linear check answers', () => {
    // Not an equivalence: the pattern as V8 runs it cannot answer on ~3.7 M characters or more.
    const huge = 'A'.repeat(4_000_000);
    assert.throws(() => original.test(huge), RangeError);
    assert.equal(linearBase64Pattern.test(huge), true);
    const entry = JSON.parse(
      readFileSync(fixturePath('universe/migrate-evidence/hello-world-2.1.0-0.31.2/hello-world-2.1.0-0.31.2.json'), 'utf8'),
    ) as object;
    const doc = { packages: [{ ...entry, releaseVersion: 1, marathon: { v2AppMustacheTemplate: huge } }] };
    assert.deepEqual(schemaErrors('v5-repo', doc), []); // before c09733e: RangeError out of the validator
  });
});
