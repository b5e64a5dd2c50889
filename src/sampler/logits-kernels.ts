import type { Encoding } from '../tensor/dtype.js';
import { float16ToFloat32 } from '../tensor/fp16.js';
import { countCodes16Simd } from '../simd/logits.js';

// The scalar kernels (the uint16 and float32 argmax, top-k and row reads are WebAssembly SIMD: src/simd/logits.ts).
// Kernels return the argmax (lowest index on ties); the float ones return ~i for a NaN at i. Doubles stay
// inside them and the encoding travels as an object: a double passed to or returned from a call V8 does
// not inline is boxed (one allocation per token). Nothing follows the loops either: V8 compiles these on
// stack replacement during their first call, and code after the loop without type feedback by then
// deoptimizes on every later call.

export function dequantizeFloat16(src: Uint16Array, from: number, n: number, dst: Float32Array): number {
  let best = -Infinity;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const v = float16ToFloat32(src[from + i]);
    dst[i] = v;
    if (v > best) {
      best = v;
      top = i;
    } else if (v !== v) {
      return ~i;
    }
  }
  return top;
}

export function dequantizeUint8(src: Uint8Array, from: number, n: number, encoding: Encoding, dst: Float32Array): number {
  const { scale, offset } = encoding;
  let best = -1;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const q = src[from + i];
    dst[i] = (q + offset) * scale;
    if (q > best) {
      best = q;
      top = i;
    }
  }
  return top;
}

/** Float16 bits mapped to an unsigned key with the same order as the values (-0 equal to +0). */
export function argmaxFloat16(src: Uint16Array, from: number, n: number): number {
  let best = -1;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const h = src[from + i];
    if ((h & 0x7fff) > 0x7c00) return ~i;
    const key = h & 0x8000 ? (h === 0x8000 ? 0x8000 : 0xffff - h) : h | 0x8000;
    if (key > best) {
      best = key;
      top = i;
    }
  }
  return top;
}

export function argmaxCodes8(src: Uint8Array, from: number, n: number): number {
  let best = -1;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const q = src[from + i];
    if (q > best) {
      best = q;
      top = i;
    }
  }
  return top;
}

/**
 * Dequantizes only `tokens[0, k)` of a fixed-point row into `dst[token]`; returns the best of them
 * (largest code, lowest index on ties).
 */
export function dequantizeTokens(
  src: Uint16Array | Uint8Array,
  from: number,
  tokens: Int32Array,
  k: number,
  encoding: Encoding,
  dst: Float32Array,
): number {
  const { scale, offset } = encoding;
  let best = -1;
  let top = 0;
  for (let j = 0; j < k; j++) {
    const token = tokens[j];
    const q = src[from + token];
    dst[token] = (q + offset) * scale;
    if (q > best || (q === best && token < top)) {
      best = q;
      top = token;
    }
  }
  return top;
}

/**
 * Counts each code of `src[from, from + n)` from `floor` on into `counts` (zero over those codes);
 * meanwhile keeps in `near` the ids of the tokens within `window` codes of `max`, the row's largest
 * code (in id order, as many as it holds). Writes how many ids qualified into `out[1]` and how many
 * tokens were counted into `out[2]`. A WebAssembly pass (src/simd/logits.ts): a JavaScript
 * histogram of a Qwen-sized row ran 2-4x slower, and slower still after some deoptimisations.
 */
export function countCodes16(src: Uint16Array, from: number, n: number, counts: Int32Array, max: number, floor: number, window: number, near: Int32Array, out: Int32Array): void {
  countCodes16Simd(src, from, n, counts, Math.max(0, floor), Math.max(0, max - window), near, out);
}

/** countCodes16 for uint8 codes: tokens below `floor` are only skipped (a compare, no increment). */
export function countCodes8(src: Uint8Array, from: number, n: number, counts: Int32Array, max: number, floor: number, window: number, near: Int32Array, out: Int32Array): void {
  let kept = 0;
  let counted = 0;
  const capacity = near.length;
  const end = from + n;
  for (let i = from; i < end; i++) {
    const q = src[i];
    if (q >= floor) {
      counts[q]++;
      counted++;
      if (q + window >= max) {
        if (kept < capacity) near[kept] = i - from;
        kept++;
      }
    }
  }
  out[1] = kept;
  out[2] = counted;
}

// One copy per code width, so that V8 keeps each loop monomorphic (a loop over `Uint16Array |
// Uint8Array` ran 3-7x slower).

/**
 * A threshold cut of a fixed-point row in sampling order: of the candidate ids `near[0, count)` (id
 * order; null for every token of the row, `count` being the vocabulary), every token whose code is
 * above `code`, then the first `ties` (lowest ids) whose code equals it, into `tokens`; their
 * dequantized values into `dst[token]`. Returns how many.
 */
export function pickCodes16(
  src: Uint16Array, from: number, near: Int32Array | null, count: number, code: number, ties: number, encoding: Encoding, tokens: Int32Array, dst: Float32Array,
): number {
  const { scale, offset } = encoding;
  let kept = 0;
  let tied = 0;
  for (let j = 0; j < count; j++) {
    const t = near === null ? j : near[j];
    const q = src[from + t];
    if (q < code) continue;
    if (q === code) {
      if (tied === ties) continue;
      tied++;
    }
    tokens[kept++] = t;
    dst[t] = (q + offset) * scale;
  }
  return kept;
}

export function pickCodes8(
  src: Uint8Array, from: number, near: Int32Array | null, count: number, code: number, ties: number, encoding: Encoding, tokens: Int32Array, dst: Float32Array,
): number {
  const { scale, offset } = encoding;
  let kept = 0;
  let tied = 0;
  for (let j = 0; j < count; j++) {
    const t = near === null ? j : near[j];
    const q = src[from + t];
    if (q < code) continue;
    if (q === code) {
      if (tied === ties) continue;
      tied++;
    }
    tokens[kept++] = t;
    dst[t] = (q + offset) * scale;
  }
  return kept;
}
