import { DisposedError, InvalidArgumentError } from '../errors.js';
import type { DataTypeName, Encoding } from '../tensor/dtype.js';
import { float16ToFloat32 } from '../tensor/fp16.js';
import { argmaxCodes16Simd, argmaxFloat32Simd, dequantizeCodes16Simd, topKCodes16Simd, topKFloat32Simd } from '../simd/logits.js';
import {
  argmaxCodes8, countCodes16, countCodes8, pickCodes16, pickCodes8, argmaxFloat16, dequantizeFloat16,
  dequantizeTokens, dequantizeUint8,
} from './logits-kernels.js';
import { selectTopK } from './rank.js';

/**
 * The logits dtypes a view can read: Genie's getDequantLogits cases
 * (docs/genie-behaviour.md#logits-dequantization).
 */
export type LogitsDataType = 'FLOAT_32' | 'FLOAT_16' | 'UFIXED_POINT_8' | 'UFIXED_POINT_16';

const LOGITS_DATA_TYPES: readonly LogitsDataType[] = ['FLOAT_32', 'FLOAT_16', 'UFIXED_POINT_8', 'UFIXED_POINT_16'];

export interface LogitsLayout {
  readonly dtype: DataTypeName;
  /** Elements per row. */
  readonly vocab: number;
  /** Rows in the buffer; default: all of it (its element count must then be a multiple of `vocab`). */
  readonly rows?: number;
  /** Required for the fixed-point dtypes (`float = (q + offset) * scale`), absent for the float ones. */
  readonly encoding?: Encoding;
}

const EMPTY_F32 = new Float32Array(0);
const EMPTY_U16 = new Uint16Array(0);
const EMPTY_U8 = new Uint8Array(0);

/**
 * One row at a time of a logits tensor `(rows, vocab)`, read in place from the engine's buffer (no copy).
 * Create it once per buffer; `setRow` only moves an offset. Each dtype has its own loops over its own
 * typed array (logits-kernels.ts) so V8 keeps them monomorphic. The argmax and top-k of uint16 codes
 * and float32 values, and the reads of whole uint16 and float32 rows, run as WebAssembly SIMD passes
 * (src/simd/logits.ts) with the results of the scalar loops, heap order included.
 */
export class LogitsView {
  readonly dtype: LogitsDataType;
  readonly vocab: number;
  readonly rows: number;
  /** Identity encoding (`scale 1, offset 0`) for the float dtypes. */
  readonly encoding: Encoding;
  // Emptied by `release`: the arrays may view memory its owner frees.
  private f32: Float32Array;
  private u16: Uint16Array;
  private u8: Uint8Array;
  // The current row as its own array, what the SIMD kernels copy from: made when the row changes, so
  // a decode loop reading the same row allocates nothing.
  private rowF32: Float32Array;
  private rowU16: Uint16Array;
  private released = false;
  private currentRow = 0;
  private offset = 0;

  constructor(data: ArrayBufferLike | ArrayBufferView, layout: LogitsLayout) {
    const dtype = checkDataType(layout.dtype);
    const { vocab } = layout;
    if (!Number.isSafeInteger(vocab) || vocab < 1) {
      throw new InvalidArgumentError(`logits vocab must be a positive integer, got ${String(vocab)}`);
    }
    this.encoding = checkEncoding(dtype, layout.encoding);
    const elementBytes = dtype === 'FLOAT_32' ? 4 : dtype === 'UFIXED_POINT_8' ? 1 : 2;
    const buffer = ArrayBuffer.isView(data) ? data.buffer : data;
    const byteOffset = ArrayBuffer.isView(data) ? data.byteOffset : 0;
    const { byteLength } = data;
    if (byteOffset % elementBytes !== 0) {
      throw new InvalidArgumentError(
        `logits data byteOffset ${byteOffset} is not a multiple of the ${dtype} element size ${elementBytes}`,
      );
    }
    const elements = Math.floor(byteLength / elementBytes);
    this.rows = checkRows(layout.rows, elements, vocab, dtype);
    const length = this.rows * vocab;
    this.f32 = dtype === 'FLOAT_32' ? new Float32Array(buffer, byteOffset, length) : EMPTY_F32;
    this.u16 = dtype === 'FLOAT_16' || dtype === 'UFIXED_POINT_16' ? new Uint16Array(buffer, byteOffset, length) : EMPTY_U16;
    this.u8 = dtype === 'UFIXED_POINT_8' ? new Uint8Array(buffer, byteOffset, length) : EMPTY_U8;
    this.rowF32 = this.f32.subarray(0, vocab);
    this.rowU16 = this.u16.subarray(0, vocab);
    this.dtype = dtype;
    this.vocab = vocab;
  }

  /**
   * Drops the view of the logits memory before its owner frees it (an engine's dispose): every
   * later read throws instead of touching freed memory.
   */
  release(): void {
    this.released = true;
    this.f32 = EMPTY_F32;
    this.u16 = EMPTY_U16;
    this.u8 = EMPTY_U8;
    this.rowF32 = EMPTY_F32;
    this.rowU16 = EMPTY_U16;
  }

  /** The row the other methods read. */
  get row(): number {
    return this.currentRow;
  }

  /** Selects the row the other methods read; returns `this` so `sampler.sample(view.setRow(i))` reads well. */
  setRow(row: number): this {
    if (this.released) throw releasedError();
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) {
      throw new InvalidArgumentError(`logits row must be an integer in [0, ${this.rows}), got ${String(row)}`);
    }
    if (row !== this.currentRow) {
      this.currentRow = row;
      this.offset = row * this.vocab;
      this.rowF32 = this.f32.subarray(this.offset, this.offset + this.vocab);
      this.rowU16 = this.u16.subarray(this.offset, this.offset + this.vocab);
    }
    return this;
  }

  /** Dequantized value of one token in the current row (inspection; the hot paths use whole-row kernels). */
  value(token: number): number {
    const i = this.elementOf(token);
    const { scale, offset } = this.encoding;
    switch (this.dtype) {
      case 'FLOAT_32':
        return this.f32[i];
      case 'FLOAT_16':
        return float16ToFloat32(this.u16[i]);
      case 'UFIXED_POINT_8':
        return Math.fround((this.u8[i] + offset) * scale);
      case 'UFIXED_POINT_16':
        return Math.fround((this.u16[i] + offset) * scale);
    }
  }

  /**
   * `value(token)` stored at `dst[at]`, for per-token paths: a double returned from a call V8 does
   * not inline is boxed, one allocation per call.
   */
  valueInto(token: number, dst: Float32Array, at: number): void {
    const i = this.elementOf(token);
    if (!(dst instanceof Float32Array) || !Number.isInteger(at) || at < 0 || at >= dst.length) {
      const got = dst instanceof Float32Array
        ? `index ${String(at)} of a Float32Array of ${dst.length}`
        : typeof dst === 'object' && dst !== null ? `a ${(dst as object).constructor.name}` : String(dst);
      throw new InvalidArgumentError(`valueInto needs a Float32Array dst and an index in it, got ${got}`);
    }
    const { scale, offset } = this.encoding;
    switch (this.dtype) {
      case 'FLOAT_32':
        dst[at] = this.f32[i];
        return;
      case 'FLOAT_16':
        dst[at] = float16ToFloat32(this.u16[i]);
        return;
      case 'UFIXED_POINT_8':
        dst[at] = (this.u8[i] + offset) * scale;
        return;
      case 'UFIXED_POINT_16':
        dst[at] = (this.u16[i] + offset) * scale;
    }
  }

  /** The element index of `token` in the current row (checked). */
  private elementOf(token: number): number {
    if (this.released) throw releasedError();
    if (!Number.isInteger(token) || token < 0 || token >= this.vocab) {
      throw new InvalidArgumentError(`token must be an integer in [0, ${this.vocab}), got ${String(token)}`);
    }
    return this.offset + token;
  }

  /**
   * Writes the current row as float32 into `dst[0, vocab)` and returns the index of its largest value
   * (lowest index on ties), which the sampler needs anyway. NaN or +Infinity logits, or a row with no
   * finite value, are an error: every later step would turn them into NaN probabilities.
   */
  dequantizeInto(dst: Float32Array): number {
    if (this.released) throw releasedError();
    if (dst.length < this.vocab) {
      throw new InvalidArgumentError(`dequantizeInto dst has length ${dst.length}, needs at least vocab ${this.vocab}`);
    }
    const n = this.vocab;
    let top: number;
    switch (this.dtype) {
      case 'FLOAT_32':
        top = argmaxFloat32Simd(this.rowF32);
        if (top >= 0) dst.set(this.rowF32);
        break;
      case 'FLOAT_16':
        top = dequantizeFloat16(this.u16, this.offset, n, dst);
        break;
      case 'UFIXED_POINT_8':
        return dequantizeUint8(this.u8, this.offset, n, this.encoding, dst);
      case 'UFIXED_POINT_16':
        return dequantizeCodes16Simd(this.rowU16, this.encoding, dst);
    }
    if (top < 0) this.throwNotFinite(~top);
    if (dst[top] === Infinity || dst[top] === -Infinity) this.throwNotFinite(top);
    return top;
  }

  /**
   * The `k` best tokens of the current row (`0 < k <= vocab`) into `tokens[0, k)` in heap order, their
   * dequantized values into `values[token]` (other entries are left as they were); returns the best
   * token. Fixed-point and float32 rows are ranked on their raw elements (codes order exactly like their
   * values), so only the k winners are written; float16 rows are dequantized (and checked) first.
   */
  topKInto(k: number, tokens: Int32Array, values: Float32Array): number {
    if (this.released) throw releasedError();
    if (!Number.isInteger(k) || k < 1 || k > this.vocab) {
      throw new InvalidArgumentError(`topKInto k must be an integer in [1, ${this.vocab}], got ${String(k)}`);
    }
    if (tokens.length < k) throw new InvalidArgumentError(`topKInto tokens has length ${tokens.length}, needs at least k ${k}`);
    if (values.length < this.vocab) {
      throw new InvalidArgumentError(`topKInto values has length ${values.length}, needs at least vocab ${this.vocab}`);
    }
    switch (this.dtype) {
      case 'UFIXED_POINT_8':
        selectTopK(this.u8, this.offset, this.vocab, k, tokens);
        return dequantizeTokens(this.u8, this.offset, tokens, k, this.encoding, values);
      case 'UFIXED_POINT_16':
        topKCodes16Simd(this.rowU16, k, tokens);
        return dequantizeTokens(this.u16, this.offset, tokens, k, this.encoding, values);
      case 'FLOAT_32':
        return this.topKOfFloats(k, tokens, values);
      default: {
        const top = this.dequantizeInto(values);
        selectTopK(values, 0, this.vocab, k, tokens);
        return top;
      }
    }
  }

  /**
   * Greedy: the index of the largest raw code in the current row (lowest index on ties). Dequantization
   * is monotonic (scale > 0), so this is the argmax of the dequantized values without dequantizing.
   */
  argmax(): number {
    if (this.released) throw releasedError();
    const n = this.vocab;
    switch (this.dtype) {
      case 'FLOAT_32': {
        const top = argmaxFloat32Simd(this.rowF32);
        if (top < 0) this.throwNotFinite(~top);
        const best = this.f32[this.offset + top];
        if (best === Infinity || best === -Infinity) this.throwNotFinite(top);
        return top;
      }
      case 'FLOAT_16': {
        const top = argmaxFloat16(this.u16, this.offset, n);
        if (top < 0) this.throwNotFinite(~top);
        if ((this.u16[this.offset + top] & 0x7fff) === 0x7c00) this.throwNotFinite(top);
        return top;
      }
      case 'UFIXED_POINT_8':
        return argmaxCodes8(this.u8, this.offset, n);
      case 'UFIXED_POINT_16':
        return argmaxCodes16Simd(this.rowU16);
    }
  }

  /** topKInto of a float32 row: the kernel checks for NaN on its way; the best of the k is the row's. */
  private topKOfFloats(k: number, tokens: Int32Array, values: Float32Array): number {
    const row = this.rowF32;
    const nan = topKFloat32Simd(row, k, tokens);
    if (nan !== -1) this.throwNotFinite(~nan);
    let top = tokens[0];
    for (let j = 0; j < k; j++) {
      const token = tokens[j];
      const v = row[token];
      values[token] = v;
      if (v > row[top] || (v === row[top] && token < top)) top = token;
    }
    if (row[top] === Infinity || row[top] === -Infinity) this.throwNotFinite(top);
    return top;
  }

  /** The fixed-point dtypes: their codes order exactly like their values. */
  get isFixedPoint(): boolean {
    return this.dtype === 'UFIXED_POINT_8' || this.dtype === 'UFIXED_POINT_16';
  }

  /**
   * Fixed-point rows: counts each code of the current row at most `depth` codes below its largest into
   * `counts` (zero over the code range on entry, 256 or 65536 entries) and keeps in `near` the ids of
   * tokens within `window` codes of the largest; writes the largest code into `out[0]`, how many ids
   * qualified into `out[1]` and how many tokens were counted into `out[2]`.
   */
  countCodesInto(counts: Int32Array, window: number, depth: number, near: Int32Array, out: Int32Array): void {
    if (this.released) throw releasedError();
    this.checkFixedPoint();
    if (this.dtype === 'UFIXED_POINT_16') {
      const max = this.u16[this.offset + argmaxCodes16Simd(this.rowU16)];
      out[0] = max;
      countCodes16(this.u16, this.offset, this.vocab, counts, max, max - depth, window, near, out);
    } else {
      const max = this.u8[this.offset + argmaxCodes8(this.u8, this.offset, this.vocab)];
      out[0] = max;
      countCodes8(this.u8, this.offset, this.vocab, counts, max, max - depth, window, near, out);
    }
  }

  /**
   * Fixed-point rows: of the candidate ids `near[0, count)` (id order; null for the whole row), the
   * tokens whose code is above `code` and the first `ties` (lowest ids) whose code equals it, into
   * `tokens`, their dequantized values into `values[token]`; returns how many.
   */
  pickAboveInto(near: Int32Array | null, count: number, code: number, ties: number, tokens: Int32Array, values: Float32Array): number {
    if (this.released) throw releasedError();
    this.checkFixedPoint();
    return this.dtype === 'UFIXED_POINT_16'
      ? pickCodes16(this.u16, this.offset, near, count, code, ties, this.encoding, tokens, values)
      : pickCodes8(this.u8, this.offset, near, count, code, ties, this.encoding, tokens, values);
  }

  private checkFixedPoint(): void {
    if (!this.isFixedPoint) throw new InvalidArgumentError(`code histograms need a fixed-point logits dtype, not ${this.dtype}`);
  }

  /** `token` holds the NaN or +Infinity found, or is the best token of a row of -Infinity. */
  private throwNotFinite(token: number): never {
    const value = this.value(token);
    const what = value === -Infinity ? 'has no finite value' : `has ${value} at token ${token}`;
    throw new InvalidArgumentError(`logits row ${this.currentRow} ${what}`);
  }
}

function checkDataType(dtype: DataTypeName): LogitsDataType {
  if (!(LOGITS_DATA_TYPES as readonly string[]).includes(dtype)) {
    throw new InvalidArgumentError(
      `logits dtype must be one of ${LOGITS_DATA_TYPES.join(', ')}, got ${String(dtype)}`,
    );
  }
  return dtype as LogitsDataType;
}

function checkEncoding(dtype: LogitsDataType, encoding: Encoding | undefined): Encoding {
  const fixed = dtype === 'UFIXED_POINT_8' || dtype === 'UFIXED_POINT_16';
  if (!fixed) {
    if (encoding !== undefined) {
      throw new InvalidArgumentError(`logits encoding must be absent for float dtype ${dtype}`);
    }
    return { scale: 1, offset: 0 };
  }
  if (encoding === undefined) throw new InvalidArgumentError(`logits encoding is required for ${dtype}`);
  const { scale, offset } = encoding;
  // scale > 0 keeps dequantization monotonic, which greedy-on-raw-codes relies on.
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new InvalidArgumentError(`logits encoding.scale must be a finite number > 0, got ${String(scale)}`);
  }
  if (typeof offset !== 'number' || !Number.isFinite(offset)) {
    throw new InvalidArgumentError(`logits encoding.offset must be a finite number, got ${String(offset)}`);
  }
  return { scale, offset };
}

function checkRows(rows: number | undefined, elements: number, vocab: number, dtype: LogitsDataType): number {
  if (rows === undefined) {
    if (elements < vocab || elements % vocab !== 0) {
      throw new InvalidArgumentError(
        `logits data holds ${elements} ${dtype} elements, not a positive multiple of vocab ${vocab}; pass rows`,
      );
    }
    return elements / vocab;
  }
  if (!Number.isSafeInteger(rows) || rows < 1) {
    throw new InvalidArgumentError(`logits rows must be a positive integer, got ${String(rows)}`);
  }
  if (rows * vocab > elements) {
    throw new InvalidArgumentError(
      `logits rows ${rows} x vocab ${vocab} needs ${rows * vocab} elements, data holds ${elements}`,
    );
  }
  return rows;
}

function releasedError(): DisposedError {
  return new DisposedError('logits view', 'the engine that owned its memory is disposed');
}
