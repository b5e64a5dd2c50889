import { describe, it, expect } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { fillCacheIndex } from '../../src/kv/index.js';

describe('fillCacheIndex', () => {
  it('writes nValid + i into every element', () => {
    const dst = new Uint32Array(32);
    fillCacheIndex(dst, 100, 256);
    dst.forEach((x, i) => expect(x).toBe(100 + i));
    const full = new Int32Array(8);
    fillCacheIndex(full, 248, 256);
    expect(Array.from(full)).toEqual([248, 249, 250, 251, 252, 253, 254, 255]);
  });

  it('refuses indices past KV-in and bad arguments, leaving dst untouched', () => {
    const dst = new Int32Array(32).fill(-7);
    expect(() => fillCacheIndex(dst, 225, 256)).toThrow(InvalidArgumentError);
    expect(() => fillCacheIndex(dst, 225, 256)).toThrow(/^nValid \+ dst\.length = 225 \+ 32 = 257 exceeds contextLength 256$/);
    expect(() => fillCacheIndex(dst, -1, 256)).toThrow(/^nValid must be an integer in \[0, 256\], got -1$/);
    expect(() => fillCacheIndex(dst, 0, 0)).toThrow(/^contextLength must be an integer in \[1, 2147483647\], got 0$/);
    expect(dst.every((x) => x === -7)).toBe(true);
    fillCacheIndex(dst, 224, 256);
    expect(dst[31]).toBe(255);
  });
});
