/**
 * bfloat16 <-> binary32 conversion without allocation. bfloat16 is the top half of a float32, stored as
 * uint16 bit patterns (Uint16Array), the way QNN BFLOAT_16 tensors present them.
 */
import { assertMinLength } from './views.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bfloat16ToFloat32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/**
 * Round to nearest, ties to even; overflow gives infinity; NaN stays NaN (quiet bit set, so a NaN whose
 * payload lives only in the dropped low bits does not turn into infinity). Float64 inputs are first
 * rounded to float32.
 */
export function float32ToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16ArrayToFloat32(src: Uint16Array, dst: Float32Array): Float32Array {
  assertMinLength(dst, src.length, 'dst', 'src.length');
  const n = src.length;
  for (let i = 0; i < n; i++) {
    u32[0] = src[i] << 16;
    dst[i] = f32[0];
  }
  return dst;
}

export function float32ArrayToBfloat16(src: Float32Array, dst: Uint16Array): Uint16Array {
  assertMinLength(dst, src.length, 'dst', 'src.length');
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = float32ToBfloat16(src[i]);
  return dst;
}
