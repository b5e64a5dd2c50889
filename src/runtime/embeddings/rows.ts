import { InvalidArgumentError } from '../../errors.js';
import { byteSize, isFixedPoint, type DataTypeName, type ElementArray, type Encoding } from '../../tensor/dtype.js';
import { validateEncoding } from '../../tensor/encoding.js';
import { float16ToFloat32, float32ToFloat16 } from '../../tensor/fp16.js';
import { requantizeArray } from '../../tensor/quant.js';
import { assertViewFor, typedView } from '../../tensor/views.js';
import { checkEmbeddingBytes } from './embedding-bytes.js';

/**
 * Embedding rows in memory, row-major: float32 values (FLOAT_32), float16 bits (FLOAT_16, as a
 * model input only) or fixed-point codes with their encoding (QNN convention).
 */
export interface EmbeddingRows {
  readonly data: ElementArray;
  readonly dtype: DataTypeName;
  readonly encoding?: Encoding;
}

/**
 * Validates caller-given rows (an embedding query, a token-to-embedding callback's row) of
 * `rowElements` elements each and returns how many rows they hold: the dtype is FLOAT_32 or fixed
 * point, fixed point comes with a valid encoding (float does not), `data` is the dtype's typed-array
 * class, its bytes are a whole positive number of rows, and float values are finite.
 * @throws InvalidArgumentError naming `name` and the offending value.
 */
export function checkEmbeddingRows(rows: EmbeddingRows, rowElements: number, name: string): number {
  const { data, dtype, encoding } = rows;
  if (dtype !== 'FLOAT_32' && !isFixedPoint(dtype)) {
    throw new InvalidArgumentError(`${name} dtype ${String(dtype)} is not supported (FLOAT_32 or a fixed-point type)`);
  }
  if (isFixedPoint(dtype)) {
    if (encoding === undefined) throw new InvalidArgumentError(`${name} are ${dtype} but no encoding was given`);
    validateEncoding(encoding, `${name} encoding`);
  } else if (encoding !== undefined) {
    throw new InvalidArgumentError(`${name} are FLOAT_32: an encoding applies to fixed-point embeddings only`);
  }
  assertViewFor(data, dtype, name);
  const count = checkEmbeddingBytes(data.byteLength, rowElements, dtype, name);
  if (dtype === 'FLOAT_32') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isFinite(v)) throw new InvalidArgumentError(`${name}[${i}] = ${v} is not a finite number`);
    }
  }
  return count;
}

/**
 * Copies `count` rows of `size` elements from row `srcRow` of `src` to row `dstRow` of `dst`,
 * re-expressed in `dst`'s dtype and encoding (quantize, dequantize, requantize, or a float16
 * conversion through float32). Equal fixed-point encodings copy the codes unchanged. Arguments are
 * assumed validated; nothing is allocated, except for a float16 source (an image encoder's output)
 * into a non-float16 destination, which goes through one float32 copy of the span.
 */
export function copyEmbeddingRows(
  src: EmbeddingRows,
  srcRow: number,
  dst: EmbeddingRows,
  dstRow: number,
  count: number,
  size: number,
): void {
  const from = srcRow * size;
  const to = dstRow * size;
  const n = count * size;
  if (src.dtype === 'FLOAT_16') {
    const bits = src.data as Uint16Array;
    if (dst.dtype === 'FLOAT_16') {
      dst.data.set(bits.subarray(from, from + n), to);
      return;
    }
    const floats = new Float32Array(n);
    for (let i = 0; i < n; i++) floats[i] = float16ToFloat32(bits[from + i]);
    requantizeArray(floats, undefined, dst.data, dst.encoding, dst.dtype, 0, to, n);
    return;
  }
  if (dst.dtype !== 'FLOAT_16') {
    requantizeArray(src.data, src.encoding, dst.data, dst.encoding, dst.dtype, from, to, n);
    return;
  }
  const s = src.data;
  const d = dst.data;
  if (src.encoding === undefined) {
    for (let i = 0; i < n; i++) d[to + i] = float32ToFloat16(s[from + i]);
  } else {
    const { scale, offset } = src.encoding;
    for (let i = 0; i < n; i++) d[to + i] = float32ToFloat16((s[from + i] + offset) * scale);
  }
}

/** A zeroed array of `elements` elements in the typed-array class of `dtype`. */
export function allocateEmbeddingRows(dtype: DataTypeName, elements: number): ElementArray {
  return typedView(new Uint8Array(elements * byteSize(dtype)), dtype) as ElementArray;
}
