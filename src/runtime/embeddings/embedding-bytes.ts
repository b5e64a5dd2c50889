import { InvalidArgumentError } from '../../errors.js';
import { byteSize, type DataTypeName } from '../../tensor/dtype.js';

/**
 * The number of embedding rows in `byteLength` bytes of rows `rowElements` wide in `dtype` (e.g. a
 * user's embedding file for an embedding query: float32, or the model input's dtype).
 * @throws InvalidArgumentError naming `what`, its byte count and the row size when the data is
 * empty or not a whole number of rows.
 */
export function checkEmbeddingBytes(byteLength: number, rowElements: number, dtype: DataTypeName, what = 'embedding data'): number {
  if (!Number.isSafeInteger(rowElements) || rowElements < 1) {
    throw new InvalidArgumentError(`rowElements must be a positive integer, got ${rowElements}`);
  }
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) {
    throw new InvalidArgumentError(`byteLength must be a non-negative integer, got ${byteLength}`);
  }
  const rowBytes = rowElements * byteSize(dtype);
  if (byteLength === 0 || byteLength % rowBytes !== 0) {
    throw new InvalidArgumentError(
      `${what} has ${byteLength} bytes, not a positive multiple of one row (${rowElements} x ${byteSize(dtype)} bytes ` +
        `of ${dtype} = ${rowBytes} bytes)`,
    );
  }
  return byteLength / rowBytes;
}
