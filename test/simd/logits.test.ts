/**
 * The SIMD passes over a logits row against scalar loops written here: the argmax (first index of the
 * largest element), the top-k set (a full sort: larger first, lower id on ties) and, for the order the
 * sampler's sums depend on, selectTopK's heap order. Rows: random, few distinct values (ties), all
 * equal, the best at the first or last index, ascending and descending (every token enters the heap),
 * lengths around the kernels' 8/16/32-element blocks, NaN and infinities for float32, the memory
 * growing between calls; the dequantization of codes against the formula in float64 rounded once; and
 * the code histogram against a counting loop, and its top-p cut against one exponential per code and
 * cumulative sums token by token.
 */
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { selectTopK } from '../../src/sampler/rank.js';
import {
  argmaxCodes16Simd, argmaxFloat32Simd, countCodes16Simd, cutCodesSimd, dequantizeCodes16Simd, maxCodes16Simd, topKCodes16Simd,
  topKFloat32Simd,
} from '../../src/simd/logits.js';

/** First index of the largest element, by a plain loop (`>` keeps the first of equals; NaN never wins). */
function scalarArgmax(row: ArrayLike<number>): number {
  let top = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[top]) top = i;
  return top;
}

/** The k best ids by a full sort (value descending, id ascending), as a sorted id list. */
function sortedTopK(row: ArrayLike<number>, k: number): number[] {
  const ids = Array.from({ length: row.length }, (_, i) => i);
  ids.sort((a, b) => (row[b] > row[a] ? 1 : row[b] < row[a] ? -1 : a - b));
  return ids.slice(0, k).sort((a, b) => a - b);
}

const LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4097];

type Shape = (n: number, rng: () => number) => number[];
const SHAPES: Record<string, Shape> = {
  random: (n, rng) => Array.from({ length: n }, () => Math.floor(rng() * 65536)),
  'few values (ties)': (n, rng) => Array.from({ length: n }, () => 1000 + Math.floor(rng() * 4)),
  'all equal': (n) => new Array<number>(n).fill(777),
  'all zero': (n) => new Array<number>(n).fill(0),
  'best first': (n, rng) => Array.from({ length: n }, (_, i) => (i === 0 ? 65535 : Math.floor(rng() * 60000))),
  'best last': (n, rng) => Array.from({ length: n }, (_, i) => (i === n - 1 ? 65535 : Math.floor(rng() * 60000))),
  ascending: (n) => Array.from({ length: n }, (_, i) => i % 65536),
  descending: (n) => Array.from({ length: n }, (_, i) => 65535 - (i % 65536)),
};

function ks(n: number): number[] {
  return [...new Set([1, 2, 3, 40, n - 1, n].filter((k) => k >= 1 && k <= n))];
}

describe('uint16 codes', () => {
  const rng = seedrandom('simd-logits-u16');
  for (const [shape, make] of Object.entries(SHAPES)) {
    it(`${shape}: argmax, max and top-k equal the scalar loops for every length and k`, () => {
      for (const n of LENGTHS) {
        const row = Uint16Array.from(make(n, rng));
        expect(argmaxCodes16Simd(row)).toBe(scalarArgmax(row));
        expect(maxCodes16Simd(row)).toBe(row[scalarArgmax(row)]);
        for (const k of ks(n)) {
          const out = new Int32Array(k);
          topKCodes16Simd(row, k, out);
          expect(Array.from(out).sort((a, b) => a - b)).toEqual(sortedTopK(row, k));
          const heap = new Int32Array(k);
          selectTopK(row, 0, n, k, heap);
          expect(Array.from(out)).toEqual(Array.from(heap));
        }
      }
    });
  }

  it('reads a row at any offset of its buffer (a subarray) and leaves out past k alone', () => {
    const buffer = Uint16Array.from({ length: 3 * 1000 }, (_, i) => (i * 7919) % 65521);
    const row = buffer.subarray(1000, 2000);
    const out = new Int32Array(50).fill(-7);
    topKCodes16Simd(row, 40, out);
    expect(Array.from(out.subarray(0, 40)).sort((a, b) => a - b)).toEqual(sortedTopK(row, 40));
    expect(Array.from(out.subarray(40))).toEqual(new Array(10).fill(-7));
    expect(argmaxCodes16Simd(row)).toBe(scalarArgmax(row));
  });

  it('follows its memory as it grows between calls (a small row, a large one, a small one again)', () => {
    const small = Uint16Array.from([3, 9, 9, 1]);
    expect(argmaxCodes16Simd(small)).toBe(1);
    const large = Uint16Array.from({ length: 600_000 }, (_, i) => (i * 31) % 65000);
    large[599_999] = 65535;
    expect(argmaxCodes16Simd(large)).toBe(599_999);
    const out = new Int32Array(5);
    topKCodes16Simd(large, 5, out);
    expect(Array.from(out).sort((a, b) => a - b)).toEqual(sortedTopK(large, 5));
    expect(argmaxCodes16Simd(small)).toBe(1);
    // Stale codes of the large row past the small one's end must not count.
    expect(maxCodes16Simd(small)).toBe(9);
  });
});

describe('float32 values', () => {
  const rng = seedrandom('simd-logits-f32');
  for (const [shape, make] of Object.entries(SHAPES)) {
    it(`${shape}: argmax and top-k equal the scalar loops for every length and k`, () => {
      for (const n of LENGTHS) {
        const row = Float32Array.from(make(n, rng), (c) => c / 64 - 500);
        expect(argmaxFloat32Simd(row)).toBe(scalarArgmax(row));
        for (const k of ks(n)) {
          const out = new Int32Array(k);
          expect(topKFloat32Simd(row, k, out)).toBe(-1);
          expect(Array.from(out).sort((a, b) => a - b)).toEqual(sortedTopK(row, k));
          const heap = new Int32Array(k);
          selectTopK(row, 0, n, k, heap);
          expect(Array.from(out)).toEqual(Array.from(heap));
        }
      }
    });
  }

  it('treats -0 and +0 as equal (lowest id first), and ranks the infinities', () => {
    const row = Float32Array.from([-1, -0, 0, -0, -Infinity, -2]);
    expect(argmaxFloat32Simd(row)).toBe(1);
    const out = new Int32Array(3);
    topKFloat32Simd(row, 3, out);
    expect(Array.from(out).sort()).toEqual([1, 2, 3]);
    const inf = new Float32Array(100).fill(-Infinity);
    inf[70] = Infinity;
    inf[90] = Infinity;
    expect(argmaxFloat32Simd(inf)).toBe(70);
    expect(argmaxFloat32Simd(new Float32Array(50).fill(-Infinity))).toBe(0);
  });

  it('reports the first NaN as ~index, wherever it is (among the first k, the head, a block, the tail)', () => {
    for (const n of [5, 17, 40, 1000, 1003]) {
      for (const at of [0, 2, 3, 15, 16, 39, 40, 41, 500, n - 1]) {
        if (at >= n) continue;
        const row = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 10);
        row[at] = NaN;
        if (at + 7 < n) row[at + 7] = NaN;
        expect(argmaxFloat32Simd(row)).toBe(~at);
        for (const k of [1, 3, Math.min(40, n)]) expect(topKFloat32Simd(row, k, new Int32Array(k))).toBe(~at);
      }
    }
    // A NaN after a block that holds greater values: the values before it are offered first.
    const row = new Float32Array(64).fill(1);
    row[33] = 5;
    row[35] = NaN;
    expect(argmaxFloat32Simd(row)).toBe(~35);
  });
});

describe('uint16 codes dequantized', () => {
  const encodings = [
    { scale: 0.0007, offset: -30_000 },
    { scale: 1.52587890625e-5, offset: -32_768 },
    { scale: 0.1, offset: 0 },
    { scale: 3, offset: 12.5 },
    { scale: 1e-30, offset: -1e9 },
  ];
  it.each(encodings)('every code equals fround((q + offset) * scale) (scale $scale, offset $offset); the argmax comes back', (encoding) => {
    const row = Uint16Array.from({ length: 65536 }, (_, q) => (q * 40503) & 0xffff);
    const dst = new Float32Array(65536);
    expect(dequantizeCodes16Simd(row, encoding, dst)).toBe(scalarArgmax(row));
    const expected = Array.from(row, (q) => Math.fround((q + encoding.offset) * encoding.scale));
    expect(Array.from(dst)).toEqual(expected);
  });

  it('writes only dst[0, n) for lengths around the blocks, one after another (the output view follows n and growth)', () => {
    const rng = seedrandom('simd-dequantize');
    const encoding = { scale: 0.01, offset: -500 };
    for (const n of [...LENGTHS, 300_000, 3, 70_000]) {
      const row = Uint16Array.from({ length: n }, () => Math.floor(rng() * 65536));
      const dst = new Float32Array(n + 5).fill(-7);
      expect(dequantizeCodes16Simd(row, encoding, dst)).toBe(scalarArgmax(row));
      expect(Array.from(dst.subarray(0, n))).toEqual(Array.from(row, (q) => Math.fround((q + encoding.offset) * encoding.scale)));
      expect(Array.from(dst.subarray(n))).toEqual([-7, -7, -7, -7, -7]);
    }
  });
});

describe('uint16 code histogram', () => {
  /** The histogram of the codes >= floor, the ids of the codes >= nearFrom and how many were counted, by a plain loop. */
  function scalarCount(row: ArrayLike<number>, floor: number, nearFrom: number): { counts: Int32Array; near: number[]; counted: number } {
    const counts = new Int32Array(65536);
    const near: number[] = [];
    let counted = 0;
    for (let i = 0; i < row.length; i++) {
      if (row[i] >= floor) {
        counts[row[i]]++;
        counted++;
      }
      if (row[i] >= nearFrom) near.push(i);
    }
    return { counts, near, counted };
  }

  /** The first code whose count differs, or -1 (a 65536-entry toEqual per case would take minutes). */
  function firstDifference(a: Int32Array, b: Int32Array): number {
    for (let c = 0; c < 65536; c++) if (a[c] !== b[c]) return c;
    return -1;
  }

  const rng = seedrandom('simd-histogram');
  for (const [shape, make] of Object.entries(SHAPES)) {
    it(`${shape}: counts, near ids and totals equal the counting loop for every length, floor and near bound`, () => {
      for (const n of LENGTHS) {
        const row = Uint16Array.from(make(n, rng));
        const top = row[scalarArgmax(row)];
        for (const floor of [0, Math.max(0, top - 40_000), Math.max(0, top - 3), top, top + 1]) {
          for (const nearFrom of [0, Math.max(0, top - 2), top]) {
            const expected = scalarCount(row, floor, nearFrom);
            // Leftovers of an earlier call must not survive: the histogram overwrites the whole table.
            const counts = new Int32Array(65536).fill(3);
            const near = new Int32Array(n + 2).fill(-1);
            const out = new Int32Array(3);
            countCodes16Simd(row, 0, n, counts, floor, nearFrom, near, out);
            expect(firstDifference(counts, expected.counts)).toBe(-1);
            expect(Array.from(near.subarray(0, expected.near.length))).toEqual(expected.near);
            expect(out[1]).toBe(expected.near.length);
            expect(out[2]).toBe(expected.counted);
          }
        }
      }
    });
  }

  it('reads a row at an offset of its buffer, keeps at most near.length ids (counting them all), and follows growth', () => {
    const buffer = Uint16Array.from({ length: 3 * 5000 }, (_, i) => (i * 7919) % 65521);
    const counts = new Int32Array(65536);
    const near = new Int32Array(4);
    const out = new Int32Array(3);
    for (const from of [0, 5000, 10_000, 5000]) {
      const row = buffer.subarray(from, from + 5000);
      const expected = scalarCount(row, 20_000, 60_000);
      countCodes16Simd(buffer, from, 5000, counts, 20_000, 60_000, near, out);
      expect(firstDifference(counts, expected.counts)).toBe(-1);
      expect(Array.from(near)).toEqual(expected.near.slice(0, 4));
      expect(out[1]).toBe(expected.near.length);
      expect(out[2]).toBe(expected.counted);
      // A larger row grows the kernel's memory between the calls.
      argmaxCodes16Simd(new Uint16Array(400_000 + from));
    }
  });
});

describe('top-p cut of a code histogram', () => {
  /**
   * The cut by definition: each code weighs exp(-(vmax - v) / t) with v its value rounded to float32
   * (one Math.exp each), the total over every token, then tokens in sampling order (larger code first)
   * one at a time until the cumulative weight reaches `fraction` of it.
   */
  function scalarCut(counts: Int32Array, max: number, encoding: { scale: number; offset: number }, t: number, fraction: number): [number, number] {
    const value = (c: number) => Math.fround((c + encoding.offset) * encoding.scale);
    const weight = (c: number) => Math.exp(-(value(max) - value(c)) / t);
    let total = 0;
    for (let c = max; c >= 0; c--) total += counts[c] * weight(c);
    let cumulative = 0;
    for (let c = max; c >= 0; c--) {
      for (let m = 1; m <= counts[c]; m++) {
        cumulative += weight(c);
        if (cumulative >= fraction * total) return [c, m];
      }
    }
    return [-1, 0];
  }

  it('the cut code and its ties equal the definition for peaked, flat and tied histograms at several temperatures', () => {
    const rng = seedrandom('simd-cut');
    const counts = new Int32Array(65536);
    const hi = new Float64Array(256);
    const lo = new Float64Array(256);
    const out = new Int32Array(2);
    const encodings = [{ scale: 0.0007, offset: -30_000 }, { scale: 0.002, offset: -32_768 }, { scale: 1.52587890625e-5 * 64, offset: -20_000 }];
    for (let trial = 0; trial < 60; trial++) {
      const encoding = encodings[trial % 3];
      const t = [0.1, 0.7, 1, 2.5][trial % 4];
      const fraction = [0.05, 0.5, 0.8, 0.95, 0.999][trial % 5];
      const spread = [0.3, 2.5, 6][Math.floor(rng() * 3)];
      counts.fill(0);
      let max = 0;
      for (let i = 0; i < 20_000; i++) {
        const x = spread * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng()) + (rng() < 0.001 ? 10 : 0);
        const c = Math.min(65535, Math.max(0, Math.round(x / encoding.scale - encoding.offset)));
        counts[c] += trial % 7 === 0 ? 50 : 1; // runs of equal codes: the ties
        max = Math.max(max, c);
      }
      const counted = counts.reduce((a, b) => a + b, 0);
      // The lowest code present, as the floor: a narrow histogram goes in by the loop over its codes.
      const floor = counts.findIndex((k) => k > 0);
      const step = encoding.scale / t;
      for (let i = 0; i < 256; i++) {
        lo[i] = Math.exp(-i * step);
        hi[i] = Math.exp(-i * 256 * step);
      }
      const x = (max + encoding.offset) * encoding.scale;
      cutCodesSimd(counts, floor, max, counted, 0, { ...encoding, rmax: Math.fround(x) - x, temperature: t, fraction }, hi, lo, out);
      expect(Array.from(out)).toEqual(scalarCut(counts, max, encoding, t, fraction));
    }
  });
});
