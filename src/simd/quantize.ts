/**
 * Float32 values and uint16 codes into uint16 codes, eight at a time (src/simd/wat/quantize.wat), for
 * the large blocks of the pipeline: an image's rows spliced into a uint16 decoder input. The codes
 * equal src/tensor/quant.ts's scalar formulas exactly (same float64 operations, same rounding).
 */
import { lazyKernel, type KernelExports } from './kernel.js';
import { quantizeWasm } from './quantize.wasm.js';

interface QuantizeExports extends KernelExports {
  quantizeF32ToU16(src: number, dst: number, n: number, scale: number, offset: number): number;
  requantizeU16ToU16(src: number, dst: number, n: number, ratio: number, bias: number): void;
}

const kernel = lazyKernel<QuantizeExports>('quantize', quantizeWasm);

/** Elements rounded up to the kernels' pairs (the padding is zeroed, never read back). */
function pairs(count: number): number {
  return (count + 1) & ~1;
}

/**
 * `dst[dstStart + i] = clamp(roundHalfAway(src[srcStart + i] / scale - offset), 0, 0xffff)`. Returns -1,
 * or the index (into `src`) of the first NaN; the codes before its pair are then written.
 */
export function quantizeF32ToU16Simd(src: Float32Array, srcStart: number, dst: Uint16Array, dstStart: number, count: number, scale: number, offset: number): number {
  const padded = pairs(count);
  const k = kernel.get();
  k.reserve(padded * 6);
  const values = k.f32;
  values.set(src.subarray(srcStart, srcStart + count));
  values.fill(0, count, padded);
  const outAt = padded * 4;
  const stoppedAt = k.exports.quantizeF32ToU16(0, outAt, padded, scale, offset);
  const written = stoppedAt < 0 ? count : stoppedAt / 4;
  dst.set(k.u16.subarray(outAt / 2, outAt / 2 + written), dstStart);
  if (stoppedAt < 0) return -1;
  return srcStart + (values[written] !== values[written] ? written : written + 1);
}

/** `dst[dstStart + i] = clamp(roundHalfAway(ratio * src[srcStart + i] + bias), 0, 0xffff)`. */
export function requantizeU16ToU16Simd(src: Uint16Array, srcStart: number, dst: Uint16Array, dstStart: number, count: number, ratio: number, bias: number): void {
  const padded = pairs(count);
  const k = kernel.get();
  k.reserve(padded * 4);
  const codes = k.u16;
  codes.set(src.subarray(srcStart, srcStart + count));
  codes.fill(0, count, padded);
  k.exports.requantizeU16ToU16(0, padded * 2, padded, ratio, bias);
  dst.set(codes.subarray(padded, padded + count), dstStart);
}
