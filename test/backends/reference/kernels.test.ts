import { describe, expect, it } from 'vitest';
import { linear } from '../../../src/backends/reference/kernels.js';

/** A seeded stream of values in [-1, 1) (xorshift32). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 31 - 1;
  });
}

/** `bias[o] + sum_i weight[o, i] x[r, i]`, the sum in float64 over i in order, rounded once. */
function naive(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number): Float32Array {
  const out = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let sum = 0;
      for (let i = 0; i < inDim; i++) sum += weight[o * inDim + i] * x[r * inDim + i];
      out[r * outDim + o] = (bias === null ? 0 : bias[o]) + sum;
    }
  }
  return out;
}

describe('linear (blocked prefill kernel)', () => {
  // Rows: below one 4-row group, exact groups, several 16-row blocks plus left-over rows; outputs
  // with and without a remainder of the 4-output tiles.
  const shapes: Array<[rows: number, inDim: number, outDim: number]> = [
    [1, 7, 5], [3, 9, 4], [4, 8, 4], [4, 13, 7], [16, 33, 9], [37, 64, 18], [128, 40, 6],
  ];
  for (const [rows, inDim, outDim] of shapes) {
    for (const withBias of [false, true]) {
      it(`rows ${rows}, in ${inDim}, out ${outDim}${withBias ? ', bias' : ''}: every row of a 4-row group equals the in-order float64 sum bit for bit, left-over rows within float32 rounding`, () => {
        const x = values(rows * inDim, rows * 1000 + inDim);
        const weight = values(outDim * inDim, outDim * 77 + 3);
        const bias = withBias ? values(outDim, 99) : null;
        const out = new Float32Array(rows * outDim).fill(Number.NaN);
        linear(x, rows, inDim, weight, bias, outDim, out);
        const want = naive(x, rows, inDim, weight, bias, outDim);
        const grouped = rows - (rows % 4);
        expect(Array.from(out.subarray(0, grouped * outDim))).toEqual(Array.from(want.subarray(0, grouped * outDim)));
        for (let i = grouped * outDim; i < rows * outDim; i++) expect(Math.abs(out[i] - want[i])).toBeLessThanOrEqual(2 ** -20 * (1 + Math.abs(want[i])));
      });
    }
  }
});
