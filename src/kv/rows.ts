import type { ElementArray } from '../tensor/dtype.js';

/**
 * Strided-row primitives the KV cache is built from. A KV tensor is a stack of `rows` rows of
 * `stride` elements (K: one row per (head, d) with one element per position; V: one row per head
 * with `head_dim` elements per position). All copies stay inside one typed array, so nothing
 * allocates: `copyWithin`/`fill` take indices, not subarray views.
 */

/** Below this span length a plain loop beats a native `copyWithin` call per row. */
const LOOP_COPY_MAX = 16;

/**
 * For each row r: copy `len` elements from `srcBase + r*srcStride + srcStart` to
 * `r*dstStride + dstStart`. Source and destination spans must not overlap (KV-out -> KV-in).
 */
export function copyRowSpans(
  a: ElementArray, rows: number, dstStride: number, dstStart: number,
  srcBase: number, srcStride: number, srcStart: number, len: number,
): void {
  if (len === 0) return;
  let dst = dstStart;
  let src = srcBase + srcStart;
  if (len <= LOOP_COPY_MAX) {
    for (let r = 0; r < rows; r++, dst += dstStride, src += srcStride) {
      for (let j = 0; j < len; j++) a[dst + j] = a[src + j];
    }
  } else {
    for (let r = 0; r < rows; r++, dst += dstStride, src += srcStride) a.copyWithin(dst, src, src + len);
  }
}

/** For each row r: fill `[r*stride + start, r*stride + end)` with `value`. */
export function fillRowSpans(a: ElementArray, rows: number, stride: number, start: number, end: number, value: number): void {
  if (end <= start) return;
  for (let r = 0, base = 0; r < rows; r++, base += stride) a.fill(value, base + start, base + end);
}

/**
 * Re-lays `rows` rows from stride `oldStride` to `newStride` in place, keeping each row's first
 * `keep` elements and filling the rest of the new row with `value`. Growing walks the rows
 * backwards so no row is overwritten before it moves (memmove order, as Genie's reshapeCache).
 */
export function restrideRows(
  a: ElementArray, rows: number, oldStride: number, newStride: number, keep: number, value: number,
): void {
  if (newStride > oldStride) {
    for (let r = rows - 1; r >= 0; r--) moveRow(a, r, oldStride, newStride, keep, value);
  } else {
    for (let r = 0; r < rows; r++) moveRow(a, r, oldStride, newStride, keep, value);
  }
}

function moveRow(a: ElementArray, r: number, oldStride: number, newStride: number, keep: number, value: number): void {
  const dst = r * newStride;
  const src = r * oldStride;
  if (dst !== src && keep > 0) a.copyWithin(dst, src, src + keep);
  a.fill(value, dst + keep, dst + newStride);
}
