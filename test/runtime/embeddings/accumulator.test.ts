import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { Accumulator, AccumulatorOverflowError } from '../../../src/runtime/embeddings/accumulator.js';
import { EmbeddingTable } from '../../../src/runtime/embeddings/lut.js';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/tensor/fp16.js';
import { exactError } from '../../expect-error.js';

/** Genie's Accumulator formula, written out (docs/genie-behaviour.md#vlm-pipeline): QNN offsets, round half away, clamp. */
function genieRequant(q: number, src: { scale: number; offset: number }, dst: { scale: number; offset: number }, min: number, max: number): number {
  const requantScale = src.scale / dst.scale;
  const requantOffset = src.offset * requantScale - dst.offset;
  const x = requantScale * q + requantOffset;
  const r = Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
  return Math.min(max, Math.max(min, r));
}

function genieQuantize(f: number, dst: { scale: number; offset: number }, min: number, max: number): number {
  const x = f / dst.scale - dst.offset;
  const r = Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
  return Math.min(max, Math.max(min, r));
}

describe('Accumulator', () => {
  const u16 = { scale: 0.001, offset: -32768 };

  it('requantizes u8 rows into a u16 input with Genie formula, edge codes included', () => {
    const src = { scale: 0.02, offset: -128 };
    const codes = Uint8Array.from([0, 1, 127, 128, 129, 254, 255, 64]);
    const acc = new Accumulator({ dtype: 'UFIXED_POINT_16', encoding: u16, rowElements: 4 }, 1 << 20);
    acc.appendRows({ data: codes, dtype: 'UFIXED_POINT_8', encoding: src }, 0, 2, 'image rows');
    const out = acc.rows();
    expect(out.dtype).toBe('UFIXED_POINT_16');
    expect(Array.from(out.data)).toEqual(Array.from(codes, (q) => genieRequant(q, src, u16, 0, 65535)));
  });

  it('clamps at the destination range (a wide source into a narrow input)', () => {
    const src = { scale: 0.001, offset: -32768 };
    const dst = { scale: 0.01, offset: -100 };
    const codes = Uint16Array.from([0, 65535, 32768, 20000]);
    const acc = new Accumulator({ dtype: 'UFIXED_POINT_8', encoding: dst, rowElements: 2 }, 64);
    acc.appendRows({ data: codes, dtype: 'UFIXED_POINT_16', encoding: src }, 0, 2, 'rows');
    const expected = Array.from(codes, (q) => genieRequant(q, src, dst, 0, 255));
    expect(expected).toContain(0);
    expect(expected).toContain(255);
    expect(Array.from(acc.rows().data)).toEqual(expected);
  });

  it('quantizes float32 and converts float16 sources; keeps append order', () => {
    const floats = Float32Array.from([-40, -1.5, 0, 0.25, 1, 31.9]);
    const halves = Uint16Array.from([0.5, -2, 3.25].map(float32ToFloat16));
    const acc = new Accumulator({ dtype: 'UFIXED_POINT_16', encoding: u16, rowElements: 3 }, 1024);
    acc.appendRows({ data: floats, dtype: 'FLOAT_32' }, 1, 1, 'text rows');
    acc.appendRows({ data: halves, dtype: 'FLOAT_16' }, 0, 1, 'image rows');
    acc.appendRows({ data: floats, dtype: 'FLOAT_32' }, 0, 1, 'more text');
    const expected = [
      ...Array.from(floats.subarray(3, 6), (f) => genieQuantize(f, u16, 0, 65535)),
      ...Array.from(halves, (h) => genieQuantize(float16ToFloat32(h), u16, 0, 65535)),
      ...Array.from(floats.subarray(0, 3), (f) => genieQuantize(f, u16, 0, 65535)),
    ];
    expect(acc.rowCount).toBe(3);
    expect(Array.from(acc.rows().data)).toEqual(expected);
  });

  it('dequantizes fixed point into a float32 input: scale * (q + offset)', () => {
    const src = { scale: 0.5, offset: -3 };
    const acc = new Accumulator({ dtype: 'FLOAT_32', rowElements: 2 }, 1024);
    acc.appendRows({ data: Int8Array.from([-128, 127]), dtype: 'SFIXED_POINT_8', encoding: src }, 0, 1, 'rows');
    expect(Array.from(acc.rows().data)).toEqual([0.5 * (-128 - 3), 0.5 * (127 - 3)]);
  });

  it('appends LUT rows of tokens, requantized like any producer', () => {
    const lutEnc = { scale: 0.05, offset: -10 };
    const lutRows = Uint8Array.from({ length: 5 * 2 }, (_, i) => (i * 37) % 256);
    const table = EmbeddingTable.fromRows({ nVocab: 5, size: 2, dtype: 'UFIXED_POINT_8', encoding: lutEnc }, lutRows);
    const acc = new Accumulator({ dtype: 'UFIXED_POINT_16', encoding: u16, rowElements: 2 }, 1024);
    acc.appendTokens([4, 0, 2], table, 'prefix text');
    const expected = [4, 0, 2].flatMap((t) => [0, 1].map((j) => genieRequant(lutRows[t * 2 + j], lutEnc, u16, 0, 65535)));
    expect(Array.from(acc.rows().data)).toEqual(expected);
    expect(() => acc.appendTokens([1, 5], table, 'suffix text')).toThrow(
      exactError(InvalidArgumentError, "suffix text[1] = 5 is outside the embedding LUT's 5 rows"),
    );
    expect(acc.rowCount).toBe(3);
  });

  it('is bounded by accumulator-size: an overflowing append changes nothing; growth keeps earlier rows', () => {
    const acc = new Accumulator({ dtype: 'FLOAT_32', rowElements: 4 }, 3 * 16);
    const rows = Float32Array.from({ length: 12 }, (_, i) => i);
    acc.appendRows({ data: rows, dtype: 'FLOAT_32' }, 0, 1, 'a');
    acc.appendRows({ data: rows, dtype: 'FLOAT_32' }, 1, 2, 'b');
    expect(Array.from(acc.rows().data)).toEqual(Array.from(rows));
    expect(() => acc.appendRows({ data: rows, dtype: 'FLOAT_32' }, 0, 1, 'image 2')).toThrow(
      exactError(
        AccumulatorOverflowError,
        'image 2 (1 rows of 16 bytes) does not fit in the embedding accumulator: 48 of 48 bytes (accumulator-size) are used, 64 would be',
      ),
    );
    expect(acc.rowCount).toBe(3);
    acc.clear();
    expect(acc.rowCount).toBe(0);
    acc.appendRows({ data: rows, dtype: 'FLOAT_32' }, 2, 1, 'c');
    expect(Array.from(acc.rows().data)).toEqual([8, 9, 10, 11]);
  });

  it('every 16-bit source code goes through the lookup table as through the formula (unsigned and signed, into 8 and 16 bits)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const cases = [
      { src: { data: all, dtype: 'UFIXED_POINT_16' as const, encoding: { scale: 3e-4, offset: -30000 } }, dst: { dtype: 'UFIXED_POINT_8' as const, encoding: { scale: 0.05, offset: -100 } }, min: 0, max: 255 },
      { src: { data: new Int16Array(all.buffer), dtype: 'SFIXED_POINT_16' as const, encoding: { scale: 2e-4, offset: 7 } }, dst: { dtype: 'UFIXED_POINT_16' as const, encoding: { scale: 1e-4, offset: -32768 } }, min: 0, max: 65535 },
    ];
    for (const { src, dst, min, max } of cases) {
      const acc = new Accumulator({ ...dst, rowElements: 256 }, 65536 * 2);
      acc.appendRows(src, 0, 256, 'rows');
      const got = acc.rows().data;
      for (let i = 0; i < 65536; i++) {
        const want = genieRequant(src.data[i], src.encoding, dst.encoding, min, max);
        if (got[i] !== want) expect({ code: src.data[i], got: got[i] }).toEqual({ code: src.data[i], got: want });
      }
    }
  });

  it('copies rows already in its format unchanged (float32 into float32; codes of the same encoding)', () => {
    const floats = Float32Array.from([1.5, -2.25, 3e-8, 1e30]);
    const f32 = new Accumulator({ dtype: 'FLOAT_32', rowElements: 2 }, 64);
    f32.appendRows({ data: floats, dtype: 'FLOAT_32' }, 0, 2, 'rows');
    expect(Array.from(f32.rows().data)).toEqual(Array.from(floats));
    const codes = Uint16Array.from([0, 1, 65535, 40000]);
    const same = new Accumulator({ dtype: 'UFIXED_POINT_16', encoding: u16, rowElements: 2 }, 64);
    same.appendRows({ data: codes, dtype: 'UFIXED_POINT_16', encoding: { ...u16 } }, 1, 1, 'rows');
    expect(Array.from(same.rows().data)).toEqual([65535, 40000]);
  });

  it('rejects bad formats and spans with typed errors', () => {
    expect(() => new Accumulator({ dtype: 'UFIXED_POINT_8', rowElements: 2 }, 10)).toThrow(
      exactError(InvalidArgumentError, 'accumulator dtype UFIXED_POINT_8 needs an encoding'),
    );
    expect(() => new Accumulator({ dtype: 'FLOAT_32', rowElements: 2 }, 0)).toThrow(
      exactError(InvalidArgumentError, 'accumulator size must be a positive number of bytes, got 0'),
    );
    const acc = new Accumulator({ dtype: 'FLOAT_32', rowElements: 2 }, 100);
    expect(() => acc.appendRows({ data: new Float32Array(4), dtype: 'FLOAT_32' }, 1, 2, 'rows')).toThrow(
      exactError(InvalidArgumentError, 'rows: rows [1, 3) are outside its 2 rows'),
    );
  });
});
