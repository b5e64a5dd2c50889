import { InvalidArgumentError } from '../errors.js';
import { byteSize, codeRange, isFixedPoint, isFloat, type DataTypeName, type Encoding } from '../tensor/dtype.js';

/**
 * The element value that fills empty KV slots: the stored form of 0.0, so a slot the mask hides
 * still contributes a zero key/value.
 *
 * - Float types (FLOAT_32, FLOAT_16/BFLOAT_16 as bit patterns): 0.
 * - Fixed point with an encoding: the code of 0.0, i.e. `-offset` (QNN `float = (q + offset) * scale`),
 *   clamped to the code range when 0.0 is not representable (the code nearest to 0.0).
 *   Symmetric uint8 (offset -128) gives 128.
 * - Otherwise Genie's constant: `1 << (bits - 1)` for unsigned types (uint8 128, uint16 32768),
 *   0 for signed ones.
 */
export function kvClearValue(dtype: DataTypeName, encoding?: Encoding): number {
  if (isFloat(dtype)) return 0;
  if (dtype === 'BOOL_8') throw new InvalidArgumentError(`KV dtype ${dtype} is not a KV cache type`);
  const { min, max } = codeRange(dtype);
  if (encoding !== undefined && isFixedPoint(dtype)) {
    if (!Number.isFinite(encoding.offset)) {
      throw new InvalidArgumentError(`encoding.offset must be a finite number, got ${encoding.offset}`);
    }
    // `+ 0` turns -0 (from offset 0) into 0.
    return Math.min(max, Math.max(min, Math.round(-encoding.offset) + 0));
  }
  return min < 0 ? 0 : 2 ** (byteSize(dtype) * 8 - 1);
}
