import { describe, expect, it } from 'vitest';
import { elementCount } from '../../src/tensor/index.js';

describe('elementCount', () => {
  it('multiplies the dims; a scalar has one element, a zero dim none', () => {
    expect(elementCount([1, 1, 32, 64])).toBe(2048);
    expect(elementCount([])).toBe(1);
    expect(elementCount([4, 0, 2])).toBe(0);
  });
});
