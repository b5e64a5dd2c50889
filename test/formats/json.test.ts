import { describe, expect, it } from 'vitest';
import { formatPath } from '../../src/formats/json.js';

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
