import { describe, expect, it } from 'vitest';
import { linear } from '../../../src/backends/reference/kernels.js';
import { seededValues as values } from '../../simd/seeded.js';

/**
 * `bias[o] + sum_i weight[o, i] x[r, i]` in float64, with the error bound of a float32 sum of those
 * terms (about inDim/4 + 8 roundings of the terms' magnitudes; test/simd/linear.test.ts checks the exact order).
 */
function naive(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number): { sums: Float64Array; bounds: Float64Array } {
  const sums = new Float64Array(rows * outDim);
  const bounds = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let sum = bias === null ? 0 : bias[o];
      let magnitude = Math.abs(sum);
      for (let i = 0; i < inDim; i++) {
        sum += weight[o * inDim + i] * x[r * inDim + i];
        magnitude += Math.abs(weight[o * inDim + i] * x[r * inDim + i]);
      }
      sums[r * outDim + o] = sum;
      bounds[r * outDim + o] = (inDim / 4 + 8) * 2 ** -24 * magnitude + 2 ** -24 * Math.abs(sum);
    }
  }
  return { sums, bounds };
}

describe('linear (SIMD, blocked prefill tiles)', () => {
  // Rows: below one 4-row group, exact groups, several 16-row blocks plus left-over rows; outputs
  // with and without a remainder of the 4-output tiles.
  const shapes: Array<[rows: number, inDim: number, outDim: number]> = [
    [1, 7, 5], [3, 9, 4], [4, 8, 4], [4, 13, 7], [16, 33, 9], [37, 64, 18], [128, 40, 6],
  ];
  for (const [rows, inDim, outDim] of shapes) {
    for (const withBias of [false, true]) {
      it(`rows ${rows}, in ${inDim}, out ${outDim}${withBias ? ', bias' : ''}: every output within float32 summation error of the float64 sum`, () => {
        const x = values(rows * inDim, rows * 1000 + inDim);
        const weight = values(outDim * inDim, outDim * 77 + 3);
        const bias = withBias ? values(outDim, 99) : null;
        const out = new Float32Array(rows * outDim).fill(Number.NaN);
        linear(x, rows, inDim, weight, bias, outDim, out);
        const { sums, bounds } = naive(x, rows, inDim, weight, bias, outDim);
        for (let i = 0; i < rows * outDim; i++) expect(Math.abs(out[i] - sums[i])).toBeLessThanOrEqual(bounds[i]);
      });
    }
  }
});
