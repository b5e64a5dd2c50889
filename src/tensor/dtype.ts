import { InvalidArgumentError } from '../errors.js';

/** QNN data types with their `Qnn_DataType_t` values (the hex digits encode class and bit width). */
export const QnnDataType = {
  INT_8: 0x0008,
  INT_16: 0x0016,
  INT_32: 0x0032,
  INT_64: 0x0064,
  UINT_8: 0x0108,
  UINT_16: 0x0116,
  UINT_32: 0x0132,
  UINT_64: 0x0164,
  FLOAT_16: 0x0216,
  BFLOAT_16: 0x0226,
  FLOAT_32: 0x0232,
  SFIXED_POINT_8: 0x0308,
  SFIXED_POINT_16: 0x0316,
  SFIXED_POINT_32: 0x0332,
  UFIXED_POINT_8: 0x0408,
  UFIXED_POINT_16: 0x0416,
  UFIXED_POINT_32: 0x0432,
  BOOL_8: 0x0508,
} as const;

export type DataTypeName = keyof typeof QnnDataType;
export type DataTypeValue = (typeof QnnDataType)[DataTypeName];

const BYTE_SIZE: Readonly<Record<DataTypeName, number>> = {
  INT_8: 1, INT_16: 2, INT_32: 4, INT_64: 8,
  UINT_8: 1, UINT_16: 2, UINT_32: 4, UINT_64: 8,
  FLOAT_16: 2, BFLOAT_16: 2, FLOAT_32: 4,
  SFIXED_POINT_8: 1, SFIXED_POINT_16: 2, SFIXED_POINT_32: 4,
  UFIXED_POINT_8: 1, UFIXED_POINT_16: 2, UFIXED_POINT_32: 4,
  BOOL_8: 1,
};

const NAME_BY_VALUE = new Map<number, DataTypeName>(
  (Object.keys(QnnDataType) as DataTypeName[]).map((name) => [QnnDataType[name], name]),
);

export function isDataTypeName(name: string): name is DataTypeName {
  return Object.prototype.hasOwnProperty.call(QnnDataType, name);
}

/** Bytes per element of a QNN data type. */
export function byteSize(dtype: DataTypeName): number {
  const size = BYTE_SIZE[dtype];
  if (size === undefined) throw new InvalidArgumentError(`unknown QNN data type "${String(dtype)}"`);
  return size;
}

/** The name of a `Qnn_DataType_t` value, e.g. 0x0416 -> "UFIXED_POINT_16". */
export function dataTypeName(value: number): DataTypeName {
  const name = NAME_BY_VALUE.get(value);
  if (name === undefined) {
    throw new InvalidArgumentError(`unknown Qnn_DataType_t value 0x${value.toString(16).padStart(4, '0')}`);
  }
  return name;
}

/** Fixed-point types carry a scale/offset encoding: `float = (q + offset) * scale`. */
export function isFixedPoint(dtype: DataTypeName): boolean {
  return dtype.startsWith('UFIXED_POINT_') || dtype.startsWith('SFIXED_POINT_');
}

export function isFloat(dtype: DataTypeName): boolean {
  return dtype === 'FLOAT_16' || dtype === 'BFLOAT_16' || dtype === 'FLOAT_32';
}

/** Inclusive code range of an integer or fixed-point type of at most 32 bits. */
export function codeRange(dtype: DataTypeName): { min: number; max: number } {
  const bits = byteSize(dtype) * 8;
  if (isFloat(dtype) || bits > 32) throw new InvalidArgumentError(`data type ${dtype} has no integer code range`);
  if (dtype.startsWith('SFIXED') || dtype.startsWith('INT_')) {
    return { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 };
  }
  if (dtype === 'BOOL_8') return { min: 0, max: 1 };
  return { min: 0, max: 2 ** bits - 1 };
}

/** A per-tensor scale/offset encoding in QNN's convention (offset = -zero_point). */
export interface Encoding {
  readonly scale: number;
  readonly offset: number;
}

/** Typed arrays the hot-path modules accept as element storage. */
export type CodeArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;
export type ElementArray = CodeArray | Float32Array;
