import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  float16ArrayToFloat32,
  float16ToFloat32,
  float32ArrayToFloat16,
  float32ToFloat16,
} from '../../src/tensor/index.js';
import {
  bitsOfFloat32,
  decodeHalf,
  float32FromBits,
  halfFormat,
  mulberry32,
  nearestBits,
  nextDown32,
  nextUp32,
} from './float-oracle.js';

const fmt = halfFormat();
const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

function expectEncodes(x: number): void {
  const got = float32ToFloat16(x);
  const want = nearestBits(x, fmt);
  if (got !== want) {
    expect({ input: bitsOfFloat32(x).toString(16), half: got.toString(16) }).toEqual({
      input: bitsOfFloat32(x).toString(16),
      half: want.toString(16),
    });
  }
}

describe('float16ToFloat32', () => {
  it('decodes all 65536 patterns like the textbook formula (subnormals, signed zeros, infinities, NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const want = decodeHalf(h);
      const got = float16ToFloat32(h);
      if (Number.isNaN(want)) expect(got).toBeNaN();
      else if (!Object.is(got, want)) expect([h, got]).toEqual([h, want]);
    }
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
  });
});

describe('float32ToFloat16', () => {
  it('round-trips every non-NaN half exactly and keeps every NaN a NaN', () => {
    for (let h = 0; h < 65536; h++) {
      const back = float32ToFloat16(float16ToFloat32(h));
      if (isHalfNaN(h)) expect(isHalfNaN(back)).toBe(true);
      else if (back !== h) expect(back.toString(16)).toBe(h.toString(16));
    }
  });

  it('matches nearest-value search at every rounding boundary: midpoints (ties to even) and their float32 neighbours', () => {
    const { values, infBits } = fmt;
    for (let k = 0; k < infBits; k++) {
      const mid = (values[k] + values[k + 1]) / 2;
      expect(Math.fround(mid)).toBe(mid); // every midpoint is a float32, so it really is a tie
      for (const x of [values[k], mid, nextUp32(mid), nextDown32(mid)]) {
        expectEncodes(x);
        expectEncodes(-x);
      }
    }
  });

  it('ties go to the even pattern, including into the subnormal and overflow ranges', () => {
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie between 0x3c00 (even) and 0x3c01
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between 0x3c01 and 0x3c02 (even)
    expect(float32ToFloat16(2 ** -25)).toBe(0x0000); // half of the smallest subnormal
    expect(float32ToFloat16(3 * 2 ** -25)).toBe(0x0002);
    expect(float32ToFloat16(-(2 ** -26))).toBe(0x8000);
    expect(float32ToFloat16(65519)).toBe(0x7bff);
    expect(float32ToFloat16(65520)).toBe(0x7c00); // tie between 65504 (odd pattern) and the overflow
    expect(float32ToFloat16(-1e30)).toBe(0xfc00);
    expect(float32ToFloat16(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16(-Infinity)).toBe(0xfc00);
  });

  it('keeps NaN a NaN, even when the payload sits only in the dropped low bits', () => {
    for (const bits of [0x7fc00000, 0x7f800001, 0xffffffff, 0x7f801000, 0xff800fff]) {
      expect(isHalfNaN(float32ToFloat16(float32FromBits(bits)))).toBe(true);
    }
  });

  it('matches nearest-value search on 300k random float32 bit patterns', () => {
    const next = mulberry32(0xf16);
    for (let i = 0; i < 300_000; i++) {
      const x = float32FromBits(next());
      if (Number.isNaN(x)) expect(isHalfNaN(float32ToFloat16(x))).toBe(true);
      else expectEncodes(x);
    }
  });

  it('samples the half range densely: random float32 values with exponents -26..16', () => {
    const next = mulberry32(7);
    for (let i = 0; i < 300_000; i++) {
      const exp = 127 - 26 + (next() % 43);
      const bits = ((next() & 1) << 31) | (exp << 23) | (next() & 0x7fffff);
      expectEncodes(float32FromBits(bits));
    }
  });
});

describe('array conversions', () => {
  it('agree with the scalar conversions and return dst', () => {
    const halves = new Uint16Array(65536).map((_, i) => i);
    const floats = new Float32Array(65536);
    expect(float16ArrayToFloat32(halves, floats)).toBe(floats);
    const back = new Uint16Array(65536);
    expect(float32ArrayToFloat16(floats, back)).toBe(back);
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) {
      if (!isHalfNaN(h) && (!Object.is(floats[h], float16ToFloat32(h)) || back[h] !== h)) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('throw InvalidArgumentError naming dst when dst is shorter than src, and write nothing', () => {
    const dst = new Float32Array(2).fill(7);
    expect(() => float16ArrayToFloat32(new Uint16Array(3), dst)).toThrow(InvalidArgumentError);
    expect(() => float16ArrayToFloat32(new Uint16Array(3), dst)).toThrow(/dst has 2 elements, needs src.length = 3/);
    expect(Array.from(dst)).toEqual([7, 7]);
    expect(() => float32ArrayToFloat16(new Float32Array(5), new Uint16Array(4))).toThrow(
      /dst has 4 elements, needs src.length = 5/,
    );
    expect(Array.from(float16ArrayToFloat32(new Uint16Array([0x3c00, 0xc000]), dst))).toEqual([1, -2]);
  });
});
