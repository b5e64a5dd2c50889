/**
 * Float32 kernels of the Qwen2 decoder over row-major `[rows, dim]` buffers. Sums run in float64
 * (JS numbers); every stored intermediate is rounded to float32 like the PyTorch model.
 */

/**
 * `out[r, o] = bias[o] + sum_i weight[o, i] * x[r, i]`; `weight` is `[outDim, inDim]` (HF Linear).
 * Prefill rows go in blocks of 16, and within a block 4 rows x 4 outputs at a time: 16
 * running sums, so each weight value and each input value is loaded once per 4 products. Every sum
 * still runs over i in order, so the results depend neither on the blocking nor on how outputs are
 * shared between threads (`linearRange`). Left-over rows use four interleaved partial sums.
 */
export function linear(
  x: Float32Array,
  rows: number,
  inDim: number,
  weight: Float32Array,
  bias: Float32Array | null,
  outDim: number,
  out: Float32Array,
): void {
  linearRange(x, rows, inDim, weight, bias, outDim, out, 0, outDim);
}

/**
 * `linear` for outputs [oStart, oEnd) only. Self-contained but for the two tile kernels below
 * (thread-pool.ts runs the source of these three functions in its workers).
 */
export function linearRange(
  x: Float32Array,
  rows: number,
  inDim: number,
  weight: Float32Array,
  bias: Float32Array | null,
  outDim: number,
  out: Float32Array,
  oStart: number,
  oEnd: number,
): void {
  // Rows per block: 16 rows of up to a few thousand float32 values stay in the L2 cache while
  // every weight row streams past them once.
  const rowBlock = 16;
  const blocked = rows - (rows % 4);
  for (let r0 = 0; r0 < blocked; r0 += rowBlock) {
    const r1 = Math.min(blocked, r0 + rowBlock);
    let o = oStart;
    for (; o + 4 <= oEnd; o += 4) for (let r = r0; r < r1; r += 4) linear4x4(x, r, inDim, weight, bias, o, outDim, out);
    for (; o < oEnd; o++) for (let r = r0; r < r1; r += 4) linear4x1(x, r, inDim, weight, bias, o, outDim, out);
  }
  const tail = inDim - (inDim % 4);
  for (let r = blocked; r < rows; r++) {
    const xr = r * inDim;
    for (let o = oStart; o < oEnd; o++) {
      const w = o * inDim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i < tail; i += 4) {
        s0 += weight[w + i] * x[xr + i];
        s1 += weight[w + i + 1] * x[xr + i + 1];
        s2 += weight[w + i + 2] * x[xr + i + 2];
        s3 += weight[w + i + 3] * x[xr + i + 3];
      }
      for (; i < inDim; i++) s0 += weight[w + i] * x[xr + i];
      out[r * outDim + o] = (bias === null ? 0 : bias[o]) + (s0 + s1 + (s2 + s3));
    }
  }
}

/** Rows r..r+3, outputs o..o+3 of `linear`. */
export function linear4x4(x: Float32Array, r: number, inDim: number, weight: Float32Array, bias: Float32Array | null, o: number, outDim: number, out: Float32Array): void {
  const x0 = r * inDim;
  const x1 = x0 + inDim;
  const x2 = x1 + inDim;
  const x3 = x2 + inDim;
  const wa = o * inDim;
  const wb = wa + inDim;
  const wc = wb + inDim;
  const wd = wc + inDim;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  let c0 = 0, c1 = 0, c2 = 0, c3 = 0, d0 = 0, d1 = 0, d2 = 0, d3 = 0;
  for (let i = 0; i < inDim; i++) {
    const y0 = x[x0 + i];
    const y1 = x[x1 + i];
    const y2 = x[x2 + i];
    const y3 = x[x3 + i];
    const u = weight[wa + i];
    a0 += u * y0; a1 += u * y1; a2 += u * y2; a3 += u * y3;
    const v = weight[wb + i];
    b0 += v * y0; b1 += v * y1; b2 += v * y2; b3 += v * y3;
    const p = weight[wc + i];
    c0 += p * y0; c1 += p * y1; c2 += p * y2; c3 += p * y3;
    const q = weight[wd + i];
    d0 += q * y0; d1 += q * y1; d2 += q * y2; d3 += q * y3;
  }
  const ba = bias === null ? 0 : bias[o];
  const bb = bias === null ? 0 : bias[o + 1];
  const bc = bias === null ? 0 : bias[o + 2];
  const bd = bias === null ? 0 : bias[o + 3];
  let at = r * outDim + o;
  out[at] = ba + a0; out[at + 1] = bb + b0; out[at + 2] = bc + c0; out[at + 3] = bd + d0;
  at += outDim;
  out[at] = ba + a1; out[at + 1] = bb + b1; out[at + 2] = bc + c1; out[at + 3] = bd + d1;
  at += outDim;
  out[at] = ba + a2; out[at + 1] = bb + b2; out[at + 2] = bc + c2; out[at + 3] = bd + d2;
  at += outDim;
  out[at] = ba + a3; out[at + 1] = bb + b3; out[at + 2] = bc + c3; out[at + 3] = bd + d3;
}

/** Rows r..r+3, output o of `linear`. */
export function linear4x1(x: Float32Array, r: number, inDim: number, weight: Float32Array, bias: Float32Array | null, o: number, outDim: number, out: Float32Array): void {
  const x0 = r * inDim;
  const x1 = x0 + inDim;
  const x2 = x1 + inDim;
  const x3 = x2 + inDim;
  const w = o * inDim;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < inDim; i++) {
    const wi = weight[w + i];
    s0 += wi * x[x0 + i];
    s1 += wi * x[x1 + i];
    s2 += wi * x[x2 + i];
    s3 += wi * x[x3 + i];
  }
  const b = bias === null ? 0 : bias[o];
  out[r * outDim + o] = b + s0;
  out[(r + 1) * outDim + o] = b + s1;
  out[(r + 2) * outDim + o] = b + s2;
  out[(r + 3) * outDim + o] = b + s3;
}

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
