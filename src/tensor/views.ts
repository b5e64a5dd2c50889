import { InvalidArgumentError } from '../errors.js';
import { byteSize, isDataTypeName, type DataTypeName } from './dtype.js';

/** The typed-array class holding the elements of each dtype; FLOAT_16 and BFLOAT_16 are raw uint16 bits. */
export interface TypedViewMap {
  INT_8: Int8Array;
  INT_16: Int16Array;
  INT_32: Int32Array;
  INT_64: BigInt64Array;
  UINT_8: Uint8Array;
  UINT_16: Uint16Array;
  UINT_32: Uint32Array;
  UINT_64: BigUint64Array;
  FLOAT_16: Uint16Array;
  BFLOAT_16: Uint16Array;
  FLOAT_32: Float32Array;
  SFIXED_POINT_8: Int8Array;
  SFIXED_POINT_16: Int16Array;
  SFIXED_POINT_32: Int32Array;
  UFIXED_POINT_8: Uint8Array;
  UFIXED_POINT_16: Uint16Array;
  UFIXED_POINT_32: Uint32Array;
  BOOL_8: Uint8Array;
}

export type TypedView<D extends DataTypeName = DataTypeName> = TypedViewMap[D];

interface ViewClass {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedView;
  readonly name: string;
}

const VIEW_CLASS: { readonly [D in DataTypeName]: ViewClass } = {
  INT_8: Int8Array,
  INT_16: Int16Array,
  INT_32: Int32Array,
  INT_64: BigInt64Array,
  UINT_8: Uint8Array,
  UINT_16: Uint16Array,
  UINT_32: Uint32Array,
  UINT_64: BigUint64Array,
  FLOAT_16: Uint16Array,
  BFLOAT_16: Uint16Array,
  FLOAT_32: Float32Array,
  SFIXED_POINT_8: Int8Array,
  SFIXED_POINT_16: Int16Array,
  SFIXED_POINT_32: Int32Array,
  UFIXED_POINT_8: Uint8Array,
  UFIXED_POINT_16: Uint16Array,
  UFIXED_POINT_32: Uint32Array,
  BOOL_8: Uint8Array,
};

function viewClass(dtype: DataTypeName): ViewClass {
  if (!isDataTypeName(dtype)) throw new InvalidArgumentError(`unknown QNN data type "${String(dtype)}"`);
  return VIEW_CLASS[dtype];
}

/** The name of the typed-array class that holds `dtype` elements, e.g. "Uint16Array" for FLOAT_16. */
export function viewClassName(dtype: DataTypeName): string {
  return viewClass(dtype).name;
}

/**
 * A typed array of the dtype's class over the same memory as `bytes` (no copy). The byte offset must be
 * aligned to the element size and the byte length a whole number of elements.
 */
export function typedView<D extends DataTypeName>(bytes: Uint8Array, dtype: D): TypedView<D> {
  const cls = viewClass(dtype);
  const size = byteSize(dtype);
  if (bytes.byteOffset % size !== 0) {
    throw new InvalidArgumentError(
      `typedView: bytes.byteOffset ${bytes.byteOffset} is not a multiple of ${size} (element size of ${dtype})`,
    );
  }
  if (bytes.byteLength % size !== 0) {
    throw new InvalidArgumentError(
      `typedView: bytes.byteLength ${bytes.byteLength} is not a multiple of ${size} (element size of ${dtype})`,
    );
  }
  return new cls(bytes.buffer, bytes.byteOffset, bytes.byteLength / size) as TypedView<D>;
}

/** Throws unless `array` is an instance of the typed-array class that holds `dtype` elements. */
export function assertViewFor(array: ArrayBufferView, dtype: DataTypeName, argName: string): void {
  const cls = viewClass(dtype);
  if (!(array instanceof cls)) {
    const got = (array as { constructor?: { name?: string } } | null)?.constructor?.name ?? String(array);
    throw new InvalidArgumentError(`${argName} must be a ${cls.name} for ${dtype}, got ${got}`);
  }
}

/** Throws unless `array` holds at least `needed` elements. */
export function assertMinLength(array: { readonly length: number }, needed: number, argName: string, what: string): void {
  if (array.length < needed) {
    throw new InvalidArgumentError(`${argName} has ${array.length} elements, needs ${what} = ${needed}`);
  }
}

/**
 * Detaches `buffer` (its memory is released to the garbage collector): every view of it then has
 * length 0, reads give undefined and typed-array methods throw TypeError. Node 20 has no
 * `ArrayBuffer.prototype.transfer`; a structured clone that transfers the buffer detaches it.
 * `structuredClone` copies buffers of external memory (such as Koffi views) instead of transferring
 * them, so that case is an error here rather than a silent no-op; the QNN binding detaches those
 * through a Streams BYOB transfer instead (`src/qnn/binding/memory.ts`).
 */
export function detachArrayBuffer(buffer: ArrayBuffer): void {
  const byteLength = buffer.byteLength;
  structuredClone(buffer, { transfer: [buffer] });
  if (byteLength > 0 && buffer.byteLength !== 0) {
    throw new InvalidArgumentError(`detachArrayBuffer: this ${byteLength}-byte ArrayBuffer cannot be detached (external memory)`);
  }
}
