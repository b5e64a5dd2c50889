/**
 * Float32 kernels of the Qwen2 decoder over row-major `[rows, dim]` buffers. Sums run in float64
 * (JS numbers) except the matrix products' (float32 SIMD lanes); every stored intermediate is
 * rounded to float32 like the PyTorch model.
 */

/**
 * `out[r, o] = bias[o] + sum_i weight[o, i] * x[r, i]`; `weight` is `[outDim, inDim]` (HF Linear).
 * WebAssembly SIMD (src/simd/linear.ts): float32 sums, each output one sum in a fixed order, so the
 * results do not depend on blocking or threads. Operands outside kernel memory are copied in (a
 * tile of weight rows at a time); thread-pool.ts keeps a model's weights there and uses them in place.
 */
export { linear } from '../../simd/linear.js';

/** `out = x * rsqrt(mean(x^2) + eps) * weight` per row. */
export function rmsNorm(
  x: Float32Array,
  rows: number,
  dim: number,
  weight: Float32Array,
  eps: number,
  out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[base + i] * x[base + i];
    const inv = Math.fround(1 / Math.sqrt(Math.fround(sum / dim) + eps));
    for (let i = 0; i < dim; i++) out[base + i] = weight[i] * Math.fround(x[base + i] * inv);
  }
}

/**
 * Rotates `[rows, heads, headDim]` in place, HF split-half layout: with c, s = cos/sin row r entry j
 * (headDim/2 per row), `x[j] <- x[j] c - x[j+half] s` and `x[j+half] <- x[j+half] c + x[j] s`.
 */
export function applyRope(
  x: Float32Array,
  rows: number,
  heads: number,
  headDim: number,
  cos: Float32Array,
  sin: Float32Array,
): void {
  const half = headDim >> 1;
  for (let r = 0; r < rows; r++) {
    const cs = r * half;
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const a = x[base + j];
        const b = x[base + j + half];
        const c = cos[cs + j];
        const s = sin[cs + j];
        x[base + j] = Math.fround(a * c) - Math.fround(b * s);
        x[base + j + half] = Math.fround(b * c) + Math.fround(a * s);
      }
    }
  }
}

/** `gate <- silu(gate) * up`, elementwise over `n` values. */
export function swiGlu(gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    gate[i] = Math.fround(g / (1 + Math.exp(-g))) * up[i];
  }
}

export function addInPlace(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) x[i] += y[i];
}

export interface AttentionShape {
  readonly ar: number;
  readonly cl: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * Grouped-query attention of `ar` query rows over `cl` columns: past columns `[0, cl - ar)` from
 * `keyPast` `[kvHeads, headDim, past]` (transposed) and `valuePast` `[kvHeads, past, headDim]`;
 * column `cl - ar + j` from this step's own key/value row j (`[ar, kvHeads, headDim]`). The additive
 * `mask` `[ar, cl]` is applied as given. `scores` (length `cl`) and `acc` (length `headDim`) are
 * scratch; `out` is `[ar, heads, headDim]`.
 */
export function attention(
  shape: AttentionShape,
  query: Float32Array,
  keyNew: Float32Array,
  valueNew: Float32Array,
  keyPast: Float32Array,
  valuePast: Float32Array,
  mask: Float32Array,
  scores: Float64Array,
  acc: Float64Array,
  out: Float32Array,
): void {
  const { ar, cl, heads, kvHeads, headDim } = shape;
  const past = cl - ar;
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  for (let r = 0; r < ar; r++) {
    for (let h = 0; h < heads; h++) {
      const kv = (h / group) | 0;
      const q = (r * heads + h) * headDim;
      scores.fill(0, 0, past);
      for (let d = 0; d < headDim; d++) {
        const qd = query[q + d];
        const k = (kv * headDim + d) * past;
        for (let c = 0; c < past; c++) scores[c] += qd * keyPast[k + c];
      }
      for (let j = 0; j < ar; j++) {
        const k = (j * kvHeads + kv) * headDim;
        let s = 0;
        for (let d = 0; d < headDim; d++) s += query[q + d] * keyNew[k + d];
        scores[past + j] = s;
      }
      const m = r * cl;
      let max = -Infinity;
      for (let c = 0; c < cl; c++) {
        const s = Math.fround(scores[c]) * scale + mask[m + c];
        scores[c] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let c = 0; c < cl; c++) {
        const e = Math.exp(scores[c] - max);
        scores[c] = e;
        sum += e;
      }
      acc.fill(0);
      for (let c = 0; c < past; c++) {
        const p = scores[c];
        const v = (kv * past + c) * headDim;
        for (let d = 0; d < headDim; d++) acc[d] += p * valuePast[v + d];
      }
      for (let j = 0; j < ar; j++) {
        const p = scores[past + j];
        const v = (j * kvHeads + kv) * headDim;
        for (let d = 0; d < headDim; d++) acc[d] += p * valueNew[v + d];
      }
      for (let d = 0; d < headDim; d++) out[q + d] = acc[d] / sum;
    }
  }
}
