import { byteSize } from '../tensor/dtype.js';
import { elementCount } from '../tensor/shape.js';
import type { TensorSpec } from './spec.js';

export function tensorByteLength(tensor: TensorSpec): number {
  return elementCount(tensor.shape) * byteSize(tensor.dtype);
}

/** `d` counted from the end: `dimFromEnd(shape, 1)` is the last dim. */
export function dimFromEnd(shape: readonly number[], fromEnd: number): number {
  return shape[shape.length - fromEnd];
}

/** Product of all dims but the last (rows of a `[..., width]` tensor). */
export function leadingElements(shape: readonly number[]): number {
  return elementCount(shape) / dimFromEnd(shape, 1);
}

/** Product of all dims but the last two (heads of a KV tensor). */
export function leadingHeads(shape: readonly number[]): number {
  return elementCount(shape.slice(0, -2));
}
