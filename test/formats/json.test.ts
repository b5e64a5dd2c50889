import { describe, expect, it } from 'vitest';
import { formatPath, isPlainObject } from '../../src/formats/json.js';

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
