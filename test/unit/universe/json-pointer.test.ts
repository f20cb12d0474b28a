import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePointer, pointerOf, resolvePointer } from '../../../lib/universe/json-pointer.ts';

describe('JSON Pointer', () => {
  const document = { a: { 'b/c': ['x', 'y'], 'm~n': 1 }, '': 2 };

  it('escapes and resolves per RFC 6901', () => {
    assert.equal(pointerOf(['a', 'b/c', 1]), '/a/b~1c/1');
    assert.equal(resolvePointer(document, '/a/b~1c/1'), 'y');
    assert.equal(resolvePointer(document, '/a/m~0n'), 1);
    assert.equal(resolvePointer(document, '/'), 2);
  });

  it('resolves nothing for missing, malformed or non-index paths', () => {
    assert.equal(resolvePointer(document, '/a/missing'), undefined);
    assert.equal(resolvePointer(document, 'a'), undefined);
    assert.equal(resolvePointer(document, '/a/b~1c/01'), undefined);
    assert.equal(resolvePointer(document, '/a/b~1c/-'), undefined);
    assert.equal(resolvePointer(document, '/toString'), undefined, 'no prototype lookups');
    assert.equal(parsePointer('/bad~2escape'), undefined);
  });
});
