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

/**
 * Where `stageAttention` put an attention's operands in a kernel memory (byte offsets): the queries,
 * past keys (transposed) and values, this step's keys (transposed) and values, the mask, then room
 * for the probabilities `[ar, heads, cl]` and the output `[ar, heads, headDim]`.
 */
export interface AttentionLayout {
  readonly q: number;
  readonly keys: number;
  readonly newKeys: number;
  readonly values: number;
  readonly newValues: number;
  readonly mask: number;
  readonly probs: number;
  readonly attended: number;
}

/** The floats `stageAttention` needs. */
export function attentionFloats({ ar, cl, heads, kvHeads, headDim }: AttentionShape): number {
  return 2 * ar * heads * headDim + 2 * kvHeads * headDim * cl + ar * cl + ar * heads * cl;
}

/** The work units of an attention: four queries of one KV head each (`attentionUnits`). */
export function attentionUnitCount({ ar, heads, kvHeads }: AttentionShape): number {
  return kvHeads * Math.ceil((ar * heads) / kvHeads / 4);
}

/** Copies an attention's operands into `region` (in a kernel memory, `attentionFloats` long). */
export function stageAttention(
  shape: AttentionShape,
  query: Float32Array,
  keyNew: Float32Array,
  valueNew: Float32Array,
  keyPast: Float32Array,
  valuePast: Float32Array,
  mask: Float32Array,
  region: Float32Array,
): AttentionLayout {
  const { ar, cl, heads, kvHeads, headDim } = shape;
  const past = cl - ar;
  let next = 0;
  const put = (source: Float32Array | null, length: number): number => {
    const at = next;
    if (source !== null) region.set(source.subarray(0, length), at);
    next += length;
    return region.byteOffset + at * 4;
  };
  const q = put(query, ar * heads * headDim);
  const keys = put(keyPast, kvHeads * headDim * past);
  const values = put(valuePast, kvHeads * past * headDim);
  const newValues = put(valueNew, ar * kvHeads * headDim);
  // This step's keys transposed like the past ones: [kvHeads, headDim, ar].
  const newKeys = put(null, ar * kvHeads * headDim);
  const k = (newKeys - region.byteOffset) / 4;
  for (let r = 0; r < ar; r++) {
    for (let h = 0; h < kvHeads; h++) {
      for (let d = 0; d < headDim; d++) region[k + (h * headDim + d) * ar + r] = keyNew[(r * kvHeads + h) * headDim + d];
    }
  }
  const maskAt = put(mask, ar * cl);
  const probs = put(null, ar * heads * cl);
  const attended = put(null, ar * heads * headDim);
  return { q, keys, newKeys, values, newValues, mask: maskAt, probs, attended };
}

/**
 * Grouped-query attention of `ar` query rows over `cl` columns: past columns `[0, cl - ar)` from
 * `keyPast` `[kvHeads, headDim, past]` (transposed) and `valuePast` `[kvHeads, past, headDim]`;
 * column `cl - ar + j` from this step's own key/value row j (`[ar, kvHeads, headDim]`). The additive
 * `mask` `[ar, cl]` is applied as given. `scores` (length `cl`) is scratch; `out` is `[ar, heads, headDim]`.
 * The operands go through this thread's staging memory (thread-pool.ts shares the units between threads).
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
  const memory = stagingMemory();
  memory.reset();
  const region = memory.allocate(attentionFloats(shape));
  if (region === null) throw new NotSupportedError(`attention over ${shape.ar}x${shape.cl} with ${shape.heads} heads: its operands do not fit in a WebAssembly memory`);
  const layout = stageAttention(shape, query, keyNew, valueNew, keyPast, valuePast, mask, region);
  const { ar, cl, heads, kvHeads, headDim } = shape;
  attentionUnits(memory.exports.vecmat4, memory.f32, ar, cl, heads, kvHeads, headDim, layout, 0, attentionUnitCount(shape), scores, lanes);
  out.set(region.subarray((layout.attended - region.byteOffset) / 4, (layout.attended - region.byteOffset) / 4 + ar * heads * headDim));
}

/** Byte offsets of the four queries of one unit: query, probabilities, output. */
const lanes = new Float64Array(12);

/**
 * Units [u0, u1) of a staged attention (`f32` views the whole kernel memory). Unit u is queries
 * 4t..4t+3 of KV head u / blocks (query t: row t / group, head kv * group + t % group; a short last
 * group repeats its last query): scores as the queries times the transposed keys (`vecmat4`:
 * fixed-order float32 sums), the softmax in float64 on them, normalised and rounded to float32 before
 * the probabilities weight the values, as PyTorch's float32 softmax and matmul do. Units are
 * independent, so any split between threads gives the same results. Self-contained but for
 * `softmax` (thread-pool.ts runs the source of both in its workers); `scores` (length `cl`) and
 * `lanes` (12) are scratch.
 */
export function attentionUnits(
  vecmat4: (a0: number, a1: number, a2: number, a3: number, m: number, rows: number, cols: number, stride: number, y0: number, y1: number, y2: number, y3: number, accumulate: number) => void,
  f32: Float32Array,
  ar: number,
  cl: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  at: AttentionLayout,
  u0: number,
  u1: number,
  scores: Float64Array,
  lanes: Float64Array,
): void {
  const past = cl - ar;
  const group = heads / kvHeads;
  const queries = ar * group;
  const blocks = Math.ceil(queries / 4);
  const scale = 1 / Math.sqrt(headDim);
  const p = past * 4;
  for (let u = u0; u < u1; u++) {
    const kv = (u / blocks) | 0;
    const t0 = (u % blocks) * 4;
    for (let j = 0; j < 4; j++) {
      const t = Math.min(t0 + j, queries - 1);
      const row = ((t / group) | 0) * heads + kv * group + (t % group);
      lanes[j] = at.q + row * headDim * 4;
      lanes[4 + j] = at.probs + row * cl * 4;
      lanes[8 + j] = at.attended + row * headDim * 4;
    }
    vecmat4(lanes[0], lanes[1], lanes[2], lanes[3], at.keys + kv * headDim * p, headDim, past, past, lanes[4], lanes[5], lanes[6], lanes[7], 0);
    vecmat4(lanes[0], lanes[1], lanes[2], lanes[3], at.newKeys + kv * headDim * ar * 4, headDim, ar, ar, lanes[4] + p, lanes[5] + p, lanes[6] + p, lanes[7] + p, 0);
    for (let t = t0; t < Math.min(t0 + 4, queries); t++) {
      const r = (t / group) | 0;
      softmax(f32, (at.probs >>> 2) + (r * heads + kv * group + (t % group)) * cl, f32, (at.mask >>> 2) + r * cl, cl, scale, scores);
    }
    vecmat4(lanes[4], lanes[5], lanes[6], lanes[7], at.values + kv * p * headDim, past, headDim, headDim, lanes[8], lanes[9], lanes[10], lanes[11], 0);
    vecmat4(lanes[4] + p, lanes[5] + p, lanes[6] + p, lanes[7] + p, at.newValues + kv * headDim * 4, ar, headDim, kvHeads * headDim, lanes[8], lanes[9], lanes[10], lanes[11], 1);
  }
}

/** `probs[at + c] <- softmax_c(probs[at + c] * scale + mask[maskAt + c])` over `cl` columns, in float64 (`e` is scratch). */
export function softmax(probs: Float32Array, at: number, mask: Float32Array, maskAt: number, cl: number, scale: number, e: Float64Array): void {
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
