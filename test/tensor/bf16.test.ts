import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  bfloat16ArrayToFloat32,
  bfloat16ToFloat32,
  float32ArrayToBfloat16,
  float32ToBfloat16,
} from '../../src/tensor/index.js';
import {
  bfloatFormat,
  bitsOfFloat32,
  decodeBfloat,
  float32FromBits,
  mulberry32,
  nearestBits,
  nextDown32,
  nextUp32,
} from './float-oracle.js';

const fmt = bfloatFormat();
const isBfloatNaN = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;

function expectEncodes(x: number): void {
  const got = float32ToBfloat16(x);
  const want = nearestBits(x, fmt);
  if (got !== want) {
    expect({ input: bitsOfFloat32(x).toString(16), bf16: got.toString(16) }).toEqual({
      input: bitsOfFloat32(x).toString(16),
      bf16: want.toString(16),
    });
  }
}

describe('bfloat16ToFloat32', () => {
  it('decodes all 65536 patterns like the textbook formula', () => {
    const bad: number[] = [];
    for (let b = 0; b < 65536; b++) {
      const want = decodeBfloat(b);
      const got = bfloat16ToFloat32(b);
      if (Number.isNaN(want) ? !Number.isNaN(got) : !Object.is(got, want)) bad.push(b);
    }
    expect(bad).toEqual([]);
    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(bfloat16ToFloat32(0x0001)).toBe(2 ** -133);
  });
});

describe('float32ToBfloat16', () => {
  it('round-trips every non-NaN bfloat16 and keeps NaN a NaN', () => {
    const bad: number[] = [];
    for (let b = 0; b < 65536; b++) {
      const back = float32ToBfloat16(bfloat16ToFloat32(b));
      if (isBfloatNaN(b) ? !isBfloatNaN(back) : back !== b) bad.push(b);
    }
    expect(bad).toEqual([]);
  });

  it('matches nearest-value search at every midpoint (ties to even) and its float32 neighbours', () => {
    const { values, infBits } = fmt;
    for (let k = 0; k < infBits; k++) {
      const mid = (values[k] + values[k + 1]) / 2;
      for (const x of [values[k], mid, nextUp32(mid), nextDown32(mid)]) {
        expectEncodes(x);
        expectEncodes(-x);
      }
    }
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie, 0x3f80 is even
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16(float32FromBits(0x7f7f8000))).toBe(0x7f80); // tie at the top overflows
    expect(float32ToBfloat16(-Infinity)).toBe(0xff80);
  });

  it('keeps NaN a NaN, including payloads only in the dropped low 16 bits', () => {
    for (const bits of [0x7fc00000, 0x7f800001, 0xff80ffff, 0x7fffffff]) {
      expect(isBfloatNaN(float32ToBfloat16(float32FromBits(bits)))).toBe(true);
    }
    expect(float32ToBfloat16(float32FromBits(0xff800001)) & 0x8000).toBe(0x8000);
  });

  it('matches nearest-value search on 300k random float32 bit patterns', () => {
    const next = mulberry32(0xbf16);
    for (let i = 0; i < 300_000; i++) {
      const x = float32FromBits(next());
      if (Number.isNaN(x)) expect(isBfloatNaN(float32ToBfloat16(x))).toBe(true);
      else expectEncodes(x);
    }
  });
});

describe('bfloat16 array conversions', () => {
  it('agree with the scalar conversions', () => {
    const src = new Uint16Array(65536).map((_, i) => i);
    const floats = bfloat16ArrayToFloat32(src, new Float32Array(65536));
    const back = float32ArrayToBfloat16(floats, new Uint16Array(65536));
    const bad: number[] = [];
    for (let b = 0; b < 65536; b++) {
      if (isBfloatNaN(b)) continue;
      if (!Object.is(floats[b], bfloat16ToFloat32(b)) || back[b] !== b) bad.push(b);
    }
    expect(bad).toEqual([]);
  });

  it('throw InvalidArgumentError naming dst when it is too short, writing nothing', () => {
    const dst = new Uint16Array(1).fill(9);
    expect(() => float32ArrayToBfloat16(new Float32Array(2), dst)).toThrow(InvalidArgumentError);
    expect(() => float32ArrayToBfloat16(new Float32Array(2), dst)).toThrow(/dst has 1 elements, needs src.length = 2/);
    expect(dst[0]).toBe(9);
    expect(() => bfloat16ArrayToFloat32(new Uint16Array(3), new Float32Array(0))).toThrow(
      /dst has 0 elements, needs src.length = 3/,
    );
    expect(Array.from(float32ArrayToBfloat16(new Float32Array([1]), dst))).toEqual([0x3f80]);
  });
});
