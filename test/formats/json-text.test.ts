/**
 * The JSON text scanner behind config and tokenizer syntax positions and duplicate keys: any nesting
 * JSON.parse accepts, and many repeated keys, in linear time without recursion (both found by the
 * config fuzzer: test/reliability/fuzz/config.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { findDuplicateKeys, isWellFormed, lineColumn, syntaxErrorOffset } from '../../src/formats/json-text.js';

describe('findDuplicateKeys', () => {
  it('names each repeated key by its path, depth and both positions, at any depth', () => {
    const text = '{"a":{"b":[1,{"c":1,"c":2}],"b":3},"x":[],"x":{},\n "y":[[],[{"z":1,"z":{}}]]}';
    expect(findDuplicateKeys(text)).toEqual([
      { path: 'a.b[1].c', depth: 4, line: 1, column: 21, firstLine: 1, firstColumn: 15 },
      { path: 'a.b', depth: 2, line: 1, column: 29, firstLine: 1, firstColumn: 7 },
      { path: 'x', depth: 1, line: 1, column: 43, firstLine: 1, firstColumn: 36 },
      { path: 'y[1][0].z', depth: 4, line: 2, column: 18, firstLine: 2, firstColumn: 12 },
    ]);
    expect(findDuplicateKeys('{"a":[{},[],{"b":[]}],"c":{"d":{}}}')).toEqual([]);
    expect(findDuplicateKeys('7')).toEqual([]);
  });

  it('scans nesting far deeper than the call stack', () => {
    const depth = 100_000;
    expect(findDuplicateKeys('['.repeat(depth) + ']'.repeat(depth))).toEqual([]);
    const objects = `${'{"k":'.repeat(depth)}{"d":1,"d":2}${'}'.repeat(depth)}`;
    const [duplicate] = findDuplicateKeys(objects);
    expect(duplicate.path).toBe(`${'k.'.repeat(depth)}d`);
    expect(duplicate.depth).toBe(depth + 1);
    expect(duplicate.column - duplicate.firstColumn).toBe(6);
  });

  it('reports 20,000 repeated keys in well under a second (line:column in O(log lines) each)', () => {
    const count = 20_000;
    const text = `{${Array.from({ length: count }, () => '"a": 1').join(',\n')}}`;
    const start = performance.now();
    const duplicates = findDuplicateKeys(text);
    expect(performance.now() - start).toBeLessThan(1_000);
    expect(duplicates).toHaveLength(count - 1);
    expect(duplicates[count - 2]).toEqual({ path: 'a', depth: 1, line: count, column: 1, firstLine: 1, firstColumn: 2 });
  });
});

describe('syntaxErrorOffset', () => {
  it('finds where an unterminated deep nesting ends, without recursion', () => {
    const text = '['.repeat(100_000);
    let error: SyntaxError | undefined;
    try {
      JSON.parse(text);
    } catch (caught) {
      error = caught as SyntaxError;
    }
    expect(lineColumn(text, syntaxErrorOffset(text, error!))).toEqual({ line: 1, column: 100_001 });
  });
});

describe('isWellFormed', () => {
  it('is false for a lone surrogate only', () => {
    expect(isWellFormed('plain \u00e9 \ud83d\ude00')).toBe(true);
    for (const text of ['\ud800', 'a\udc00', '\ud83d', '\ude00\ud83d']) expect(isWellFormed(text), JSON.stringify(text)).toBe(false);
  });
});
