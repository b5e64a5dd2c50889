/**
 * IEEE 754 binary16 <-> binary32 conversion without allocation. Float16 values are stored as
 * uint16 bit patterns (Uint16Array), the way QNN FLOAT_16 tensors present them.
 */
import { assertMinLength } from './views.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Exact table of all 65536 half values, built once (256 KiB). */
const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return table;
})();

export function float16ToFloat32(bits: number): number {
  return HALF_TO_FLOAT[bits & 0xffff];
}

/** Round to nearest, ties to even; overflow gives infinity; NaN stays NaN. */
export function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  let h = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export function float16ArrayToFloat32(src: Uint16Array, dst: Float32Array): Float32Array {
  assertMinLength(dst, src.length, 'dst', 'src.length');
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = HALF_TO_FLOAT[src[i]];
  return dst;
}

export function float32ArrayToFloat16(src: Float32Array, dst: Uint16Array): Uint16Array {
  assertMinLength(dst, src.length, 'dst', 'src.length');
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = float32ToFloat16(src[i]);
  return dst;
}
