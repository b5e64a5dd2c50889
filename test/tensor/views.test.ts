import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { assertViewFor, typedView, viewClassName, type DataTypeName } from '../../src/tensor/index.js';

const EXPECTED_CLASS: Record<DataTypeName, string> = {
  INT_8: 'Int8Array',
  INT_16: 'Int16Array',
  INT_32: 'Int32Array',
  INT_64: 'BigInt64Array',
  UINT_8: 'Uint8Array',
  UINT_16: 'Uint16Array',
  UINT_32: 'Uint32Array',
  UINT_64: 'BigUint64Array',
  FLOAT_16: 'Uint16Array',
  BFLOAT_16: 'Uint16Array',
  FLOAT_32: 'Float32Array',
  SFIXED_POINT_8: 'Int8Array',
  SFIXED_POINT_16: 'Int16Array',
  SFIXED_POINT_32: 'Int32Array',
  UFIXED_POINT_8: 'Uint8Array',
  UFIXED_POINT_16: 'Uint16Array',
  UFIXED_POINT_32: 'Uint32Array',
  BOOL_8: 'Uint8Array',
};

describe('typedView', () => {
  it('gives a view of the dtype class over the same bytes, honouring byteOffset', () => {
    const buffer = new ArrayBuffer(64);
    for (const dtype of Object.keys(EXPECTED_CLASS) as DataTypeName[]) {
      const bytes = new Uint8Array(buffer, 8, 48);
      const view = typedView(bytes, dtype);
      expect(view.constructor.name).toBe(EXPECTED_CLASS[dtype]);
      expect(viewClassName(dtype)).toBe(EXPECTED_CLASS[dtype]);
      expect(view.buffer).toBe(buffer);
      expect(view.byteOffset).toBe(8);
      expect(view.byteLength).toBe(48);
    }
  });

  it('shares memory: a FLOAT_32 write shows up in the bytes (little-endian host)', () => {
    const bytes = new Uint8Array(8);
    typedView(bytes, 'FLOAT_32')[1] = 1; // 0x3f800000
    expect(Array.from(bytes)).toEqual([0, 0, 0, 0, 0, 0, 0x80, 0x3f]);
    typedView(bytes, 'FLOAT_16')[0] = 0x3c00;
    expect(bytes[1]).toBe(0x3c);
  });

  it('rejects a misaligned byteOffset with InvalidArgumentError naming the offset and element size', () => {
    const bytes = new Uint8Array(new ArrayBuffer(16), 2, 8);
    expect(() => typedView(bytes, 'FLOAT_32')).toThrow(InvalidArgumentError);
    expect(() => typedView(bytes, 'FLOAT_32')).toThrow(/bytes.byteOffset 2 is not a multiple of 4 \(element size of FLOAT_32\)/);
    expect(typedView(bytes, 'UFIXED_POINT_16').length).toBe(4);
  });

  it('rejects a byte length that is not a whole number of elements', () => {
    expect(() => typedView(new Uint8Array(6), 'INT_64')).toThrow(InvalidArgumentError);
    expect(() => typedView(new Uint8Array(6), 'INT_64')).toThrow(/bytes.byteLength 6 is not a multiple of 8 \(element size of INT_64\)/);
  });

  it('rejects an unknown dtype', () => {
    expect(() => typedView(new Uint8Array(4), 'HALF' as DataTypeName)).toThrow(InvalidArgumentError);
    expect(() => typedView(new Uint8Array(4), 'HALF' as DataTypeName)).toThrow(/unknown QNN data type "HALF"/);
  });
});

describe('assertViewFor', () => {
  it('accepts the dtype class (and subclasses such as Buffer) and names the argument otherwise', () => {
    expect(() => assertViewFor(new Uint16Array(1), 'FLOAT_16', 'x')).not.toThrow();
    expect(() => assertViewFor(Buffer.alloc(1), 'UFIXED_POINT_8', 'x')).not.toThrow();
    expect(() => assertViewFor(new Uint8Array(1), 'UFIXED_POINT_16', 'cosDst')).toThrow(InvalidArgumentError);
    expect(() => assertViewFor(new Uint8Array(1), 'UFIXED_POINT_16', 'cosDst')).toThrow(
      /cosDst must be a Uint16Array for UFIXED_POINT_16, got Uint8Array/,
    );
  });
});
