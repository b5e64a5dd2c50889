/**
 * The one place where graph IO dtypes meet the float32 executor, as a compiled HTP graph presents
 * its IO: every float-valued input is read through a `FloatInput` (codes dequantized from the
 * tensor's encoding, float16 widened) and every output written through a `FloatOutput` (values
 * quantized to the tensor's encoding, round to nearest and clamped; float16 rounded to nearest
 * even). FLOAT_32 tensors are used in place, so load/store do nothing.
 */
import { tensorByteLength } from '../../graphs/sizes.js';
import type { TensorSpec } from '../../graphs/spec.js';
import { isFixedPoint, type CodeArray, type DataTypeName, type Encoding } from '../../tensor/dtype.js';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../../tensor/fp16.js';
import { dequantizeArray, quantizeArray } from '../../tensor/quant.js';
import { elementCount } from '../../tensor/shape.js';
import { typedView } from '../../tensor/views.js';

/** A graph input as float32: `values` holds the tensor after `load()`. */
export interface FloatInput {
  readonly values: Float32Array;
  load(): void;
}

/** A graph output as float32: the executor writes `values`, then `store()` fills the bound buffer. */
export interface FloatOutput {
  readonly values: Float32Array;
  /** The bound buffer holds `values` exactly after `store()` (FLOAT_32): nothing is rounded. */
  readonly exact: boolean;
  store(): void;
  /** `store()`, then `values` becomes what the buffer now holds (each value rounded to the dtype). */
  storeRounded(): void;
}

const FLOAT_IO_DTYPES: readonly DataTypeName[] = [
  'FLOAT_32',
  'FLOAT_16',
  'UFIXED_POINT_8',
  'UFIXED_POINT_16',
  'UFIXED_POINT_32',
  'SFIXED_POINT_8',
  'SFIXED_POINT_16',
  'SFIXED_POINT_32',
];

/** Why `spec` cannot be a float-valued graph tensor, or null if it can. */
export function floatIoProblem(spec: TensorSpec): string | null {
  if (!FLOAT_IO_DTYPES.includes(spec.dtype)) {
    return `dtype ${spec.dtype} is not supported for float-valued tensors (supported: ${FLOAT_IO_DTYPES.join(', ')})`;
  }
  if (isFixedPoint(spec.dtype) && spec.encoding === undefined) {
    return `dtype ${spec.dtype} needs an encoding {scale, offset}`;
  }
  if (!isFixedPoint(spec.dtype) && spec.encoding !== undefined) {
    return `dtype ${spec.dtype} is not fixed point and cannot have an encoding`;
  }
  return null;
}

export function tokenIdsProblem(spec: TensorSpec): string | null {
  return spec.dtype === 'INT_32' ? null : `dtype ${spec.dtype} is not supported for token ids (expected INT_32)`;
}

class Float32InPlace implements FloatInput, FloatOutput {
  readonly exact = true;
  constructor(readonly values: Float32Array) {}
  load(): void {}
  store(): void {}
  storeRounded(): void {}
}

class Float16Io implements FloatInput, FloatOutput {
  readonly exact = false;
  readonly values: Float32Array;
  constructor(private readonly bits: Uint16Array) {
    this.values = new Float32Array(bits.length);
  }
  load(): void {
    float16ArrayToFloat32(this.bits, this.values);
  }
  store(): void {
    float32ArrayToFloat16(this.values, this.bits);
  }
  storeRounded(): void {
    this.store();
    this.load();
  }
}

class FixedPointIo implements FloatInput, FloatOutput {
  readonly exact = false;
  readonly values: Float32Array;
  constructor(
    private readonly codes: CodeArray,
    private readonly dtype: DataTypeName,
    private readonly encoding: Encoding,
  ) {
    this.values = new Float32Array(codes.length);
  }
  load(): void {
    dequantizeArray(this.codes, this.values, this.encoding);
  }
  store(): void {
    quantizeArray(this.values, this.codes, this.encoding, this.dtype);
  }
  storeRounded(): void {
    this.store();
    this.load();
  }
}

/** `bytes` is at least the tensor's size and aligned to its element size (checked by the caller). */
function floatIo(spec: TensorSpec, bytes: Uint8Array): FloatInput & FloatOutput {
  const own = bytes.subarray(0, tensorByteLength(spec));
  if (spec.dtype === 'FLOAT_32') return new Float32InPlace(typedView(own, 'FLOAT_32'));
  if (spec.dtype === 'FLOAT_16') return new Float16Io(typedView(own, 'FLOAT_16'));
  // planGraph admitted only the dtypes of FLOAT_IO_DTYPES, fixed point with an encoding.
  return new FixedPointIo(typedView(own, spec.dtype) as CodeArray, spec.dtype, spec.encoding!);
}

export const floatInput = (spec: TensorSpec, bytes: Uint8Array): FloatInput => floatIo(spec, bytes);
export const floatOutput = (spec: TensorSpec, bytes: Uint8Array): FloatOutput => floatIo(spec, bytes);

export function tokenIds(spec: TensorSpec, bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, elementCount(spec.shape));
}
