import { describe, it, expect } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { kvClearValue } from '../../src/kv/index.js';
import type { DataTypeName, Encoding } from '../../src/tensor/dtype.js';

const dequantize = (q: number, e: Encoding) => (q + e.offset) * e.scale;

describe('kvClearValue', () => {
  it('float KV clears to 0 (fp16/bf16 as the +0.0 bit pattern)', () => {
    for (const dtype of ['FLOAT_32', 'FLOAT_16', 'BFLOAT_16'] as DataTypeName[]) expect(kvClearValue(dtype)).toBe(0);
  });

  it('fixed point with an encoding clears to the code of 0.0', () => {
    const cases: [DataTypeName, Encoding][] = [
      ['UFIXED_POINT_8', { scale: 0.02, offset: -128 }],
      ['UFIXED_POINT_8', { scale: 0.1, offset: -97 }],
      ['UFIXED_POINT_16', { scale: 1e-4, offset: -32768 }],
      ['UFIXED_POINT_16', { scale: 1e-3, offset: -1200 }],
      ['SFIXED_POINT_8', { scale: 0.5, offset: 3 }],
    ];
    for (const [dtype, encoding] of cases) {
      const q = kvClearValue(dtype, encoding);
      expect(dequantize(q, encoding)).toBe(0);
    }
    expect(kvClearValue('UFIXED_POINT_8', { scale: 0.02, offset: -128 })).toBe(128);
  });

  it('clamps to the code nearest 0.0 when 0.0 is outside the range', () => {
    // All-positive range [5, 260] * scale: code 0 is nearest to 0.0.
    expect(kvClearValue('UFIXED_POINT_8', { scale: 1, offset: 5 })).toBe(0);
    // All-negative range: the max code is nearest to 0.0.
    expect(kvClearValue('UFIXED_POINT_8', { scale: 1, offset: -300 })).toBe(255);
    expect(Object.is(kvClearValue('UFIXED_POINT_8', { scale: 1, offset: 0 }), 0)).toBe(true);
  });

  it("without an encoding uses Genie's constant: 1 << (bits - 1) unsigned, 0 signed", () => {
    expect(kvClearValue('UFIXED_POINT_8')).toBe(1 << 7);
    expect(kvClearValue('UINT_8')).toBe(1 << 7);
    expect(kvClearValue('UFIXED_POINT_16')).toBe(1 << 15);
    expect(kvClearValue('UFIXED_POINT_32')).toBe(2 ** 31);
    expect(kvClearValue('SFIXED_POINT_8')).toBe(0);
    expect(kvClearValue('INT_16')).toBe(0);
  });

  it('rejects bad input with InvalidArgumentError naming it', () => {
    expect(() => kvClearValue('UFIXED_POINT_8', { scale: 1, offset: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => kvClearValue('UFIXED_POINT_8', { scale: 1, offset: Number.NaN })).toThrow(/^encoding\.offset must be a finite number, got NaN$/);
    expect(() => kvClearValue('BOOL_8')).toThrow(InvalidArgumentError);
    expect(() => kvClearValue('BOOL_8')).toThrow(/^KV dtype BOOL_8 is not a KV cache type$/);
    expect(() => kvClearValue('UINT_64')).toThrow(/^data type UINT_64 has no integer code range$/);
  });
});
