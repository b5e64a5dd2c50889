import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  QnnDataType,
  byteSize,
  codeRange,
  dataTypeName,
  isDataTypeName,
  isFixedPoint,
  isFloat,
  type DataTypeName,
} from '../../src/tensor/index.js';

/**
 * docs/qnn-abi.md#data-types, `Qnn_DataType_t` (H243): name, value, bytes (4-bit, STRING, FLOAT_64
 * left out).
 */
const QNN_ABI_TABLE: ReadonlyArray<readonly [DataTypeName, number, number]> = [
  ['INT_8', 0x0008, 1],
  ['INT_16', 0x0016, 2],
  ['INT_32', 0x0032, 4],
  ['INT_64', 0x0064, 8],
  ['UINT_8', 0x0108, 1],
  ['UINT_16', 0x0116, 2],
  ['UINT_32', 0x0132, 4],
  ['UINT_64', 0x0164, 8],
  ['FLOAT_16', 0x0216, 2],
  ['BFLOAT_16', 0x0226, 2],
  ['FLOAT_32', 0x0232, 4],
  ['SFIXED_POINT_8', 0x0308, 1],
  ['SFIXED_POINT_16', 0x0316, 2],
  ['SFIXED_POINT_32', 0x0332, 4],
  ['UFIXED_POINT_8', 0x0408, 1],
  ['UFIXED_POINT_16', 0x0416, 2],
  ['UFIXED_POINT_32', 0x0432, 4],
  ['BOOL_8', 0x0508, 1],
];

describe('QNN data types', () => {
  it('have the values and byte sizes of the docs/qnn-abi.md#data-types table, and nothing else', () => {
    expect(Object.keys(QnnDataType).sort()).toEqual(QNN_ABI_TABLE.map(([n]) => n).sort());
    for (const [name, value, bytes] of QNN_ABI_TABLE) {
      expect(QnnDataType[name]).toBe(value);
      expect(byteSize(name)).toBe(bytes);
      expect(dataTypeName(value)).toBe(name);
      expect(isDataTypeName(name)).toBe(true);
    }
  });

  it('byte size equals the bit width in the low hex digits / 8 (BFLOAT_16 = 0x0226 is the exception)', () => {
    for (const [name, value] of QNN_ABI_TABLE) {
      if (name === 'BFLOAT_16') continue;
      const bits = Number((value & 0xff).toString(16));
      expect(byteSize(name)).toBe(bits / 8);
    }
  });

  it('classify fixed-point and float types by the class digit', () => {
    for (const [name, value] of QNN_ABI_TABLE) {
      const cls = value >> 8;
      expect(isFixedPoint(name)).toBe(cls === 3 || cls === 4);
      expect(isFloat(name)).toBe(cls === 2);
    }
  });

  it('give two-complement / unsigned code ranges', () => {
    expect(codeRange('UFIXED_POINT_8')).toEqual({ min: 0, max: 255 });
    expect(codeRange('UFIXED_POINT_16')).toEqual({ min: 0, max: 65535 });
    expect(codeRange('UFIXED_POINT_32')).toEqual({ min: 0, max: 4294967295 });
    expect(codeRange('SFIXED_POINT_8')).toEqual({ min: -128, max: 127 });
    expect(codeRange('SFIXED_POINT_16')).toEqual({ min: -32768, max: 32767 });
    expect(codeRange('INT_32')).toEqual({ min: -2147483648, max: 2147483647 });
    expect(codeRange('BOOL_8')).toEqual({ min: 0, max: 1 });
  });

  it('reject unknown names and values with InvalidArgumentError naming them', () => {
    expect(() => byteSize('FLOAT_8' as DataTypeName)).toThrow(InvalidArgumentError);
    expect(() => byteSize('FLOAT_8' as DataTypeName)).toThrow(/unknown QNN data type "FLOAT_8"/);
    expect(() => dataTypeName(0x0404)).toThrow(/unknown Qnn_DataType_t value 0x0404/);
    expect(() => codeRange('FLOAT_32')).toThrow(/FLOAT_32 has no integer code range/);
    expect(isDataTypeName('toString')).toBe(false);
  });
});
