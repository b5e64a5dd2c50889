/**
 * Float32 kernels of the Qwen2 decoder over row-major `[rows, dim]` buffers. Sums run in float64
 * (JS numbers) except the matrix products' (float32 SIMD lanes); every stored intermediate is
 * rounded to float32 like the PyTorch model.
 */
import { NotSupportedError } from '../../errors.js';
import { stagingMemory } from '../../simd/linear.js';

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

/** Byte offsets of the (up to) four queries `attention` hands to one `vecmat4` call: query, probabilities, output. */
const lanes = new Float64Array(12);

/**
 * Grouped-query attention of `ar` query rows over `cl` columns: past columns `[0, cl - ar)` from
 * `keyPast` `[kvHeads, headDim, past]` (transposed) and `valuePast` `[kvHeads, past, headDim]`;
 * column `cl - ar + j` from this step's own key/value row j (`[ar, kvHeads, headDim]`). The additive
 * `mask` `[ar, cl]` is applied as given. `scores` (length `cl`) is scratch; `out` is `[ar, heads, headDim]`.
 *
 * The operands are copied into this thread's staging memory, and the products run four queries of
 * one KV head at a time in WebAssembly SIMD (linear.wat `vecmat4`: float32 sums in a fixed order).
 * The softmax runs in float64 on the float32 scores; its probabilities are normalised and rounded to
 * float32 before they weight the values, as PyTorch's float32 softmax and matmul do.
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
  out: Float32Array,
): void {
  const { ar, cl, heads, kvHeads, headDim } = shape;
  const past = cl - ar;
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const memory = stagingMemory();
  memory.reset();
  const q = memory.stage(query, ar * heads * headDim);
  const keys = memory.stage(keyPast, kvHeads * headDim * past);
  const values = memory.stage(valuePast, kvHeads * past * headDim);
  const newValues = memory.stage(valueNew, ar * kvHeads * headDim);
  // This step's keys transposed like the past ones: [kvHeads, headDim, ar].
  const newKeys = memory.stage(keyNew, ar * kvHeads * headDim);
  for (let r = 0; r < ar; r++) {
    for (let h = 0; h < kvHeads; h++) {
      for (let d = 0; d < headDim; d++) newKeys[(h * headDim + d) * ar + r] = keyNew[(r * kvHeads + h) * headDim + d];
    }
  }
  const probs = memory.allocate(ar * heads * cl);
  const attended = memory.allocate(ar * heads * headDim);
  if (probs === null || attended === null) throw new NotSupportedError(`attention over ${ar}x${cl} with ${heads} heads: its operands do not fit in a WebAssembly memory`);
  const queries = ar * group;
  for (let kv = 0; kv < kvHeads; kv++) {
    const keysAt = keys.byteOffset + kv * headDim * past * 4;
    const newKeysAt = newKeys.byteOffset + kv * headDim * ar * 4;
    const valuesAt = values.byteOffset + kv * past * headDim * 4;
    const newValuesAt = newValues.byteOffset + kv * headDim * 4;
    for (let t0 = 0; t0 < queries; t0 += 4) {
      // Query t of this KV head is row t / group, head kv * group + t % group; a short last group repeats its last query.
      for (let j = 0; j < 4; j++) {
        const t = Math.min(t0 + j, queries - 1);
        const row = ((t / group) | 0) * heads + kv * group + (t % group);
        lanes[j] = q.byteOffset + row * headDim * 4;
        lanes[4 + j] = probs.byteOffset + row * cl * 4;
        lanes[8 + j] = attended.byteOffset + row * headDim * 4;
      }
      memory.vecmat4(lanes[0], lanes[1], lanes[2], lanes[3], keysAt, headDim, past, past, lanes[4], lanes[5], lanes[6], lanes[7], false);
      const p = past * 4;
      memory.vecmat4(lanes[0], lanes[1], lanes[2], lanes[3], newKeysAt, headDim, ar, ar, lanes[4] + p, lanes[5] + p, lanes[6] + p, lanes[7] + p, false);
      for (let t = t0; t < Math.min(t0 + 4, queries); t++) {
        const r = (t / group) | 0;
        softmax(probs, ((r * heads + kv * group + (t % group)) * cl), mask, r * cl, cl, scale, scores);
      }
      memory.vecmat4(lanes[4], lanes[5], lanes[6], lanes[7], valuesAt, past, headDim, headDim, lanes[8], lanes[9], lanes[10], lanes[11], false);
      memory.vecmat4(lanes[4] + p, lanes[5] + p, lanes[6] + p, lanes[7] + p, newValuesAt, ar, headDim, kvHeads * headDim, lanes[8], lanes[9], lanes[10], lanes[11], true);
    }
  }
  out.set(attended);
}

/** `probs[at + c] <- softmax_c(probs[at + c] * scale + mask[maskAt + c])` over `cl` columns, in float64 (`e` is scratch). */
function softmax(probs: Float32Array, at: number, mask: Float32Array, maskAt: number, cl: number, scale: number, e: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < cl; c++) {
    const s = probs[at + c] * scale + mask[maskAt + c];
    e[c] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let c = 0; c < cl; c++) {
    const x = Math.exp(e[c] - max);
    e[c] = x;
    sum += x;
  }
  for (let c = 0; c < cl; c++) probs[at + c] = e[c] / sum;
}
