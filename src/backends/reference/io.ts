/**
 * The one place where graph IO dtypes meet the float32 executor. Every float-valued input is read
 * through a `FloatInput` and every output written through a `FloatOutput`; FLOAT_32 tensors are
 * used in place (load/store do nothing). Quantized IO plugs in here as further cases.
 */
import { NotSupportedError } from '../../errors.js';
import type { TensorSpec } from '../../graphs/spec.js';
import type { DataTypeName } from '../../tensor/dtype.js';
import { elementCount } from './model.js';

/** A graph input as float32: `values` holds the tensor after `load()`. */
export interface FloatInput {
  readonly values: Float32Array;
  load(): void;
}

/** A graph output as float32: the executor writes `values`, then `store()` fills the bound buffer. */
export interface FloatOutput {
  readonly values: Float32Array;
  store(): void;
}

const FLOAT_IO_DTYPES: readonly DataTypeName[] = ['FLOAT_32'];

/** Why `spec` cannot be a float-valued graph tensor, or null if it can. */
export function floatIoProblem(spec: TensorSpec): string | null {
  if (FLOAT_IO_DTYPES.includes(spec.dtype)) return null;
  return `dtype ${spec.dtype} is not supported for float tensors (supported: ${FLOAT_IO_DTYPES.join(', ')})`;
}

export function tokenIdsProblem(spec: TensorSpec): string | null {
  return spec.dtype === 'INT_32' ? null : `dtype ${spec.dtype} is not supported for token ids (expected INT_32)`;
}

class Float32InPlace implements FloatInput, FloatOutput {
  readonly values: Float32Array;
  constructor(spec: TensorSpec, bytes: Uint8Array) {
    this.values = new Float32Array(bytes.buffer, bytes.byteOffset, elementCount(spec.shape));
  }
  load(): void {}
  store(): void {}
}

function floatIo(spec: TensorSpec, bytes: Uint8Array): FloatInput & FloatOutput {
  switch (spec.dtype) {
    case 'FLOAT_32':
      return new Float32InPlace(spec, bytes);
    default:
      throw new NotSupportedError(`tensor "${spec.name}": ${floatIoProblem(spec)}`);
  }
}

/** `bytes` is at least the tensor's size and aligned to its element size (checked by the caller). */
export const floatInput = (spec: TensorSpec, bytes: Uint8Array): FloatInput => floatIo(spec, bytes);
export const floatOutput = (spec: TensorSpec, bytes: Uint8Array): FloatOutput => floatIo(spec, bytes);

export function tokenIds(spec: TensorSpec, bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer, bytes.byteOffset, elementCount(spec.shape));
}
