import { describe, expect, it } from 'vitest';
import { formatPath, isPlainObject, jsonPreview } from '../../src/formats/json.js';

describe('formatPath', () => {
  it('joins keys with dots and puts indices in brackets', () => {
    expect(formatPath(['dialog', 'engine', 'model', 'binary', 'ctx-bins', 2])).toBe('dialog.engine.model.binary.ctx-bins[2]');
    expect(formatPath(['graphs', 0, 'inputs', 1, 'shape', 0])).toBe('graphs[0].inputs[1].shape[0]');
    expect(formatPath([3, 'name'])).toBe('[3].name');
  });

  it('calls the document itself (top level) and spells symbol keys out', () => {
    expect(formatPath([])).toBe('(top level)');
    expect(formatPath(['a', Symbol('b')])).toBe('a.Symbol(b)');
  });
});

describe('isPlainObject', () => {
  it('is true for a JSON object only', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(JSON.parse('{"a": 1}'))).toBe(true);
    for (const value of [null, [], 'x', 1, true, undefined]) expect(isPlainObject(value), String(value)).toBe(false);
  });
});

describe('jsonPreview', () => {
  it('is JSON.stringify for short values', () => {
    for (const value of [1, -0, 1e21, 'a"b', null, true, [], {}, [1, [2, 3], { a: [true, null] }], { 'x y': 'z' }]) {
      expect(jsonPreview(value)).toBe(JSON.stringify(value));
    }
    expect(jsonPreview(undefined)).toBe('undefined');
  });

  it('cuts long values after the limit', () => {
    expect(jsonPreview('x'.repeat(200))).toBe(`"${'x'.repeat(79)}...`);
    expect(jsonPreview(new Array(1000).fill(1), 9)).toBe('[1,1,1,1,...');
    expect(jsonPreview({ a: 'b'.repeat(50) }, 10)).toBe('{"a":"bbbb...');
  });

  it('renders values nested deeper than JSON.stringify can recurse (found by the ctx-bin fuzzer)', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(jsonPreview(deep, 10)).toBe('[[[[[[[[[[...');
  });
});
