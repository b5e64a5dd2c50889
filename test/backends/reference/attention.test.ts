/**
 * kernels.ts `attention` (float32 SIMD products, float64 softmax) against grouped-query attention
 * written here in float64 from the layouts its doc states: past keys transposed, past values
 * row-major, this step's own rows last, an additive mask. Shapes: decode and prefill rows, head
 * dimensions off the 4-lane grid, query groups of 1, 2, 3 and 7 per KV head (not multiples of the
 * kernel's four queries), no past (the vision tower's case).
 */
import { describe, expect, it } from 'vitest';
import { attention, type AttentionShape } from '../../../src/backends/reference/kernels.js';
import { seededValues as values } from '../../simd/seeded.js';

interface Operands {
  readonly query: Float32Array;
  readonly keyNew: Float32Array;
  readonly valueNew: Float32Array;
  readonly keyPast: Float32Array;
  readonly valuePast: Float32Array;
  readonly mask: Float32Array;
}

function operands({ ar, cl, heads, kvHeads, headDim }: AttentionShape, seed: number): Operands {
  const past = cl - ar;
  // A causal mask over the new rows, and some past columns hidden from some rows.
  const mask = new Float32Array(ar * cl);
  for (let r = 0; r < ar; r++) {
    for (let c = 0; c < cl; c++) {
      if (c >= past && c - past > r) mask[r * cl + c] = -Infinity;
      else if (c < past && (c * 7 + r) % 5 === 0) mask[r * cl + c] = -Infinity;
      else if (c % 3 === 0) mask[r * cl + c] = -0.5;
    }
  }
  return {
    query: values(ar * heads * headDim, seed).map((v) => 3 * v),
    keyNew: values(ar * kvHeads * headDim, seed + 1),
    valueNew: values(ar * kvHeads * headDim, seed + 2),
    keyPast: values(kvHeads * headDim * past, seed + 3),
    valuePast: values(kvHeads * past * headDim, seed + 4),
    mask,
  };
}

/** The same attention in float64 throughout, straight from the layouts. */
function reference({ ar, cl, heads, kvHeads, headDim }: AttentionShape, o: Operands): Float64Array {
  const past = cl - ar;
  const group = heads / kvHeads;
  const out = new Float64Array(ar * heads * headDim);
  for (let r = 0; r < ar; r++) {
    for (let h = 0; h < heads; h++) {
      const kv = Math.floor(h / group);
      const key = (c: number, d: number): number => (c < past ? o.keyPast[(kv * headDim + d) * past + c] : o.keyNew[((c - past) * kvHeads + kv) * headDim + d]);
      const value = (c: number, d: number): number => (c < past ? o.valuePast[(kv * past + c) * headDim + d] : o.valueNew[((c - past) * kvHeads + kv) * headDim + d]);
      const logits = Array.from({ length: cl }, (_, c) => {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += o.query[(r * heads + h) * headDim + d] * key(c, d);
        return dot / Math.sqrt(headDim) + o.mask[r * cl + c];
      });
      const max = Math.max(...logits);
      const weights = logits.map((l) => Math.exp(l - max));
      const sum = weights.reduce((a, b) => a + b, 0);
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let c = 0; c < cl; c++) acc += (weights[c] / sum) * value(c, d);
        out[(r * heads + h) * headDim + d] = acc;
      }
    }
  }
  return out;
}

describe('attention (SIMD products, float64 softmax)', () => {
  const shapes: AttentionShape[] = [
    { ar: 1, cl: 37, heads: 7, kvHeads: 1, headDim: 8 },
    { ar: 1, cl: 64, heads: 14, kvHeads: 2, headDim: 64 },
    { ar: 3, cl: 21, heads: 4, kvHeads: 2, headDim: 6 },
    { ar: 5, cl: 5, heads: 3, kvHeads: 3, headDim: 5 },
    { ar: 8, cl: 50, heads: 6, kvHeads: 2, headDim: 13 },
    { ar: 9, cl: 130, heads: 4, kvHeads: 4, headDim: 16 },
  ];
  it.each(shapes)('ar $ar, cl $cl, $heads heads over $kvHeads KV heads, head dim $headDim: the float64 attention within float32 rounding', (shape) => {
    const o = operands(shape, shape.cl * 31 + shape.headDim);
    const out = new Float32Array(shape.ar * shape.heads * shape.headDim).fill(Number.NaN);
    attention(shape, o.query, o.keyNew, o.valueNew, o.keyPast, o.valuePast, o.mask, new Float64Array(shape.cl), out);
    const want = reference(shape, o);
    // Values are in [-1, 1) and the weights sum to 1: float32 sums of about cl + headDim terms.
    const tolerance = (shape.cl + shape.headDim) * 2 ** -22;
    for (let i = 0; i < want.length; i++) {
      if (!(Math.abs(out[i] - want[i]) <= tolerance)) expect.fail(`out[${i}] = ${out[i]}, float64 ${want[i]}`);
    }
  });

  it('gives each query row the result it has alone (the four-query groups do not change a sum)', () => {
    const shape = { ar: 6, cl: 40, heads: 7, kvHeads: 1, headDim: 12 };
    const o = operands(shape, 5);
    const out = new Float32Array(6 * 7 * 12);
    attention(shape, o.query, o.keyNew, o.valueNew, o.keyPast, o.valuePast, o.mask, new Float64Array(40), out);
    // Row 5 alone: its own key/value row is the last column, rows 0..4's new entries become its past.
    const past = 34;
    const alone = { ar: 1, cl: 40, heads: 7, kvHeads: 1, headDim: 12 };
    const keyPast = new Float32Array(12 * 39);
    const valuePast = new Float32Array(39 * 12);
    for (let d = 0; d < 12; d++) {
      for (let c = 0; c < 39; c++) keyPast[d * 39 + c] = c < past ? o.keyPast[d * past + c] : o.keyNew[(c - past) * 12 + d];
    }
    for (let c = 0; c < 39; c++) {
      for (let d = 0; d < 12; d++) valuePast[c * 12 + d] = c < past ? o.valuePast[c * 12 + d] : o.valueNew[(c - past) * 12 + d];
    }
    const single = new Float32Array(7 * 12);
    attention(alone, o.query.subarray(5 * 84), o.keyNew.subarray(5 * 12), o.valueNew.subarray(5 * 12), keyPast, valuePast, o.mask.subarray(5 * 40), new Float64Array(40), single);
    expect(Array.from(out.subarray(5 * 84))).toEqual(Array.from(single));
  });
});
