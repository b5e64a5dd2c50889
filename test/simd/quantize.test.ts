/**
 * The SIMD quantisation kernels against the scalar formulas of src/tensor/quant.ts, code for code, on
 * the values where rounding and clamping decide: exact half codes, the largest double below 0.5,
 * negatives, the range ends, huge values; odd counts, offsets, and the memory growing between calls.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { quantizeF32ToU16Simd, requantizeU16ToU16Simd } from '../../src/simd/quantize.js';
import { quantize, quantizeArray, requantize, requantizeArray } from '../../src/tensor/quant.js';
import type { Encoding } from '../../src/tensor/dtype.js';

/** The largest double below 0.5: x + 0.5 rounds to 1 in float64, while the code must be 0. */
const BELOW_HALF = 0.49999999999999994;

function edgeFloats(encoding: Encoding): Float32Array {
  const { scale, offset } = encoding;
  const values: number[] = [0, -0, 1, -1, 1e30, -1e30, Infinity, -Infinity, BELOW_HALF * scale, 3.4e38, -3.4e38, 1e-45];
  for (let q = -3; q <= 3; q++) for (const d of [-0.5, -0.25, 0, 0.25, 0.5]) values.push((q + d + offset) * scale);
  for (let q = 65532; q <= 65538; q++) for (const d of [-0.5, 0, 0.5]) values.push((q + d + offset) * scale);
  for (let q = 0; q < 4000; q++) values.push((q * 16.37 + 0.5 + offset) * scale);
  return Float32Array.from(values);
}

describe('quantizeF32ToU16Simd', () => {
  const encodings: Encoding[] = [
    { scale: 1.2e-4, offset: -31000 },
    { scale: 0.5, offset: 0 },
    { scale: 3.0517578125e-5, offset: -32768 },
  ];
  it.each(encodings)('equals quantize() for every value (scale $scale, offset $offset)', (encoding) => {
    const src = edgeFloats(encoding);
    const dst = new Uint16Array(src.length);
    expect(quantizeF32ToU16Simd(src, 0, dst, 0, src.length, encoding.scale, encoding.offset)).toBe(-1);
    // Through a Uint16Array: quantize() gives -0 for -0, which as a uint16 code is 0.
    const expected = Uint16Array.from(src, (v) => quantize(v, encoding, 'UFIXED_POINT_16'));
    expect(Array.from(dst)).toEqual(Array.from(expected));
  });

  it('writes only its span, at the offsets, for odd counts', () => {
    const encoding = { scale: 0.01, offset: -100 };
    const src = Float32Array.from({ length: 37 }, (_, i) => (i - 10) * 0.13);
    for (const [srcStart, dstStart, count] of [[0, 0, 37], [3, 5, 1], [1, 0, 36], [5, 2, 17]]) {
      const dst = new Uint16Array(60).fill(0xbeef);
      expect(quantizeF32ToU16Simd(src, srcStart, dst, dstStart, count, encoding.scale, encoding.offset)).toBe(-1);
      const expected = new Uint16Array(60).fill(0xbeef);
      for (let i = 0; i < count; i++) expected[dstStart + i] = quantize(src[srcStart + i], encoding, 'UFIXED_POINT_16');
      expect(Array.from(dst)).toEqual(Array.from(expected));
    }
  });

  it('reports the first NaN by its index in src, with the codes before its pair written', () => {
    for (const at of [0, 1, 6, 7, 40]) {
      const src = Float32Array.from({ length: 41 }, (_, i) => i);
      src[at] = NaN;
      src[40] = NaN;
      const dst = new Uint16Array(41);
      expect(quantizeF32ToU16Simd(src, 0, dst, 0, 41, 1, 0)).toBe(at);
      const pairStart = at & ~1;
      expect(Array.from(dst.subarray(0, pairStart))).toEqual(Array.from({ length: pairStart }, (_, i) => i));
    }
    const src = new Float32Array([1, 2, 3, NaN]);
    expect(quantizeF32ToU16Simd(src, 1, new Uint16Array(3), 0, 3, 1, 0)).toBe(3);
  });

  it('follows its memory as it grows between calls', () => {
    const small = new Float32Array([1.5, 2.5]);
    const out = new Uint16Array(2);
    quantizeF32ToU16Simd(small, 0, out, 0, 2, 1, 0);
    expect(Array.from(out)).toEqual([2, 3]);
    const big = Float32Array.from({ length: 300_000 }, (_, i) => (i % 65536) + 0.5);
    const dst = new Uint16Array(big.length);
    quantizeF32ToU16Simd(big, 0, dst, 0, big.length, 1, 0);
    expect(dst[299_999]).toBe(Math.min(65535, (299_999 % 65536) + 1));
    quantizeF32ToU16Simd(small, 0, out, 0, 2, 0.5, 0);
    expect(Array.from(out)).toEqual([3, 5]);
  });
});

describe('requantizeU16ToU16Simd', () => {
  const pairs: [Encoding, Encoding][] = [
    [{ scale: 1.5e-4, offset: -32768 }, { scale: 1.2e-4, offset: -31000 }],
    // ratio 0.5: every odd code lands on a half, where rounding away from zero decides.
    [{ scale: 1, offset: 0 }, { scale: 2, offset: 0 }],
    [{ scale: 1, offset: 3 }, { scale: 2, offset: -7 }],
    [{ scale: 1, offset: -40000 }, { scale: 3, offset: 100 }],
    [{ scale: 0.25, offset: 10 }, { scale: 0.125, offset: -70000 }],
  ];
  it.each(pairs)('equals requantize() for all 65536 codes (%o -> %o)', (src, dst) => {
    const codes = Uint16Array.from({ length: 65536 }, (_, q) => q);
    const out = new Uint16Array(65536);
    const ratio = src.scale / dst.scale;
    requantizeU16ToU16Simd(codes, 0, out, 0, codes.length, ratio, ratio * src.offset - dst.offset);
    const expected = Array.from(codes, (q) => requantize(q, src, dst, 'UFIXED_POINT_16'));
    expect(Array.from(out)).toEqual(expected);
  });

  it('rounds the largest double below 0.5 down, and halves away from zero', () => {
    const out = new Uint16Array(4);
    requantizeU16ToU16Simd(new Uint16Array([0, 1, 2, 3]), 0, out, 0, 4, 1, BELOW_HALF);
    // Math.round rounds exactly (0 for the double below 0.5); from 1 on, q + BELOW_HALF is a double's x.5.
    expect(Array.from(out)).toEqual([0, 1, 2, 3].map((q) => Math.round(q + BELOW_HALF)));
    expect(out[0]).toBe(0);
    requantizeU16ToU16Simd(new Uint16Array([1, 3, 5, 65535]), 0, out, 0, 4, 0.5, 0);
    expect(Array.from(out)).toEqual([1, 2, 3, 32768]);
  });

  it('writes only its span, at the offsets, for odd counts', () => {
    const codes = Uint16Array.from({ length: 21 }, (_, i) => i * 3000);
    const dst = new Uint16Array(30).fill(7);
    requantizeU16ToU16Simd(codes, 2, dst, 4, 13, 0.5, 1);
    const expected = new Uint16Array(30).fill(7);
    for (let i = 0; i < 13; i++) expected[4 + i] = requantize(codes[2 + i], { scale: 1, offset: 2 }, { scale: 2, offset: 0 }, 'UFIXED_POINT_16');
    expect(Array.from(dst)).toEqual(Array.from(expected));
  });
});

describe('quantizeArray / requantizeArray on the SIMD path (4096 elements and more)', () => {
  it('give the codes of the scalar path', () => {
    const encoding = { scale: 7e-4, offset: -30000 };
    const src = Float32Array.from({ length: 10_001 }, (_, i) => Math.sin(i) * 20);
    const whole = quantizeArray(src, new Uint16Array(src.length), encoding, 'UFIXED_POINT_16');
    expect(Array.from(whole)).toEqual(Array.from(src, (v) => quantize(v, encoding, 'UFIXED_POINT_16')));
    const to = { scale: 9e-4, offset: -25000 };
    const requantized = requantizeArray(whole, encoding, new Uint16Array(src.length), to, 'UFIXED_POINT_16');
    expect(Array.from(requantized)).toEqual(Array.from(whole, (q) => requantize(q, encoding, to, 'UFIXED_POINT_16')));
  });

  it('names the NaN index', () => {
    const src = new Float32Array(8192).fill(1);
    src[5001] = NaN;
    expect(() => quantizeArray(src, new Uint16Array(8192), { scale: 1, offset: 0 }, 'UFIXED_POINT_16')).toThrow(
      new InvalidArgumentError('src[5001] is NaN and cannot be quantized'),
    );
  });
});
