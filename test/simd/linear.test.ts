/**
 * The SIMD matrix product (src/simd/linear.ts) against two oracles written here: a float64 sum (within
 * the error bound of float32 summation) and a scalar emulation of the order linear.wat documents
 * (four float32 lanes over i mod 4, (l0 + l1) + (l2 + l3), the left-over products, then the bias), bit
 * for bit: that order is what makes results independent of tiles and threads. Shapes cover rows
 * 1..130 and dimensions that are not multiples of 4 or 16; in place and staged (tile by tile) agree.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { LinearMemory, linear } from '../../src/simd/linear.js';
import { seededValues as values } from './seeded.js';

interface Product {
  readonly x: Float32Array;
  readonly rows: number;
  readonly inDim: number;
  readonly weight: Float32Array;
  readonly bias: Float32Array | null;
  readonly outDim: number;
}

function product(rows: number, inDim: number, outDim: number, withBias: boolean): Product {
  const seed = rows * 7919 + inDim * 31 + outDim;
  return { x: values(rows * inDim, seed), rows, inDim, weight: values(outDim * inDim, seed + 1), bias: withBias ? values(outDim, seed + 2) : null, outDim };
}

/** The documented float32 order, one scalar operation at a time (Math.fround after each). */
function emulated({ x, rows, inDim, weight, bias, outDim }: Product): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(rows * outDim);
  const body = inDim - (inDim % 4);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      const lanes = [0, 0, 0, 0];
      for (let i = 0; i < body; i++) lanes[i % 4] = f(lanes[i % 4] + f(weight[o * inDim + i] * x[r * inDim + i]));
      let s = f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
      for (let i = body; i < inDim; i++) s = f(s + f(weight[o * inDim + i] * x[r * inDim + i]));
      out[r * outDim + o] = bias === null ? s : f(bias[o] + s);
    }
  }
  return out;
}

/**
 * Checks `out` against the float64 sum: float32 summation of n terms errs by at most about n * 2^-24
 * times the sum of the terms' magnitudes (n additions and the products' roundings), plus the output's rounding.
 */
function expectNearFloat64(out: Float32Array, { x, rows, inDim, weight, bias, outDim }: Product): void {
  const n = inDim / 4 + 8;
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let sum = bias === null ? 0 : bias[o];
      let magnitude = Math.abs(sum);
      for (let i = 0; i < inDim; i++) {
        const term = weight[o * inDim + i] * x[r * inDim + i];
        sum += term;
        magnitude += Math.abs(term);
      }
      const got = out[r * outDim + o];
      const bound = n * 2 ** -24 * magnitude + 2 ** -24 * Math.abs(sum);
      if (!(Math.abs(got - sum) <= bound)) expect.fail(`out[${r}, ${o}] = ${got}, float64 sum ${sum}, bound ${bound}`);
    }
  }
}

/** The product in place in `memory`, outputs [oStart, oEnd) only, the others left NaN. */
function inPlace(memory: LinearMemory, p: Product, oStart = 0, oEnd = p.outDim): Float32Array {
  const put = (a: Float32Array): Float32Array => {
    const copy = memory.allocate(a.length)!;
    copy.set(a);
    return copy;
  };
  const out = memory.allocate(p.rows * p.outDim)!.fill(Number.NaN);
  memory.linearRange(put(p.x), p.rows, p.inDim, put(p.weight), p.bias === null ? null : put(p.bias), p.outDim, out, oStart, oEnd);
  return out.slice();
}

describe('SIMD linear', () => {
  // Rows around the 4-row tiles and 16-row blocks; dimensions off the 4-lane and 16-row grids.
  const shapes: Array<[rows: number, inDim: number, outDim: number]> = [
    [1, 1, 1], [1, 7, 5], [1, 896, 37], [2, 3, 3], [3, 9, 4], [4, 8, 4], [4, 13, 7], [5, 16, 9], [15, 33, 10],
    [16, 64, 17], [17, 5, 6], [37, 64, 18], [64, 130, 3], [127, 31, 21], [129, 40, 6], [130, 67, 13],
  ];
  for (const [rows, inDim, outDim] of shapes) {
    for (const withBias of [false, true]) {
      it(`rows ${rows}, in ${inDim}, out ${outDim}${withBias ? ', bias' : ''}: the documented float32 order bit for bit, the float64 sum within float32 summation error`, () => {
        const p = product(rows, inDim, outDim, withBias);
        const out = new Float32Array(rows * outDim).fill(Number.NaN);
        linear(p.x, rows, inDim, p.weight, p.bias, outDim, out);
        expect(Array.from(out)).toEqual(Array.from(emulated(p)));
        expectNearFloat64(out, p);
      });
    }
  }

  it('every row count 1..130 gives each row the result it has alone (tiles and blocks do not change a sum)', () => {
    const all = product(130, 23, 9, true);
    for (let rows = 1; rows <= 130; rows++) {
      const out = new Float32Array(rows * 9);
      linear(all.x, rows, 23, all.weight, all.bias, 9, out);
      for (const r of [0, rows >> 1, rows - 1]) {
        const alone = new Float32Array(9);
        linear(all.x.subarray(r * 23, (r + 1) * 23), 1, 23, all.weight, all.bias, 9, alone);
        expect(Array.from(out.subarray(r * 9, (r + 1) * 9))).toEqual(Array.from(alone));
      }
    }
  });

  it('in place in a LinearMemory equals staged, and a range writes only its outputs', () => {
    const memory = new LinearMemory();
    const p = product(6, 301, 1001, true);
    const staged = new Float32Array(6 * 1001);
    linear(p.x, 6, 301, p.weight, p.bias, 1001, staged);
    expect(Array.from(inPlace(memory, p))).toEqual(Array.from(staged));
    // Any split of the outputs gives the same values: [0, 333) and [333, 1001).
    const first = inPlace(memory, p, 0, 333);
    const second = inPlace(memory, p, 333, 1001);
    for (let r = 0; r < 6; r++) {
      for (let o = 0; o < 1001; o++) {
        const [mine, other] = o < 333 ? [first, second] : [second, first];
        expect(mine[r * 1001 + o]).toBe(staged[r * 1001 + o]);
        expect(other[r * 1001 + o]).toBeNaN();
      }
    }
  });

  it('staged with weights wider than one staging tile (tiles of 4 weight rows, a last tile of 2)', () => {
    // 70000 inputs: 1 MiB holds fewer than 4 weight rows, so tiles are 4 rows; 10 outputs: 4 + 4 + 2.
    const p = product(2, 70_000, 10, true);
    const out = new Float32Array(2 * 10);
    linear(p.x, 2, 70_000, p.weight, p.bias, 10, out);
    expect(Array.from(out)).toEqual(Array.from(emulated(p)));
  });

  it('reads only the first rows x inDim inputs of a longer x, and grows its memory past earlier views', () => {
    const memory = new LinearMemory();
    const early = memory.allocate(4)!.fill(2);
    const p = product(3, 100, 50, false);
    // Several MiB more: the memory grows, and the early view still reads and writes the same bytes.
    const big = memory.allocate(3 << 20)!;
    expect(memory.holds(early) && memory.holds(big)).toBe(true);
    expect(Array.from(early)).toEqual([2, 2, 2, 2]);
    const longer = new Float32Array(p.x.length + 17).fill(1e30);
    longer.set(p.x);
    const out = new Float32Array(3 * 50);
    linear(longer, 3, 100, p.weight, null, 50, out);
    expect(Array.from(out)).toEqual(Array.from(emulated(p)));
  });

  it('rejects operands too short for the shape, output ranges outside [0, outDim) and arrays outside its memory', () => {
    const memory = new LinearMemory();
    const x = memory.allocate(2 * 8)!;
    const weight = memory.allocate(3 * 8)!;
    const out = memory.allocate(2 * 3)!;
    expect(() => linear(new Float32Array(15), 2, 8, weight, null, 3, out)).toThrow(new InvalidArgumentError('linear 2x8 by 3x8: x holds 15 values, needs 16'));
    expect(() => linear(x, 2, 8, weight.subarray(1), null, 3, out)).toThrow(new InvalidArgumentError('linear 2x8 by 3x8: weight holds 23 values, needs 24'));
    expect(() => linear(x, 2, 8, weight, new Float32Array(2), 3, out)).toThrow(new InvalidArgumentError('linear 2x8 by 3x8: bias holds 2 values, needs 3'));
    expect(() => linear(x, 2, 8, weight, null, 3, new Float32Array(5))).toThrow(new InvalidArgumentError('linear 2x8 by 3x8: out holds 5 values, needs 6'));
    expect(() => memory.linearRange(x, 2, 8, weight, null, 3, out, 2, 4)).toThrow(new InvalidArgumentError('linearRange: outputs [2, 4) are not within [0, 3)'));
    expect(() => memory.linearRange(x, 2, 8, weight, null, 3, out, 2, 1)).toThrow(new InvalidArgumentError('linearRange: outputs [2, 1) are not within [0, 3)'));
    expect(() => memory.linearRange(x, 2, 8, new Float32Array(24), null, 3, out, 0, 3)).toThrow(new InvalidArgumentError('linearRange: an operand lies outside this LinearMemory'));
    expect(() => new LinearMemory().linearRange(x, 2, 8, weight, null, 3, out, 0, 3)).toThrow(new InvalidArgumentError('linearRange: an operand lies outside this LinearMemory'));
  });
});
