/**
 * Quantization in QNN's convention, the only place the formulas live:
 *   dequantize  float = (q + offset) * scale
 *   quantize    q = round(float / scale - offset), clamped to the dtype's code range
 *   requantize  q_dst = (s_src/s_dst) * q_src + ((s_src/s_dst) * o_src - o_dst), rounded, clamped
 * "nearest" rounds half away from zero (C's std::round); "truncate" rounds toward zero, which Genie uses
 * for its RoPE tables.
 */
import { InvalidArgumentError } from '../errors.js';
import { quantizeF32ToU16Simd, requantizeU16ToU16Simd } from '../simd/quantize.js';
import { isDataTypeName, isFixedPoint, type CodeArray, type DataTypeName, type ElementArray, type Encoding } from './dtype.js';
import { assertFixedPoint, fixedRange, validateEncoding } from './encoding.js';
import { assertViewFor } from './views.js';

export type Rounding = 'nearest' | 'truncate';
export type FloatArray = Float32Array | Float64Array;

// `0 - ...` and `+ 0` keep -0 out of the scalar results.
/**
 * Rounds half away from zero: `x < 0 ? 0 - Math.round(-x) : Math.round(x)` for |x| < 2^52 (-0
 * included), through `Math.floor(a + 0.5)`, which V8 runs several times faster than Math.round here.
 * Below 0.5 the sum can round up to 1, hence the test; from 2^52 on it can be off by one, but every
 * caller clamps the result to a code range of at most 32 bits.
 */
function roundHalfAway(x: number): number {
  const a = x < 0 ? -x : x;
  const r = a < 0.5 ? 0 : Math.floor(a + 0.5);
  return x < 0 ? 0 - r : x === 0 ? x : r;
}

function truncate(x: number): number {
  return Math.trunc(x) + 0;
}

function clamp(q: number, min: number, max: number): number {
  return q < min ? min : q > max ? max : q;
}

/** The unrounded code of `value`: value / scale - offset. */
function scaledCode(value: number, scale: number, offset: number): number {
  return value / scale - offset;
}

function decode(code: number, scale: number, offset: number): number {
  return (code + offset) * scale;
}

/** `q_dst = ratio * q_src + bias` with ratio = s_src/s_dst, bias = ratio * o_src - o_dst. */
function requantRatio(srcEncoding: Encoding, dstEncoding: Encoding): number {
  return srcEncoding.scale / dstEncoding.scale;
}

function requantBias(srcEncoding: Encoding, dstEncoding: Encoding, ratio: number): number {
  return ratio * srcEncoding.offset - dstEncoding.offset;
}

/**
 * From this many elements on, float32 -> uint16 and uint16 -> uint16 blocks go through the SIMD kernels
 * (src/simd/quantize.ts, the same codes, ~4x faster on an image's rows); below it, copying the block in
 * and out of the kernel's memory costs more than it saves (a LUT row per decode token stays here).
 */
const SIMD_MIN_ELEMENTS = 4096;

function notANumber(argName: string, index: number): InvalidArgumentError {
  return new InvalidArgumentError(`${argName}[${index}] is NaN and cannot be quantized`);
}

export function quantize(value: number, encoding: Encoding, dtype: DataTypeName, rounding: Rounding = 'nearest'): number {
  validateEncoding(encoding);
  assertFixedPoint(dtype);
  assertRounding(rounding);
  if (Number.isNaN(value)) throw new InvalidArgumentError('value is NaN and cannot be quantized');
  const { min, max } = fixedRange(dtype);
  const x = scaledCode(value, encoding.scale, encoding.offset);
  return clamp(rounding === 'nearest' ? roundHalfAway(x) : truncate(x), min, max);
}

export function dequantize(code: number, encoding: Encoding): number {
  validateEncoding(encoding);
  if (!Number.isInteger(code)) throw new InvalidArgumentError(`code must be an integer, got ${code}`);
  return decode(code, encoding.scale, encoding.offset);
}

/** One code re-expressed in another encoding, as Genie's LUT and pipeline accumulator do. */
export function requantize(code: number, srcEncoding: Encoding, dstEncoding: Encoding, dstDtype: DataTypeName): number {
  validateEncoding(srcEncoding, 'srcEncoding');
  validateEncoding(dstEncoding, 'dstEncoding');
  assertFixedPoint(dstDtype, 'dstDtype');
  if (!Number.isInteger(code)) throw new InvalidArgumentError(`code must be an integer, got ${code}`);
  const ratio = requantRatio(srcEncoding, dstEncoding);
  const { min, max } = fixedRange(dstDtype);
  return clamp(roundHalfAway(ratio * code + requantBias(srcEncoding, dstEncoding, ratio)), min, max);
}

function assertRounding(rounding: Rounding): void {
  if (rounding !== 'nearest' && rounding !== 'truncate') {
    throw new InvalidArgumentError(`rounding must be "nearest" or "truncate", got "${String(rounding)}"`);
  }
}

/**
 * The element span an array function works on: `count` elements from `src[srcStart]` to `dst[dstStart]`
 * (defaults: the whole of `src` to the start of `dst`). Offsets let the per-token paths (a LUT row, a
 * logits row) work inside big buffers without creating subarray views.
 */
function checkSpan(srcLength: number, dstLength: number, srcStart: number, dstStart: number, count: number): void {
  if (!Number.isSafeInteger(srcStart) || srcStart < 0) {
    throw new InvalidArgumentError(`srcStart must be a non-negative integer, got ${srcStart}`);
  }
  if (!Number.isSafeInteger(dstStart) || dstStart < 0) {
    throw new InvalidArgumentError(`dstStart must be a non-negative integer, got ${dstStart}`);
  }
  if (!Number.isSafeInteger(count) || count < 0) throw new InvalidArgumentError(`count must be a non-negative integer, got ${count}`);
  if (srcStart + count > srcLength) {
    throw new InvalidArgumentError(`src has ${srcLength} elements, needs srcStart + count = ${srcStart} + ${count} = ${srcStart + count}`);
  }
  if (dstStart + count > dstLength) {
    throw new InvalidArgumentError(`dst has ${dstLength} elements, needs dstStart + count = ${dstStart} + ${count} = ${dstStart + count}`);
  }
}

/**
 * Quantizes `count` values from `src[srcStart]` into `dst[dstStart]` (default: all of `src` to the start of
 * `dst`); `dst` must be the typed-array class of `dtype`. Returns `dst`. A NaN throws, naming its index;
 * `dst` is then partly written (the elements before the NaN, or before its pair on the SIMD path).
 */
export function quantizeArray<T extends CodeArray>(
  src: FloatArray,
  dst: T,
  encoding: Encoding,
  dtype: DataTypeName,
  rounding: Rounding = 'nearest',
  srcStart = 0,
  dstStart = 0,
  count = src.length - srcStart,
): T {
  validateEncoding(encoding);
  assertFixedPoint(dtype);
  assertRounding(rounding);
  assertViewFor(dst, dtype, 'dst');
  checkSpan(src.length, dst.length, srcStart, dstStart, count);
  quantizeInto(src, srcStart, dst, dstStart, count, encoding, dtype, rounding);
  return dst;
}

/** Dequantizes `src` into `dst` (span as in `quantizeArray`). Returns `dst`. */
export function dequantizeArray(
  src: CodeArray,
  dst: Float32Array,
  encoding: Encoding,
  srcStart = 0,
  dstStart = 0,
  count = src.length - srcStart,
): Float32Array {
  validateEncoding(encoding);
  assertViewFor(dst, 'FLOAT_32', 'dst');
  checkSpan(src.length, dst.length, srcStart, dstStart, count);
  dequantizeInto(src, srcStart, dst, dstStart, count, encoding);
  return dst;
}

/**
 * Copies `src` into `dst` re-expressed in `dst`'s encoding (span as in `quantizeArray`). Either
 * side may be float32 (a Float32Array with no encoding) or fixed-point codes (an integer typed array with an
 * encoding), which covers Genie's LUT datatypes: float -> codes quantizes, codes -> float dequantizes,
 * codes -> codes requantizes, float -> float copies. Source codes are read as the class of `src` says
 * (Uint8Array = u8, Int16Array = s16, ...).
 */
export function requantizeArray<T extends ElementArray>(
  src: ElementArray,
  srcEncoding: Encoding | undefined,
  dst: T,
  dstEncoding: Encoding | undefined,
  dstDtype: DataTypeName,
  srcStart = 0,
  dstStart = 0,
  count = src.length - srcStart,
): T {
  const srcIsFloat = src instanceof Float32Array;
  if (srcIsFloat) {
    if (srcEncoding !== undefined) {
      throw new InvalidArgumentError('srcEncoding must be undefined when src is a Float32Array (float32 values)');
    }
  } else {
    if (srcEncoding === undefined) {
      throw new InvalidArgumentError(`srcEncoding is required when src holds codes (${src.constructor.name})`);
    }
    validateEncoding(srcEncoding, 'srcEncoding');
  }
  const dstIsFloat = dstDtype === 'FLOAT_32';
  if (dstIsFloat) {
    if (dstEncoding !== undefined) throw new InvalidArgumentError('dstEncoding must be undefined when dstDtype is FLOAT_32');
  } else {
    if (!isDataTypeName(dstDtype) || !isFixedPoint(dstDtype)) {
      throw new InvalidArgumentError(`dstDtype must be FLOAT_32 or a fixed-point type, got ${String(dstDtype)}`);
    }
    if (dstEncoding === undefined) throw new InvalidArgumentError(`dstEncoding is required when dstDtype is ${dstDtype}`);
    validateEncoding(dstEncoding, 'dstEncoding');
  }
  assertViewFor(dst, dstDtype, 'dst');
  checkSpan(src.length, dst.length, srcStart, dstStart, count);

  if (srcIsFloat && dstIsFloat) {
    for (let i = 0; i < count; i++) dst[dstStart + i] = src[srcStart + i];
  } else if (srcIsFloat) {
    quantizeInto(src, srcStart, dst as CodeArray, dstStart, count, dstEncoding as Encoding, dstDtype, 'nearest');
  } else if (dstIsFloat) {
    dequantizeInto(src, srcStart, dst as Float32Array, dstStart, count, srcEncoding as Encoding);
  } else {
    requantizeInto(src, srcStart, srcEncoding as Encoding, dst as CodeArray, dstStart, count, dstEncoding as Encoding, dstDtype);
  }
  return dst;
}

// The loops below assume validated arguments.

function quantizeInto(
  src: FloatArray,
  srcStart: number,
  dst: CodeArray,
  dstStart: number,
  count: number,
  encoding: Encoding,
  dtype: DataTypeName,
  rounding: Rounding,
): void {
  const { min, max } = fixedRange(dtype);
  const { scale, offset } = encoding;
  if (rounding === 'nearest' && src instanceof Float32Array && dst instanceof Uint16Array && dtype === 'UFIXED_POINT_16') {
    if (count < SIMD_MIN_ELEMENTS) {
      quantizeFloat32ToU16(src, srcStart, dst, dstStart, count, scale, offset);
      return;
    }
    const nan = quantizeF32ToU16Simd(src, srcStart, dst, dstStart, count, scale, offset);
    if (nan >= 0) throw notANumber('src', nan);
    return;
  }
  if (rounding === 'nearest') {
    for (let i = 0; i < count; i++) {
      const x = scaledCode(src[srcStart + i], scale, offset);
      if (x !== x) throw notANumber('src', srcStart + i);
      dst[dstStart + i] = clamp(roundHalfAway(x), min, max);
    }
  } else {
    for (let i = 0; i < count; i++) {
      const x = scaledCode(src[srcStart + i], scale, offset);
      if (x !== x) throw notANumber('src', srcStart + i);
      dst[dstStart + i] = clamp(truncate(x), min, max);
    }
  }
}

/**
 * `quantizeInto` for float32 into 16-bit unsigned codes, rounded to nearest (float rows into a uint16
 * input: image features, LUT rows): the same arithmetic in a loop of its own, so that its element
 * accesses each see one array class (the shared loop sees every class and runs several times slower).
 */
function quantizeFloat32ToU16(src: Float32Array, srcStart: number, dst: Uint16Array, dstStart: number, count: number, scale: number, offset: number): void {
  for (let i = 0; i < count; i++) {
    const x = scaledCode(src[srcStart + i], scale, offset);
    if (x !== x) throw notANumber('src', srcStart + i);
    // clamp(roundHalfAway(x), 0, 0xffff) without its branches: below 0.5 it is 0, from 0xffff on 0xffff,
    // and in between Math.floor(x + 0.5) rounds exactly (see roundHalfAway).
    dst[dstStart + i] = x < 0.5 ? 0 : x >= 0xffff ? 0xffff : Math.floor(x + 0.5);
  }
}

function dequantizeInto(src: CodeArray, srcStart: number, dst: Float32Array, dstStart: number, count: number, encoding: Encoding): void {
  const { scale, offset } = encoding;
  for (let i = 0; i < count; i++) dst[dstStart + i] = decode(src[srcStart + i], scale, offset);
}

function requantizeInto(
  src: CodeArray,
  srcStart: number,
  srcEncoding: Encoding,
  dst: CodeArray,
  dstStart: number,
  count: number,
  dstEncoding: Encoding,
  dstDtype: DataTypeName,
): void {
  const ratio = requantRatio(srcEncoding, dstEncoding);
  const bias = requantBias(srcEncoding, dstEncoding, ratio);
  if (count >= SIMD_MIN_ELEMENTS && src instanceof Uint16Array && dst instanceof Uint16Array && dstDtype === 'UFIXED_POINT_16') {
    requantizeU16ToU16Simd(src, srcStart, dst, dstStart, count, ratio, bias);
    return;
  }
  const { min, max } = fixedRange(dstDtype);
  for (let i = 0; i < count; i++) dst[dstStart + i] = clamp(roundHalfAway(ratio * src[srcStart + i] + bias), min, max);
}
