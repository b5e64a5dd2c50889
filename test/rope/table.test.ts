import { all, create } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { RopeTable, type RopeTableArray, type RopeTableOptions } from '../../src/rope/index.js';
import { float16ToFloat32, type Encoding } from '../../src/tensor/index.js';
import { hfDefaultInvFreq, hfLlama3InvFreq, hfLongropeParameters, naiveTable } from './hf-rope.js';

const big = create(all, { number: 'BigNumber', precision: 40 });

const U16_UNIT: Encoding = { scale: 2 / 65535, offset: -32768 }; // [-1, 1] in uint16, as AIMET min-max gives
const U8_UNIT: Encoding = { scale: 2 / 255, offset: -128 };

const LLAMA3 = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } as const;
const PHI_DIM = 48;
const LONGROPE = {
  type: 'longrope',
  factor: 32,
  shortFactor: Array.from({ length: PHI_DIM }, (_, j) => 1 + 0.02 * j),
  longFactor: Array.from({ length: PHI_DIM }, (_, j) => 1 + 0.7 * j),
  originalMaxPositionEmbeddings: 4096,
} as const;

function floatsOf(table: RopeTable, which: 'cos' | 'sin'): (p: number, j: number) => number {
  const arr = table[which];
  const rd = table.ropeDim;
  return table.dtype === 'FLOAT_16' ? (p, j) => float16ToFloat32(arr[p * rd + j]) : (p, j) => arr[p * rd + j];
}

/** max |table - oracle| over the whole table, relative to tol(oracle). Returns the worst ratio. */
function worstRatio(table: RopeTable, which: 'cos' | 'sin', oracle: number[][], tol: (v: number) => number): number {
  const get = floatsOf(table, which);
  let worst = 0;
  for (let p = 0; p < oracle.length; p++) {
    for (let j = 0; j < oracle[p].length; j++) worst = Math.max(worst, Math.abs(get(p, j) - oracle[p][j]) / tol(oracle[p][j]));
  }
  return worst;
}

const F32_TOL = (v: number) => 2 ** -24 * Math.max(Math.abs(v), 2 ** -20) + 1e-12; // float32 rounding of a float64 value
const F16_TOL = (v: number) => 2 ** -11 * Math.abs(v) + 2 ** -25; // float16 rounding (normal and subnormal)

describe('RopeTable float tables', () => {
  it('FLOAT_32 default: cos/sin of p * inv_freq for every position (naive HF loop)', () => {
    const table = new RopeTable({ ropeDim: 64, theta: 1e6, contextLength: 4096, dtype: 'FLOAT_32' });
    const inv = hfDefaultInvFreq(128, 1e6);
    expect(table.cos).toBeInstanceOf(Float32Array);
    expect(table.cos.length).toBe(4096 * 64);
    expect(worstRatio(table, 'cos', naiveTable(4096, inv, Math.cos), F32_TOL)).toBeLessThanOrEqual(1.01);
    expect(worstRatio(table, 'sin', naiveTable(4096, inv, Math.sin), F32_TOL)).toBeLessThanOrEqual(1.01);
    expect(table.attentionFactor).toBe(1);
  });

  it('FLOAT_32 default agrees with 40-digit cos/sin at far positions', () => {
    const table = new RopeTable({ ropeDim: 64, theta: 10000, contextLength: 4096, dtype: 'FLOAT_32' });
    for (const p of [1, 2047, 4095]) {
      for (const j of [0, 1, 17, 63]) {
        const scope = { p: big.bignumber(p), j: big.bignumber(j), theta: big.bignumber(10000) };
        const c = big.number(big.evaluate('cos(p / theta ^ (j / 64))', scope)) as number;
        const s = big.number(big.evaluate('sin(p / theta ^ (j / 64))', scope)) as number;
        expect(Math.abs(table.cos[p * 64 + j] - c)).toBeLessThanOrEqual(F32_TOL(c) + 1e-12);
        expect(Math.abs(table.sin[p * 64 + j] - s)).toBeLessThanOrEqual(F32_TOL(s) + 1e-12);
      }
    }
  });

  it('FLOAT_32 linear: positions divided by the factor', () => {
    const table = new RopeTable({ ropeDim: 32, theta: 10000, contextLength: 2048, dtype: 'FLOAT_32', scaling: { type: 'linear', factor: 4 } });
    const oracle = naiveTable(2048, hfDefaultInvFreq(64, 10000), Math.cos, 1, (p) => p / 4);
    expect(worstRatio(table, 'cos', oracle, (v) => F32_TOL(v) + 1e-12)).toBeLessThanOrEqual(1.01);
  });

  it('FLOAT_32 llama3 (Llama 3.2 config) matches the HF llama3 frequencies', () => {
    const table = new RopeTable({ ropeDim: 32, theta: 500000, contextLength: 4096, dtype: 'FLOAT_32', scaling: LLAMA3 });
    const inv = hfLlama3InvFreq(64, 500000, LLAMA3);
    const tol = (v: number) => F32_TOL(v) + 1e-11; // HF evaluates the smoothing in a different order
    expect(worstRatio(table, 'cos', naiveTable(4096, inv, Math.cos), tol)).toBeLessThanOrEqual(1.01);
    expect(worstRatio(table, 'sin', naiveTable(4096, inv, Math.sin), tol)).toBeLessThanOrEqual(1.01);
  });

  for (const contextLength of [2048, 8192]) {
    it(`FLOAT_32 longrope at CL ${contextLength}: ${contextLength > 4096 ? 'long' : 'short'} factors and the attention factor`, () => {
      const table = new RopeTable({ ropeDim: PHI_DIM, theta: 10000, contextLength, dtype: 'FLOAT_32', scaling: LONGROPE });
      const hf = hfLongropeParameters(2 * PHI_DIM, 10000, contextLength, LONGROPE);
      expect(table.attentionFactor).toBeCloseTo(hf.attentionFactor, 15);
      const tol = (v: number) => F32_TOL(v) + 1e-11;
      expect(worstRatio(table, 'cos', naiveTable(contextLength, hf.invFreq, Math.cos, hf.attentionFactor), tol)).toBeLessThanOrEqual(1.01);
      expect(worstRatio(table, 'sin', naiveTable(contextLength, hf.invFreq, Math.sin, hf.attentionFactor), tol)).toBeLessThanOrEqual(1.01);
    });
  }

  it('FLOAT_16 holds float16 bits of the same values', () => {
    const table = new RopeTable({ ropeDim: 64, theta: 10000, contextLength: 1024, dtype: 'FLOAT_16' });
    expect(table.sin).toBeInstanceOf(Uint16Array);
    const inv = hfDefaultInvFreq(128, 10000);
    expect(worstRatio(table, 'cos', naiveTable(1024, inv, Math.cos), F16_TOL)).toBeLessThanOrEqual(1.01);
    expect(worstRatio(table, 'sin', naiveTable(1024, inv, Math.sin), F16_TOL)).toBeLessThanOrEqual(1.01);
    expect(table.cos[0]).toBe(0x3c00); // cos(0) = 1
  });
});

describe('RopeTable quantized tables (Genie truncation)', () => {
  /** Genie: q = (uint)(value * attn / scale - offset), clamped; compared where float64 noise cannot decide. */
  function expectTruncated(table: RopeTable, which: 'cos' | 'sin', oracle: number[][], enc: Encoding, max: number): void {
    const arr = table[which];
    const rd = table.ropeDim;
    let truncDiffersFromRound = 0;
    let undecidable = 0;
    const bad: string[] = [];
    for (let p = 0; p < oracle.length; p++) {
      for (let j = 0; j < rd; j++) {
        const x = oracle[p][j] / enc.scale - enc.offset;
        const want = Math.min(max, Math.max(0, Math.trunc(x)));
        if (want !== Math.min(max, Math.max(0, Math.round(x)))) truncDiffersFromRound++;
        const nearInteger = Math.abs(x - Math.round(x)) < 1e-6;
        if (nearInteger && x !== Math.round(x)) undecidable++;
        const got = arr[p * rd + j];
        if (nearInteger ? Math.abs(got - want) > 1 : got !== want) bad.push(`p=${p} j=${j}: ${got} vs ${want} (x=${x})`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(truncDiffersFromRound).toBeGreaterThan(oracle.length * rd * 0.1); // truncation really applies (about half where nothing clamps)
    expect(undecidable).toBeLessThan(oracle.length * rd * 1e-4 + 2);
  }

  it('UFIXED_POINT_16 default: trunc(value/scale - offset)', () => {
    const table = new RopeTable({ ropeDim: 64, theta: 1e6, contextLength: 2048, dtype: 'UFIXED_POINT_16', cosEncoding: U16_UNIT, sinEncoding: U16_UNIT });
    expect(table.cos).toBeInstanceOf(Uint16Array);
    const inv = hfDefaultInvFreq(128, 1e6);
    expectTruncated(table, 'cos', naiveTable(2048, inv, Math.cos), U16_UNIT, 65535);
    expectTruncated(table, 'sin', naiveTable(2048, inv, Math.sin), U16_UNIT, 65535);
  });

  it('UFIXED_POINT_16 llama3 with distinct cos and sin encodings', () => {
    const sinEnc: Encoding = { scale: 2.2e-5, offset: -30000 };
    const table = new RopeTable({ ropeDim: 32, theta: 500000, contextLength: 2048, dtype: 'UFIXED_POINT_16', cosEncoding: U16_UNIT, sinEncoding: sinEnc, scaling: LLAMA3 });
    const inv = hfLlama3InvFreq(64, 500000, LLAMA3);
    expectTruncated(table, 'cos', naiveTable(2048, inv, Math.cos), U16_UNIT, 65535);
    expectTruncated(table, 'sin', naiveTable(2048, inv, Math.sin), sinEnc, 65535);
  });

  it('UFIXED_POINT_8 longrope: attention factor applied before quantizing, values past the range clamp', () => {
    const table = new RopeTable({ ropeDim: PHI_DIM, theta: 10000, contextLength: 8192, dtype: 'UFIXED_POINT_8', cosEncoding: U8_UNIT, sinEncoding: U8_UNIT, scaling: LONGROPE });
    expect(table.cos).toBeInstanceOf(Uint8Array);
    const hf = hfLongropeParameters(2 * PHI_DIM, 10000, 8192, LONGROPE);
    expect(hf.attentionFactor).toBeGreaterThan(1.1);
    expectTruncated(table, 'cos', naiveTable(8192, hf.invFreq, Math.cos, hf.attentionFactor), U8_UNIT, 255);
    expectTruncated(table, 'sin', naiveTable(8192, hf.invFreq, Math.sin, hf.attentionFactor), U8_UNIT, 255);
    expect(table.cos[0]).toBe(255); // cos(0) * 1.2 > 1 clamps
    expect(table.sin[0]).toBe(128); // sin(0) = 0 -> -offset
  });
});

describe('RopeTable.gather / gatherRange', () => {
  const RD = 8;
  const CL = 64;
  const table = new RopeTable({ ropeDim: RD, theta: 10000, contextLength: CL, dtype: 'UFIXED_POINT_16', cosEncoding: U16_UNIT, sinEncoding: U16_UNIT });
  const SENTINEL = 0xabcd;

  function row(arr: RopeTableArray, r: number): number[] {
    return Array.from(arr.subarray(r * RD, (r + 1) * RD));
  }
  function buffers(nRows: number, extra = 3): [Uint16Array, Uint16Array] {
    return [new Uint16Array(nRows * RD + extra).fill(SENTINEL), new Uint16Array(nRows * RD + extra).fill(SENTINEL)];
  }

  it('writes rows by position, pads rows [count, nRows) with position 0 and leaves the rest untouched', () => {
    const positions = Int32Array.from([5, 63, 0, 17, 17]);
    const [cos, sin] = buffers(8);
    table.gather(positions, 5, 8, cos, sin);
    for (let i = 0; i < 8; i++) {
      const p = i < 5 ? positions[i] : 0;
      expect(row(cos, i)).toEqual(row(table.cos, p));
      expect(row(sin, i)).toEqual(row(table.sin, p));
    }
    expect(Array.from(cos.subarray(8 * RD))).toEqual([SENTINEL, SENTINEL, SENTINEL]);
    expect(Array.from(sin.subarray(8 * RD))).toEqual([SENTINEL, SENTINEL, SENTINEL]);
  });

  it('accepts plain number arrays and reads only the first count positions', () => {
    const [cos, sin] = buffers(2, 0);
    table.gather([9, 4, 1000], 2, 2, cos, sin);
    expect(row(cos, 0)).toEqual(row(table.cos, 9));
    expect(row(sin, 1)).toEqual(row(table.sin, 4));
  });

  it('count 0 pads every row with position 0', () => {
    const [cos, sin] = buffers(3, 0);
    table.gather([], 0, 3, cos, sin);
    for (let i = 0; i < 3; i++) expect(row(sin, i)).toEqual(row(table.sin, 0));
  });

  it('gatherRange equals gather over consecutive positions, including the last rows of the table', () => {
    for (const [start, count, nRows] of [[0, 1, 1], [10, 3, 4], [CL - 5, 5, 8], [40, 0, 2]]) {
      const [c1, s1] = buffers(nRows);
      const [c2, s2] = buffers(nRows);
      table.gatherRange(start, count, nRows, c1, s1);
      table.gather(Array.from({ length: count }, (_, i) => start + i), count, nRows, c2, s2);
      expect(Array.from(c1)).toEqual(Array.from(c2));
      expect(Array.from(s1)).toEqual(Array.from(s2));
    }
  });

  it('rows past the table are computed with the table formula: they equal the rows of a table twice as long', () => {
    const long = new RopeTable({ ropeDim: RD, theta: 10000, contextLength: 2 * CL, dtype: 'UFIXED_POINT_16', cosEncoding: U16_UNIT, sinEncoding: U16_UNIT });
    const positions = [3, CL, CL + 17, 2 * CL - 1, CL - 1];
    const [c1, s1] = buffers(6);
    table.gather(positions, 5, 6, c1, s1);
    for (let i = 0; i < 5; i++) {
      expect(row(c1, i)).toEqual(row(long.cos, positions[i]));
      expect(row(s1, i)).toEqual(row(long.sin, positions[i]));
    }
    const [c2, s2] = buffers(8);
    table.gatherRange(CL - 3, 7, 8, c2, s2);
    for (let i = 0; i < 7; i++) expect(row(c2, i)).toEqual(row(long.cos, CL - 3 + i));
    expect(row(s2, 7)).toEqual(row(long.sin, 0));
    for (const dtype of ['FLOAT_32', 'FLOAT_16'] as const) {
      const short = new RopeTable({ ropeDim: RD, theta: 10000, contextLength: CL, dtype });
      const twice = new RopeTable({ ropeDim: RD, theta: 10000, contextLength: 2 * CL, dtype });
      const cos = dtype === 'FLOAT_32' ? new Float32Array(2 * RD) : new Uint16Array(2 * RD);
      const sin = dtype === 'FLOAT_32' ? new Float32Array(2 * RD) : new Uint16Array(2 * RD);
      short.gatherRange(CL + 40, 2, 2, cos, sin);
      expect(Array.from(cos)).toEqual(Array.from(twice.cos.subarray((CL + 40) * RD, (CL + 42) * RD)));
      expect(Array.from(sin)).toEqual(Array.from(twice.sin.subarray((CL + 40) * RD, (CL + 42) * RD)));
    }
  });

  describe('bad input: InvalidArgumentError naming the value; nothing written; table still usable', () => {
    const cases: Array<[string, (cos: Uint16Array, sin: Uint16Array) => void, RegExp]> = [
      ['position = 2^31', (c, s) => table.gather([1, 2, 2 ** 31], 3, 4, c, s), /row 2: position 2147483648 is outside \[0, 2\^31\) or not an integer/],
      ['negative position', (c, s) => table.gather(Int32Array.from([-1]), 1, 4, c, s), /row 0: position -1 is outside \[0, 2\^31\)/],
      ['fractional position', (c, s) => table.gather([0, 1.5], 2, 4, c, s), /row 1: position 1.5 is outside \[0, 2\^31\) or not an integer/],
      ['NaN position', (c, s) => table.gather([NaN], 1, 4, c, s), /row 0: position NaN/],
      ['count > nRows', (c, s) => table.gather([1, 2, 3, 4, 5], 5, 4, c, s), /count must be an integer in \[0, nRows = 4\], got 5/],
      ['count > positions.length', (c, s) => table.gather([1], 2, 4, c, s), /count 2 exceeds positions.length 1/],
      ['negative nRows', (c, s) => table.gather([], 0, -1, c, s), /nRows must be a non-negative integer, got -1/],
      ['wrong dst class', (_c, s) => table.gather([1], 1, 4, new Float32Array(32) as unknown as Uint16Array, s), /cosDst must be a Uint16Array for UFIXED_POINT_16, got Float32Array/],
      ['short sinDst', (c) => table.gather([1], 1, 4, c, new Uint16Array(31)), /sinDst has 31 elements, needs nRows \* ropeDim = 4 \* 8 = 32/],
      ['range past 2^31', (c, s) => table.gatherRange(2 ** 31 - 2, 3, 4, c, s), /row 2: position 2147483648 is outside \[0, 2\^31\)/],
      ['range start past 2^31', (c, s) => table.gatherRange(2 ** 31 + 5, 1, 4, c, s), /row 0: position 2147483653 is outside \[0, 2\^31\)/],
      ['range negative start', (c, s) => table.gatherRange(-1, 1, 4, c, s), /start must be a non-negative integer, got -1/],
      ['range count > nRows', (c, s) => table.gatherRange(0, 5, 4, c, s), /count must be an integer in \[0, nRows = 4\], got 5/],
    ];
    for (const [name, call, message] of cases) {
      it(name, () => {
        const [cos, sin] = buffers(4);
        expect(() => call(cos, sin)).toThrow(InvalidArgumentError);
        expect(() => call(cos, sin)).toThrow(message);
        expect(cos.every((v) => v === SENTINEL) && sin.every((v) => v === SENTINEL)).toBe(true);
        table.gather([3], 1, 4, cos, sin);
        expect(row(cos, 0)).toEqual(row(table.cos, 3));
      });
    }
  });
});

describe('RopeTable constructor bad input', () => {
  const base: RopeTableOptions = { ropeDim: 8, theta: 10000, contextLength: 16, dtype: 'UFIXED_POINT_16', cosEncoding: U16_UNIT, sinEncoding: U16_UNIT };
  const cases: Array<[string, RopeTableOptions, RegExp]> = [
    ['unsupported dtype', { ...base, dtype: 'INT_32' as never }, /dtype must be one of FLOAT_32, FLOAT_16, UFIXED_POINT_8, UFIXED_POINT_16, got INT_32/],
    ['missing cosEncoding', { ...base, cosEncoding: undefined }, /cosEncoding is required for dtype UFIXED_POINT_16/],
    ['bad sinEncoding scale', { ...base, sinEncoding: { scale: 0, offset: 0 } }, /sinEncoding.scale must be a finite number > 0, got 0/],
    ['bad cosEncoding offset', { ...base, cosEncoding: { scale: 1e-4, offset: 0.5 } }, /cosEncoding.offset must be an int32 integer, got 0.5/],
    ['encoding for a float table', { ...base, dtype: 'FLOAT_32', sinEncoding: undefined }, /cosEncoding must be absent for dtype FLOAT_32/],
    ['bad ropeDim', { ...base, ropeDim: 0 }, /ropeDim must be a positive integer, got 0/],
    ['bad theta', { ...base, theta: -5 }, /theta must be a finite number > 0, got -5/],
    ['bad scaling', { ...base, scaling: { type: 'linear', factor: -2 } }, /scaling.factor must be a finite number > 0, got -2/],
  ];
  for (const [name, options, message] of cases) {
    it(`${name}: InvalidArgumentError naming the key and value`, () => {
      expect(() => new RopeTable(options)).toThrow(InvalidArgumentError);
      expect(() => new RopeTable(options)).toThrow(message);
    });
  }
});
