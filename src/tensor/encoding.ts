/** Validation of scale/offset encodings and the fixed-point dtypes that carry them. */
import { InvalidArgumentError } from '../errors.js';
import { codeRange, isDataTypeName, isFixedPoint, type DataTypeName, type Encoding } from './dtype.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Throws unless `scale` is finite and > 0 and `offset` is an int32 (Qnn_ScaleOffset_t). */
export function validateEncoding(encoding: Encoding, argName = 'encoding'): void {
  if (encoding === null || typeof encoding !== 'object') {
    throw new InvalidArgumentError(`${argName} must be an object {scale, offset}, got ${String(encoding)}`);
  }
  const { scale, offset } = encoding;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new InvalidArgumentError(`${argName}.scale must be a finite number > 0, got ${String(scale)}`);
  }
  if (!Number.isInteger(offset) || offset < INT32_MIN || offset > INT32_MAX) {
    throw new InvalidArgumentError(`${argName}.offset must be an int32 integer, got ${String(offset)}`);
  }
}

/** Throws unless `dtype` is a fixed-point type (the only ones that carry a scale/offset encoding). */
export function assertFixedPoint(dtype: DataTypeName, argName = 'dtype'): void {
  if (!isDataTypeName(dtype)) throw new InvalidArgumentError(`${argName}: unknown QNN data type "${String(dtype)}"`);
  if (!isFixedPoint(dtype)) {
    throw new InvalidArgumentError(`${argName} must be a UFIXED_POINT_* or SFIXED_POINT_* type, got ${dtype}`);
  }
}

export type CodeRange = { readonly min: number; readonly max: number };

/** Code ranges of the fixed-point types, built once so the array functions allocate nothing. */
const FIXED_RANGES = new Map<DataTypeName, CodeRange>(
  (['UFIXED_POINT_8', 'UFIXED_POINT_16', 'UFIXED_POINT_32', 'SFIXED_POINT_8', 'SFIXED_POINT_16', 'SFIXED_POINT_32'] as const).map(
    (dtype) => [dtype, codeRange(dtype)],
  ),
);

/** The code range of a dtype already checked by `assertFixedPoint`. */
export function fixedRange(dtype: DataTypeName): CodeRange {
  return FIXED_RANGES.get(dtype) as CodeRange;
}
