import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { LogitsView } from '../../src/sampler/index.js';
import { DTYPES, ENCODINGS, makeLogits, randomLogits } from './fixtures.js';
import { argmax, dequantizeRow, sortedTokens, testRng } from './oracle.js';

const VOCAB = 97;

function rows(seed: string, count: number, step = 0): number[][] {
  const rng = testRng(seed);
  return Array.from({ length: count }, () => randomLogits(rng, VOCAB, 3, step));
}

describe('LogitsView reads every dtype in place', () => {
  it.each(DTYPES)('%s: dequantizeInto and value() match the dequantization formula on every row', (dtype) => {
    const { view, data, encoding } = makeLogits(dtype, rows(`deq-${dtype}`, 3));
    const dst = new Float32Array(VOCAB);
    for (let row = 0; row < 3; row++) {
      const expected = dequantizeRow(dtype, data, row, VOCAB, encoding);
      const top = view.setRow(row).dequantizeInto(dst);
      expect(Array.from(dst)).toEqual(expected);
      expect(top).toBe(argmax(expected));
      expect(view.row).toBe(row);
      for (const t of [0, 13, VOCAB - 1]) expect(view.value(t)).toBe(expected[t]);
      const into = new Float32Array(3);
      [0, 13, VOCAB - 1].forEach((t, i) => view.valueInto(t, into, i));
      expect(Array.from(into)).toEqual([expected[0], expected[13], expected[VOCAB - 1]]);
    }
  });

  it.each(DTYPES)('%s: argmax of the raw codes equals the argmax of the dequantized values, ties included', (dtype) => {
    for (const step of [0, 0.5, 2]) {
      const { view, data, encoding } = makeLogits(dtype, rows(`argmax-${dtype}-${step}`, 4, step));
      for (let row = 0; row < 4; row++) {
        expect(view.setRow(row).argmax()).toBe(argmax(dequantizeRow(dtype, data, row, VOCAB, encoding)));
      }
    }
  });

  it('float16 argmax orders negative values, -0 and +0 like their values (first index on ties)', () => {
    // -2, -0, -1, +0, -0.5: the max is 0, first reached by -0 at index 1.
    const bits = Uint16Array.from([0xc000, 0x8000, 0xbc00, 0x0000, 0xb800]);
    expect(new LogitsView(bits, { dtype: 'FLOAT_16', vocab: 5 }).argmax()).toBe(1);
    const negatives = Uint16Array.from([0xc000, 0xbc00, 0xb800, 0xc200]); // -2, -1, -0.5, -3
    expect(new LogitsView(negatives, { dtype: 'FLOAT_16', vocab: 4 }).argmax()).toBe(2);
  });

  it.each(DTYPES)('%s: topKInto keeps the k best tokens and dequantizes them', (dtype) => {
    const { view, data, encoding } = makeLogits(dtype, rows(`topk-${dtype}`, 2, 0.5));
    const tokens = new Int32Array(VOCAB);
    const values = new Float32Array(VOCAB);
    for (const k of [1, 5, 40, VOCAB]) {
      const expected = dequantizeRow(dtype, data, 1, VOCAB, encoding);
      const top = view.setRow(1).topKInto(k, tokens, values);
      const kept = Array.from(tokens.subarray(0, k));
      expect(kept.slice().sort((a, b) => a - b)).toEqual(sortedTokens(expected).slice(0, k).sort((a, b) => a - b));
      for (const t of kept) expect(values[t]).toBe(expected[t]);
      expect(top).toBe(argmax(expected));
    }
  });

  it('views the caller memory without copying: later writes are seen, byteOffset honoured', () => {
    const buffer = new ArrayBuffer(8 + 2 * 2 * 4);
    const codes = new Uint16Array(buffer, 8, 8);
    const view = new LogitsView(new Uint8Array(buffer, 8), { dtype: 'UFIXED_POINT_16', vocab: 4, encoding: { scale: 0.5, offset: -10 } });
    expect(view.rows).toBe(2);
    codes.set([10, 12, 11, 10, 30, 10, 10, 40]);
    expect(view.setRow(0).argmax()).toBe(1);
    expect(view.setRow(1).argmax()).toBe(3);
    codes[4] = 50;
    expect(view.argmax()).toBe(0);
    expect(view.value(0)).toBe(20);
  });

  it('accepts an explicit row count smaller than the buffer (a buffer shared by several graphs)', () => {
    const view = new LogitsView(new Float32Array(10), { dtype: 'FLOAT_32', vocab: 3, rows: 2 });
    expect(view.rows).toBe(2);
    expect(view.encoding).toEqual({ scale: 1, offset: 0 });
  });
});

describe('LogitsView rejects bad input with a message naming it', () => {
  const u16 = () => new Uint16Array(8);
  const enc = ENCODINGS.UFIXED_POINT_16;
  const cases: [string, () => unknown, RegExp][] = [
    ['unsupported dtype', () => new LogitsView(new Int32Array(4), { dtype: 'INT_32', vocab: 4 }), /logits dtype must be one of FLOAT_32, FLOAT_16, UFIXED_POINT_8, UFIXED_POINT_16, got INT_32/],
    ['vocab 0', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 0 }), /logits vocab must be a positive integer, got 0/],
    ['vocab 2.5', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 2.5 }), /logits vocab must be a positive integer, got 2.5/],
    ['misaligned byteOffset', () => new LogitsView(new Uint8Array(new ArrayBuffer(20), 1, 16), { dtype: 'FLOAT_16', vocab: 4 }), /byteOffset 1 is not a multiple of the FLOAT_16 element size 2/],
    ['size not a multiple of vocab', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 3 }), /holds 8 FLOAT_16 elements, not a positive multiple of vocab 3; pass rows/],
    ['buffer smaller than one row', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 16 }), /holds 8 FLOAT_16 elements, not a positive multiple of vocab 16/],
    ['too many rows', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 4, rows: 3 }), /logits rows 3 x vocab 4 needs 12 elements, data holds 8/],
    ['rows 0', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 4, rows: 0 }), /logits rows must be a positive integer, got 0/],
    ['missing encoding', () => new LogitsView(u16(), { dtype: 'UFIXED_POINT_16', vocab: 4 }), /logits encoding is required for UFIXED_POINT_16/],
    ['encoding on a float dtype', () => new LogitsView(u16(), { dtype: 'FLOAT_16', vocab: 4, encoding: enc }), /logits encoding must be absent for float dtype FLOAT_16/],
    ['scale 0', () => new LogitsView(u16(), { dtype: 'UFIXED_POINT_16', vocab: 4, encoding: { scale: 0, offset: 0 } }), /encoding.scale must be a finite number > 0, got 0/],
    ['negative scale', () => new LogitsView(u16(), { dtype: 'UFIXED_POINT_16', vocab: 4, encoding: { scale: -1, offset: 0 } }), /encoding.scale must be a finite number > 0, got -1/],
    ['NaN offset', () => new LogitsView(u16(), { dtype: 'UFIXED_POINT_16', vocab: 4, encoding: { scale: 1, offset: NaN } }), /encoding.offset must be a finite number, got NaN/],
  ];
  it.each(cases)('%s', (_name, make, message) => {
    expect(make).toThrow(InvalidArgumentError);
    expect(make).toThrow(message);
  });

  it('bad row, token, k or destination leave the view usable on its current row', () => {
    const { view } = makeLogits('UFIXED_POINT_8', [[0, 1, 2, 3], [3, 2, 1, 0]]);
    view.setRow(1);
    const bad: [() => unknown, RegExp][] = [
      [() => view.setRow(2), /logits row must be an integer in \[0, 2\), got 2/],
      [() => view.setRow(-1), /logits row must be an integer in \[0, 2\), got -1/],
      [() => view.value(4), /token must be an integer in \[0, 4\), got 4/],
      [() => view.valueInto(4, new Float32Array(1), 0), /token must be an integer in \[0, 4\), got 4/],
      [() => view.valueInto(1, new Float32Array(1), 1), /valueInto needs a Float32Array dst and an index in it, got index 1 of a Float32Array of 1/],
      [() => view.valueInto(1, new Float64Array(1) as never, 0), /valueInto needs a Float32Array dst and an index in it, got a Float64Array/],
      [() => view.dequantizeInto(new Float32Array(3)), /dequantizeInto dst has length 3, needs at least vocab 4/],
      [() => view.topKInto(0, new Int32Array(4), new Float32Array(4)), /topKInto k must be an integer in \[1, 4\], got 0/],
      [() => view.topKInto(3, new Int32Array(2), new Float32Array(4)), /topKInto tokens has length 2, needs at least k 3/],
      [() => view.topKInto(3, new Int32Array(4), new Float32Array(2)), /topKInto values has length 2, needs at least vocab 4/],
    ];
    for (const [call, message] of bad) {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    }
    expect(view.row).toBe(1);
    expect(view.argmax()).toBe(0);
  });

  it('NaN, +Infinity or a row without a finite value is an error naming the row and token', () => {
    const f32 = new Float32Array([0, 1, NaN, 2, 0, Infinity, -Infinity, -Infinity, -Infinity]);
    const view = new LogitsView(f32, { dtype: 'FLOAT_32', vocab: 3 });
    const dst = new Float32Array(3);
    for (const call of [() => view.setRow(0).dequantizeInto(dst), () => view.setRow(0).argmax()]) {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(/logits row 0 has NaN at token 2/);
    }
    expect(() => view.setRow(1).dequantizeInto(dst)).toThrow(/logits row 1 has Infinity at token 2/);
    expect(() => view.setRow(1).argmax()).toThrow(/logits row 1 has Infinity at token 2/);
    expect(() => view.setRow(2).dequantizeInto(dst)).toThrow(/logits row 2 has no finite value/);
    expect(() => view.setRow(2).argmax()).toThrow(/logits row 2 has no finite value/);
    const half = new LogitsView(Uint16Array.from([0x3c00, 0x7e00]), { dtype: 'FLOAT_16', vocab: 2 });
    expect(() => half.argmax()).toThrow(/logits row 0 has NaN at token 1/);
    expect(() => half.dequantizeInto(dst)).toThrow(/logits row 0 has NaN at token 1/);
    f32[2] = 5;
    expect(view.setRow(0).argmax()).toBe(2);
  });
});
