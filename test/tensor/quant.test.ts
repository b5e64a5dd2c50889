import { all, create } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  dequantize,
  dequantizeArray,
  quantize,
  quantizeArray,
  requantize,
  requantizeArray,
  validateEncoding,
  type CodeArray,
  type DataTypeName,
  type Encoding,
} from '../../src/tensor/index.js';
import { mulberry32 } from './float-oracle.js';

// relTol/absTol tiny: by default mathjs snaps floor/fix/round of nearly-integer values to the integer.
const big = create(all, { number: 'BigNumber', precision: 64, relTol: 1e-60, absTol: 1e-60 });
type Big = ReturnType<typeof big.bignumber>;

interface Case {
  readonly dtype: DataTypeName;
  readonly make: (n: number) => CodeArray;
  readonly min: number;
  readonly max: number;
  readonly enc: Encoding;
}

// Code ranges written out from the two's-complement / unsigned definitions, not taken from the code.
const CASES: readonly Case[] = [
  { dtype: 'UFIXED_POINT_8', make: (n) => new Uint8Array(n), min: 0, max: 255, enc: { scale: 0.00223269, offset: -107 } },
  { dtype: 'UFIXED_POINT_16', make: (n) => new Uint16Array(n), min: 0, max: 65535, enc: { scale: 1.52590219e-5, offset: -32768 } },
  { dtype: 'UFIXED_POINT_32', make: (n) => new Uint32Array(n), min: 0, max: 2 ** 32 - 1, enc: { scale: 1e-6, offset: -(2 ** 31) } },
  { dtype: 'SFIXED_POINT_8', make: (n) => new Int8Array(n), min: -128, max: 127, enc: { scale: 0.05, offset: 3 } },
  { dtype: 'SFIXED_POINT_16', make: (n) => new Int16Array(n), min: -32768, max: 32767, enc: { scale: 0.001, offset: -12 } },
  { dtype: 'SFIXED_POINT_32', make: (n) => new Int32Array(n), min: -(2 ** 31), max: 2 ** 31 - 1, enc: { scale: 2.5e-7, offset: 7 } },
];

function uniform(next: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * (next() / 2 ** 32);
}

function floatRange(c: Case): [number, number] {
  return [(c.min + c.enc.offset) * c.enc.scale, (c.max + c.enc.offset) * c.enc.scale];
}

/** value / scale - offset, exactly (to 64 digits). */
function exactCode(value: number, enc: Encoding): Big {
  return big.subtract(big.divide(big.bignumber(value), big.bignumber(enc.scale)), big.bignumber(enc.offset)) as Big;
}

function clampTo(c: Case, q: number): number {
  return Math.min(c.max, Math.max(c.min, q)) + 0; // + 0: no -0 from BigNumber conversions
}

describe('quantize / dequantize', () => {
  for (const c of CASES) {
    it(`${c.dtype}: |dequantize(quantize(x)) - x| <= scale/2 inside the range`, () => {
      const next = mulberry32(c.max);
      const [lo, hi] = floatRange(c);
      const xs = new Float64Array(5000).map(() => uniform(next, lo, hi));
      const codes = quantizeArray(xs, c.make(xs.length), c.enc, c.dtype);
      for (let i = 0; i < xs.length; i++) {
        const q = codes[i];
        expect(q).toBe(quantize(xs[i], c.enc, c.dtype));
        expect(Math.abs(dequantize(q, c.enc) - xs[i])).toBeLessThanOrEqual(c.enc.scale * (0.5 + 1e-9));
      }
    });

    it(`${c.dtype}: clamps outside the range, infinities included`, () => {
      const [lo, hi] = floatRange(c);
      const s = c.enc.scale;
      const xs = new Float64Array([lo - 10 * s, hi + 10 * s, -Infinity, Infinity, -1e30, 1e30]);
      const codes = quantizeArray(xs, c.make(xs.length), c.enc, c.dtype);
      expect(Array.from(codes)).toEqual([c.min, c.max, c.min, c.max, c.min, c.max]);
    });

    it(`${c.dtype}: nearest and truncated codes match 64-digit arithmetic`, () => {
      const next = mulberry32(c.min + 12345);
      const [lo, hi] = floatRange(c);
      const s = c.enc.scale;
      for (let i = 0; i < 1500; i++) {
        const x = uniform(next, lo - 4 * s, hi + 4 * s);
        const v = exactCode(x, c.enc);
        const frac = big.number(big.subtract(v, big.floor(v)) as Big) as number;
        // float64 evaluates value / scale with a relative error of ~1e-16, so skip codes that close to a boundary
        const margin = 1e-9 + Math.abs(big.number(v) as number) * 1e-15;
        if (Math.abs(frac - 0.5) > margin) {
          expect(quantize(x, c.enc, c.dtype)).toBe(clampTo(c, big.number(big.round(v)) as number));
        }
        if (frac > margin && frac < 1 - margin) {
          expect(quantize(x, c.enc, c.dtype, 'truncate')).toBe(clampTo(c, big.number(big.fix(v)) as number));
        }
      }
    });

    it(`${c.dtype}: dequantizeArray is (q + offset) * scale rounded to float32`, () => {
      const next = mulberry32(99);
      const codes = c.make(2000).map(() => c.min + Math.floor((next() / 2 ** 32) * (c.max - c.min + 1)));
      const out = dequantizeArray(codes, new Float32Array(codes.length), c.enc);
      for (let i = 0; i < codes.length; i++) {
        const exact = big.multiply(big.add(big.bignumber(codes[i]), big.bignumber(c.enc.offset)), big.bignumber(c.enc.scale)) as Big;
        const e = big.number(exact) as number;
        expect(Math.abs(out[i] - e)).toBeLessThanOrEqual(Math.abs(e) * 2 ** -24 + 1e-300);
        expect(dequantize(codes[i], c.enc)).toBeCloseTo(e, 12);
      }
    });
  }

  it('rounds ties half away from zero ("nearest") and toward zero ("truncate")', () => {
    const u8 = { scale: 0.25, offset: -128 };
    expect(quantize(0.125, u8, 'UFIXED_POINT_8')).toBe(129); // 128.5
    expect(quantize(-0.125, u8, 'UFIXED_POINT_8')).toBe(128); // 127.5
    const s8 = { scale: 0.25, offset: 0 };
    expect(quantize(-0.125, s8, 'SFIXED_POINT_8')).toBe(-1); // -0.5
    expect(quantize(-0.375, s8, 'SFIXED_POINT_8')).toBe(-2); // -1.5
    expect(quantize(0.375, s8, 'SFIXED_POINT_8')).toBe(2); // 1.5
    // The double just below 0.5 (its sum with 0.5 rounds up to 1 in float64) and its negative.
    expect(quantize(0.49999999999999994, { scale: 1, offset: 0 }, 'SFIXED_POINT_8')).toBe(0);
    expect(quantize(-0.49999999999999994, { scale: 1, offset: 0 }, 'SFIXED_POINT_8')).toBe(0);
    expect(quantize(-0.2, s8, 'SFIXED_POINT_8', 'truncate')).toBe(0); // -0.8
    expect(quantize(0.2499, s8, 'SFIXED_POINT_8', 'truncate')).toBe(0);
    const half = new Float32Array([0.125, -0.125, -0.375]);
    expect(Array.from(quantizeArray(half, new Int8Array(3), s8, 'SFIXED_POINT_8'))).toEqual([1, -1, -2]);
    expect(Array.from(quantizeArray(half, new Int8Array(3), s8, 'SFIXED_POINT_8', 'truncate'))).toEqual([0, 0, -1]);
  });

  it('float32 into uint16 (a loop of its own) gives the codes quantize() gives: ties, the range\'s edges, below 0.5', () => {
    const enc = { scale: 0.5, offset: -3 }; // code = 2x + 3: float32 values land on ties exactly
    const next = mulberry32(7);
    const xs = new Float32Array(4000).map(() => uniform(next, -40, 33000));
    // Ties (x.5 codes), codes just around 0.5 and 65535, and values far outside.
    xs.set([-1.25, -1.5, -1.75, -1.49, 0, -0, 1.25, 32764.25, 32764, 32765, 32766, 1e9, -1e9, Infinity, -Infinity]);
    const codes = quantizeArray(xs, new Uint16Array(xs.length), enc, 'UFIXED_POINT_16');
    for (let i = 0; i < xs.length; i++) expect(codes[i]).toBe(quantize(xs[i], enc, 'UFIXED_POINT_16'));
    // Written out: -1.25 -> 0.5 -> 1 (half away), -1.5 -> 0, -1.75 -> -0.5 -> 0, 1.25 -> 5.5 -> 6, 32764.25 -> 65531.5 -> 65532.
    expect(Array.from(codes.subarray(0, 12))).toEqual([1, 0, 0, 0, 3, 3, 6, 65532, 65531, 65533, 65535, 65535]);
    expect(() => quantizeArray(new Float32Array([1, NaN]), new Uint16Array(2), enc, 'UFIXED_POINT_16')).toThrow(InvalidArgumentError);
  });

  it('accepts Float32Array and Float64Array sources alike and only writes src.length codes', () => {
    const enc = { scale: 0.01, offset: -100 };
    const dst = new Uint8Array(5).fill(7);
    quantizeArray(new Float32Array([0, 0.5, -1]), dst, enc, 'UFIXED_POINT_8');
    expect(Array.from(dst)).toEqual([100, 150, 0, 7, 7]);
    quantizeArray(new Float64Array([1.55]), dst, enc, 'UFIXED_POINT_8');
    expect(dst[0]).toBe(255);
  });
});

describe('requantize', () => {
  const ENCODINGS: Record<string, Encoding[]> = {
    UFIXED_POINT_8: [{ scale: 0.00223269, offset: -107 }, { scale: 0.0041, offset: -128 }],
    UFIXED_POINT_16: [{ scale: 1.2e-5, offset: -30000 }, { scale: 7.3e-6, offset: -32768 }],
    SFIXED_POINT_8: [{ scale: 0.0031, offset: 0 }, { scale: 0.0019, offset: 5 }],
    SFIXED_POINT_16: [{ scale: 1.5e-5, offset: -3 }, { scale: 9.1e-6, offset: 0 }],
  };
  const SMALL = CASES.filter((c) => c.dtype in ENCODINGS);

  function allCodes(c: Case): CodeArray {
    return c.make(c.max - c.min + 1).map((_, i) => c.min + i);
  }

  for (const src of SMALL) {
    for (const dst of SMALL) {
      it(`${src.dtype} -> ${dst.dtype}: equals dequantize-then-quantize for every source code`, () => {
        const [srcEnc] = ENCODINGS[src.dtype];
        const dstEnc = ENCODINGS[dst.dtype][1];
        const codes = allCodes(src);
        const out = requantizeArray(codes, srcEnc, dst.make(codes.length), dstEnc, dst.dtype);
        let nearTies = 0;
        const bad: number[] = [];
        for (let i = 0; i < codes.length; i++) {
          const viaFloat = quantize(dequantize(codes[i], srcEnc), dstEnc, dst.dtype);
          const v = dequantize(codes[i], srcEnc) / dstEnc.scale - dstEnc.offset;
          const nearTie = Math.abs(v - Math.floor(v) - 0.5) < 1e-6;
          if (nearTie) nearTies++;
          if (nearTie ? Math.abs(out[i] - viaFloat) > 1 : out[i] !== viaFloat) bad.push(codes[i]);
          if (out[i] !== requantize(codes[i], srcEnc, dstEnc, dst.dtype)) bad.push(codes[i]);
        }
        expect(bad).toEqual([]);
        // decimal scales such as 1.5e-5 / 0.0019 = 3/380 put some codes exactly on ties, where float64 may go either way
        expect(nearTies).toBeLessThan(codes.length / 100);
      });
    }
  }

  it('8-bit sources match 64-digit arithmetic: round((q + o_src) * s_src / s_dst - o_dst), clamped', () => {
    for (const src of SMALL.filter((c) => c.max - c.min === 255)) {
      for (const dst of SMALL) {
        const srcEnc = ENCODINGS[src.dtype][1];
        const dstEnc = ENCODINGS[dst.dtype][0];
        const codes = allCodes(src);
        const out = requantizeArray(codes, srcEnc, dst.make(codes.length), dstEnc, dst.dtype);
        for (let i = 0; i < codes.length; i++) {
          const v = big.subtract(
            big.divide(big.multiply(big.add(big.bignumber(codes[i]), big.bignumber(srcEnc.offset)), big.bignumber(srcEnc.scale)), big.bignumber(dstEnc.scale)),
            big.bignumber(dstEnc.offset),
          ) as Big;
          const frac = big.number(big.subtract(v, big.floor(v)) as Big) as number;
          if (Math.abs(frac - 0.5) > 1e-9) expect(out[i]).toBe(clampTo(dst, big.number(big.round(v)) as number));
        }
      }
    }
  });

  it('clamps codes that fall outside the destination range', () => {
    const wide = { scale: 0.01, offset: -32768 }; // u16 covers [-327.68, 327.67]
    const narrow = { scale: 0.01, offset: -128 }; // u8 covers [-1.28, 1.27]
    const out = requantizeArray(new Uint16Array([0, 32768 - 200, 32768, 32768 + 127, 65535]), wide, new Uint8Array(5), narrow, 'UFIXED_POINT_8');
    expect(Array.from(out)).toEqual([0, 0, 128, 255, 255]);
    expect(requantize(65535, wide, narrow, 'SFIXED_POINT_8')).toBe(127);
  });

  it('handles float32 on either side: quantize, dequantize or copy', () => {
    const enc = { scale: 0.00223269, offset: -107 };
    const floats = new Float32Array([-0.3, 0, 0.1, 0.5]);
    const q = requantizeArray(floats, undefined, new Uint8Array(4), enc, 'UFIXED_POINT_8');
    expect(Array.from(q)).toEqual(Array.from(quantizeArray(floats, new Uint8Array(4), enc, 'UFIXED_POINT_8')));
    const f = requantizeArray(q, enc, new Float32Array(4), undefined, 'FLOAT_32');
    expect(Array.from(f)).toEqual(Array.from(dequantizeArray(q, new Float32Array(4), enc)));
    const copy = requantizeArray(floats, undefined, new Float32Array(5), undefined, 'FLOAT_32');
    expect(Array.from(copy.subarray(0, 4))).toEqual(Array.from(floats));
  });
});

describe('spans (srcStart, dstStart, count)', () => {
  const enc = { scale: 0.00223269, offset: -107 };
  const wide = { scale: 1.2e-5, offset: -30000 };
  const next = mulberry32(5);
  const floats = new Float32Array(40).map(() => uniform(next, -0.2, 0.3));
  const codes = new Uint8Array(40).map(() => next() & 0xff);

  it('work on the span only and equal the whole-array call on subarrays', () => {
    const dst = new Uint8Array(20).fill(1);
    quantizeArray(floats, dst, enc, 'UFIXED_POINT_8', 'nearest', 30, 5, 10);
    const want = quantizeArray(floats.subarray(30, 40), new Uint8Array(10), enc, 'UFIXED_POINT_8');
    expect(Array.from(dst)).toEqual([1, 1, 1, 1, 1, ...want, 1, 1, 1, 1, 1]);

    const f = dequantizeArray(codes, new Float32Array(8).fill(-9), enc, 12, 2, 4);
    expect(Array.from(f)).toEqual([-9, -9, ...dequantizeArray(codes.subarray(12, 16), new Float32Array(4), enc), -9, -9]);

    const r = requantizeArray(codes, enc, new Uint16Array(6), wide, 'UFIXED_POINT_16', 36, 1, 4);
    expect(Array.from(r)).toEqual([0, ...requantizeArray(codes.subarray(36), enc, new Uint16Array(4), wide, 'UFIXED_POINT_16'), 0]);

    const copy = requantizeArray(floats, undefined, new Float32Array(3), undefined, 'FLOAT_32', 10, 1, 2);
    expect(Array.from(copy)).toEqual([0, floats[10], floats[11]]);
  });

  it('count defaults to the rest of src and count 0 writes nothing', () => {
    const dst = new Uint8Array(10);
    quantizeArray(floats, dst, enc, 'UFIXED_POINT_8', 'nearest', 35);
    expect(Array.from(dst.subarray(0, 5))).toEqual(Array.from(quantizeArray(floats.subarray(35), new Uint8Array(5), enc, 'UFIXED_POINT_8')));
    const untouched = new Uint8Array(2).fill(3);
    quantizeArray(floats, untouched, enc, 'UFIXED_POINT_8', 'nearest', 40, 2, 0);
    expect(Array.from(untouched)).toEqual([3, 3]);
  });

  it('reject bad spans with InvalidArgumentError naming the numbers, writing nothing', () => {
    const dst = new Uint8Array(10).fill(4);
    const q = (srcStart: number, dstStart: number, count: number) => () =>
      quantizeArray(floats, dst, enc, 'UFIXED_POINT_8', 'nearest', srcStart, dstStart, count);
    expect(q(-1, 0, 1)).toThrow(InvalidArgumentError);
    expect(q(-1, 0, 1)).toThrow(/srcStart must be a non-negative integer, got -1/);
    expect(q(0, 1.5, 1)).toThrow(/dstStart must be a non-negative integer, got 1.5/);
    expect(q(0, 0, -2)).toThrow(/count must be a non-negative integer, got -2/);
    expect(q(35, 0, 6)).toThrow(/src has 40 elements, needs srcStart \+ count = 35 \+ 6 = 41/);
    expect(q(0, 5, 6)).toThrow(/dst has 10 elements, needs dstStart \+ count = 5 \+ 6 = 11/);
    expect(() => quantizeArray(floats, dst, enc, 'UFIXED_POINT_8', 'nearest', 41)).toThrow(/count must be a non-negative integer, got -1/);
    expect(() => dequantizeArray(codes, new Float32Array(4), enc, 0, 1, 4)).toThrow(/dst has 4 elements, needs dstStart \+ count = 1 \+ 4 = 5/);
    expect(() => requantizeArray(codes, enc, new Uint16Array(4), wide, 'UFIXED_POINT_16', 39, 0, 2)).toThrow(/src has 40 elements, needs srcStart \+ count = 39 \+ 2 = 41/);
    expect(Array.from(dst)).toEqual(new Array(10).fill(4));
    expect(q(0, 0, 10)()).toBe(dst);
  });
});

describe('bad input', () => {
  const enc = { scale: 0.01, offset: -100 };
  const src = new Float32Array([0.1, 0.2]);

  it('encodings: scale must be finite and > 0, offset an int32, each named with its value', () => {
    for (const scale of [0, -1, NaN, Infinity]) {
      expect(() => quantize(1, { scale, offset: 0 }, 'UFIXED_POINT_8')).toThrow(InvalidArgumentError);
      expect(() => quantize(1, { scale, offset: 0 }, 'UFIXED_POINT_8')).toThrow(
        new RegExp(`encoding.scale must be a finite number > 0, got ${scale}`),
      );
    }
    expect(() => validateEncoding({ scale: '1' as unknown as number, offset: 0 })).toThrow(/encoding.scale must be a finite number > 0, got 1/);
    expect(() => dequantize(3, { scale: 1, offset: 1.5 })).toThrow(/encoding.offset must be an int32 integer, got 1.5/);
    expect(() => validateEncoding({ scale: 1, offset: 2 ** 31 }, 'lut')).toThrow(/lut.offset must be an int32 integer, got 2147483648/);
    expect(() => validateEncoding(undefined as unknown as Encoding)).toThrow(/encoding must be an object \{scale, offset\}, got undefined/);
    expect(() => validateEncoding({ scale: 1e-3, offset: -(2 ** 31) })).not.toThrow();
  });

  it('dtypes: only fixed-point types quantize; unknown names are named', () => {
    expect(() => quantize(1, enc, 'FLOAT_16')).toThrow(InvalidArgumentError);
    expect(() => quantize(1, enc, 'FLOAT_16')).toThrow(/dtype must be a UFIXED_POINT_\* or SFIXED_POINT_\* type, got FLOAT_16/);
    expect(() => quantizeArray(src, new Int32Array(2), enc, 'INT_32')).toThrow(/got INT_32/);
    expect(() => quantize(1, enc, 'Q8' as DataTypeName)).toThrow(/dtype: unknown QNN data type "Q8"/);
    expect(() => requantize(1, enc, enc, 'BOOL_8')).toThrow(/dstDtype must be a UFIXED_POINT_\* or SFIXED_POINT_\* type, got BOOL_8/);
  });

  it('arrays: dst class must match the dtype and hold src.length elements; nothing is written on error', () => {
    const dst = new Uint8Array(2).fill(9);
    expect(() => quantizeArray(src, dst, enc, 'UFIXED_POINT_16')).toThrow(InvalidArgumentError);
    expect(() => quantizeArray(src, dst, enc, 'UFIXED_POINT_16')).toThrow(/dst must be a Uint16Array for UFIXED_POINT_16, got Uint8Array/);
    expect(() => quantizeArray(src, new Uint8Array(1), enc, 'UFIXED_POINT_8')).toThrow(/dst has 1 elements, needs dstStart \+ count = 0 \+ 2 = 2/);
    expect(() => dequantizeArray(dst, new Float64Array(2) as unknown as Float32Array, enc)).toThrow(/dst must be a Float32Array for FLOAT_32, got Float64Array/);
    expect(() => dequantizeArray(new Uint8Array(3), new Float32Array(2), enc)).toThrow(/dst has 2 elements, needs dstStart \+ count = 0 \+ 3 = 3/);
    expect(() => quantizeArray(src, dst, enc, 'UFIXED_POINT_8', 'floor' as 'nearest')).toThrow(/rounding must be "nearest" or "truncate", got "floor"/);
    expect(Array.from(dst)).toEqual([9, 9]);
    expect(Array.from(quantizeArray(src, dst, enc, 'UFIXED_POINT_8'))).toEqual([110, 120]);
  });

  it('NaN values are refused, naming the index', () => {
    expect(() => quantize(NaN, enc, 'UFIXED_POINT_8')).toThrow(/value is NaN/);
    expect(() => quantizeArray(new Float32Array([0, 1, NaN]), new Uint8Array(3), enc, 'UFIXED_POINT_8')).toThrow(InvalidArgumentError);
    expect(() => quantizeArray(new Float32Array([0, 1, NaN]), new Uint8Array(3), enc, 'UFIXED_POINT_8')).toThrow(/src\[2\] is NaN/);
    expect(() => dequantize(1.5, enc)).toThrow(/code must be an integer, got 1.5/);
  });

  it('requantizeArray: encodings must match which sides are float32', () => {
    const codes = new Uint8Array([1, 2]);
    const out = new Uint16Array(2);
    expect(() => requantizeArray(codes, undefined, out, enc, 'UFIXED_POINT_16')).toThrow(InvalidArgumentError);
    expect(() => requantizeArray(codes, undefined, out, enc, 'UFIXED_POINT_16')).toThrow(/srcEncoding is required when src holds codes \(Uint8Array\)/);
    expect(() => requantizeArray(src, enc, out, enc, 'UFIXED_POINT_16')).toThrow(/srcEncoding must be undefined when src is a Float32Array/);
    expect(() => requantizeArray(codes, enc, out, undefined, 'UFIXED_POINT_16')).toThrow(/dstEncoding is required when dstDtype is UFIXED_POINT_16/);
    expect(() => requantizeArray(codes, enc, new Float32Array(2), enc, 'FLOAT_32')).toThrow(/dstEncoding must be undefined when dstDtype is FLOAT_32/);
    expect(() => requantizeArray(codes, enc, out, enc, 'FLOAT_16')).toThrow(/dstDtype must be FLOAT_32 or a fixed-point type, got FLOAT_16/);
    expect(() => requantizeArray(codes, { scale: 0, offset: 0 }, out, enc, 'UFIXED_POINT_16')).toThrow(/srcEncoding.scale must be a finite number > 0, got 0/);
    expect(() => requantizeArray(codes, enc, out, { scale: 1, offset: 0.5 }, 'UFIXED_POINT_16')).toThrow(/dstEncoding.offset must be an int32 integer, got 0.5/);
    expect(() => requantizeArray(codes, enc, new Int16Array(2), enc, 'UFIXED_POINT_16')).toThrow(/dst must be a Uint16Array for UFIXED_POINT_16, got Int16Array/);
    expect(() => requantizeArray(codes, enc, new Uint16Array(1), enc, 'UFIXED_POINT_16')).toThrow(/dst has 1 elements, needs dstStart \+ count = 0 \+ 2 = 2/);
    expect(Array.from(out)).toEqual([0, 0]);
    expect(Array.from(requantizeArray(codes, enc, out, enc, 'UFIXED_POINT_16'))).toEqual([1, 2]);
  });
});
