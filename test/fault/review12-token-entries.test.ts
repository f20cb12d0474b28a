/**
 * review12: token entries are "comma- or newline-separated" (docs/security.md), but the parser
 * splits on any whitespace. An entry holding a space — `write:correct horse battery staple`, a
 * passphrase — silently becomes one write token `correct` and three ADMIN tokens `horse`,
 * `battery`, `staple` (a bare token is admin). A typo must not grant admin; neither must a space.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTokenEntries } from '../../lib/auth/token-entries.ts';
import { scopeOfToken } from '../../lib/http/auth.ts';

describe('review12: token entries and whitespace', () => {
  it('a space inside an entry does not make admin tokens of its words', () => {
    let entries: ReturnType<typeof parseTokenEntries> | undefined;
    try {
      entries = parseTokenEntries('write:correct horse battery staple');
    } catch {
      return; // refusing the entry is a fine answer
    }
    for (const word of ['horse', 'battery', 'staple']) {
      assert.notEqual(scopeOfToken(word, entries), 'admin', `the word "${word}" of a write entry is an admin token`);
    }
  });

  it('a tab between scope and token does not leave a bare admin token', () => {
    let entries: ReturnType<typeof parseTokenEntries> | undefined;
    try {
      entries = parseTokenEntries('read:\tsecret-token-value');
    } catch {
      return;
    }
    assert.notEqual(scopeOfToken('secret-token-value', entries), 'admin', 'meant as read, granted admin');
  });
});
