/**
 * Precomputed cos/sin tables `[contextLength, ropeDim]` in the dtype of the graph's
 * `position_ids_cos` / `position_ids_sin` inputs, and the per-step gather of rows by position.
 * Positions past the table (a KV policy that evicts keeps the positions entries were computed with,
 * so a long conversation runs past the largest CL) are computed when gathered, with the same formula
 * and rounding as the table's rows.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Encoding } from '../tensor/dtype.js';
import { float32ToFloat16 } from '../tensor/fp16.js';
import { validateEncoding } from '../tensor/encoding.js';
import { quantizeArray } from '../tensor/quant.js';
import { assertViewFor } from '../tensor/views.js';
import { ropeAttentionFactor, ropeInvFreq, type RopeFrequencyOptions } from './inv-freq.js';

export type RopeTableDtype = 'FLOAT_32' | 'FLOAT_16' | 'UFIXED_POINT_8' | 'UFIXED_POINT_16';
export type RopeTableArray = Float32Array | Uint16Array | Uint8Array;

const TABLE_DTYPES: readonly RopeTableDtype[] = ['FLOAT_32', 'FLOAT_16', 'UFIXED_POINT_8', 'UFIXED_POINT_16'];

export interface RopeTableOptions extends RopeFrequencyOptions {
  /** dtype of the cos/sin input tensors; FLOAT_16 tables hold float16 bits. */
  readonly dtype: RopeTableDtype;
  /** Required for fixed-point dtypes (the `position_ids_cos` tensor's encoding), absent for float ones. */
  readonly cosEncoding?: Encoding;
  /** Required for fixed-point dtypes (the `position_ids_sin` tensor's encoding), absent for float ones. */
  readonly sinEncoding?: Encoding;
}

function newTable(dtype: RopeTableDtype, length: number): RopeTableArray {
  switch (dtype) {
    case 'FLOAT_32':
      return new Float32Array(length);
    case 'FLOAT_16':
    case 'UFIXED_POINT_16':
      return new Uint16Array(length);
    case 'UFIXED_POINT_8':
      return new Uint8Array(length);
  }
}

function validateTableOptions(options: RopeTableOptions): void {
  const { dtype, cosEncoding, sinEncoding } = options;
  if (!TABLE_DTYPES.includes(dtype)) {
    throw new InvalidArgumentError(`dtype must be one of ${TABLE_DTYPES.join(', ')}, got ${String(dtype)}`);
  }
  const fixed = dtype === 'UFIXED_POINT_8' || dtype === 'UFIXED_POINT_16';
  for (const [name, encoding] of [['cosEncoding', cosEncoding], ['sinEncoding', sinEncoding]] as const) {
    if (fixed) {
      if (encoding === undefined) throw new InvalidArgumentError(`${name} is required for dtype ${dtype}`);
      validateEncoding(encoding, name);
    } else if (encoding !== undefined) {
      throw new InvalidArgumentError(`${name} must be absent for dtype ${dtype} (float tables are not quantized)`);
    }
  }
}

/** Positions are int32 (`position_ids`, saved dialogs): the largest a table gathers is 2^31 - 1. */
export const MAX_ROPE_POSITION = 0x7fffffff;

/**
 * Row p holds `cos(p * inv_freq[j]) * attentionFactor` (and sin) for j < ropeDim. Fixed-point tables use
 * Genie's truncation, `q = trunc(value / scale - offset)` clamped to the code range (Genie notes that
 * rounding lost accuracy). The attention factor (longrope) is applied to float tables too, as in HF.
 */
export class RopeTable {
  readonly contextLength: number;
  readonly ropeDim: number;
  readonly dtype: RopeTableDtype;
  readonly attentionFactor: number;
  readonly invFreq: Float64Array;
  /** Row-major `[contextLength, ropeDim]`; treat as read-only. */
  readonly cos: RopeTableArray;
  /** Row-major `[contextLength, ropeDim]`; treat as read-only. */
  readonly sin: RopeTableArray;
  private readonly cosEncoding: Encoding | undefined;
  private readonly sinEncoding: Encoding | undefined;
  /** One row's float64 values, for rows past the table (no allocation per step). */
  private readonly cosRow: Float64Array;
  private readonly sinRow: Float64Array;

  constructor(options: RopeTableOptions) {
    this.invFreq = ropeInvFreq(options);
    this.attentionFactor = ropeAttentionFactor(options);
    validateTableOptions(options);
    const { contextLength, ropeDim, dtype } = options;
    this.contextLength = contextLength;
    this.ropeDim = ropeDim;
    this.dtype = dtype;
    this.cos = newTable(dtype, contextLength * ropeDim);
    this.sin = newTable(dtype, contextLength * ropeDim);
    this.cosEncoding = options.cosEncoding;
    this.sinEncoding = options.sinEncoding;
    this.cosRow = new Float64Array(ropeDim);
    this.sinRow = new Float64Array(ropeDim);
    for (let p = 0; p < contextLength; p++) this.computeRow(p, this.cos, this.sin, p * ropeDim);
  }

  /** Row `position`, computed, into `cosDst` / `sinDst` at element `base`. */
  private computeRow(position: number, cosDst: RopeTableArray, sinDst: RopeTableArray, base: number): void {
    const { cosRow, sinRow, invFreq, attentionFactor } = this;
    for (let j = 0; j < cosRow.length; j++) {
      const angle = position * invFreq[j];
      cosRow[j] = Math.cos(angle) * attentionFactor;
      sinRow[j] = Math.sin(angle) * attentionFactor;
    }
    this.storeRow(cosRow, cosDst, base, this.cosEncoding);
    this.storeRow(sinRow, sinDst, base, this.sinEncoding);
  }

  private storeRow(values: Float64Array, table: RopeTableArray, base: number, encoding: Encoding | undefined): void {
    const n = values.length;
    switch (this.dtype) {
      case 'FLOAT_32':
        for (let j = 0; j < n; j++) table[base + j] = values[j];
        break;
      case 'FLOAT_16': // via float32, like a C++ table computed in float
        for (let j = 0; j < n; j++) table[base + j] = float32ToFloat16(values[j]);
        break;
      case 'UFIXED_POINT_8':
      case 'UFIXED_POINT_16':
        quantizeArray(values, table as Uint8Array | Uint16Array, encoding as Encoding, this.dtype, 'truncate', 0, base, n);
        break;
    }
  }

  /**
   * Writes rows `[0, count)` of `cosDst`/`sinDst` with the table rows of `positions[0..count)` and rows
   * `[count, nRows)` with position 0 (padding). Everything is validated before anything is written.
   */
  gather(
    positions: ArrayLike<number>,
    count: number,
    nRows: number,
    cosDst: RopeTableArray,
    sinDst: RopeTableArray,
  ): void {
    this.checkRows(count, nRows, cosDst, sinDst);
    if (count > positions.length) {
      throw new InvalidArgumentError(`count ${count} exceeds positions.length ${positions.length}`);
    }
    for (let i = 0; i < count; i++) {
      const p = positions[i];
      if (!(p >= 0 && p <= MAX_ROPE_POSITION) || !Number.isInteger(p)) {
        throw new InvalidArgumentError(`row ${i}: position ${p} is outside [0, 2^31) or not an integer`);
      }
    }
    for (let i = 0; i < count; i++) this.copyRow(positions[i], i, cosDst, sinDst);
    for (let i = count; i < nRows; i++) this.copyRow(0, i, cosDst, sinDst);
  }

  /** `gather` for the consecutive positions `start, start + 1, ..., start + count - 1`. */
  gatherRange(start: number, count: number, nRows: number, cosDst: RopeTableArray, sinDst: RopeTableArray): void {
    this.checkRows(count, nRows, cosDst, sinDst);
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new InvalidArgumentError(`start must be a non-negative integer, got ${start}`);
    }
    if (count > 0 && start + count - 1 > MAX_ROPE_POSITION) {
      const row = Math.max(0, MAX_ROPE_POSITION + 1 - start);
      throw new InvalidArgumentError(`row ${row}: position ${start + row} is outside [0, 2^31)`);
    }
    const rd = this.ropeDim;
    const cos = this.cos;
    const sin = this.sin;
    const inTable = Math.max(0, Math.min(count, this.contextLength - start));
    const src = start * rd;
    const n = inTable * rd;
    for (let k = 0; k < n; k++) {
      cosDst[k] = cos[src + k];
      sinDst[k] = sin[src + k];
    }
    for (let i = inTable; i < count; i++) this.computeRow(start + i, cosDst, sinDst, i * rd);
    for (let i = count; i < nRows; i++) this.copyRow(0, i, cosDst, sinDst);
  }

  private checkRows(count: number, nRows: number, cosDst: RopeTableArray, sinDst: RopeTableArray): void {
    if (!Number.isSafeInteger(nRows) || nRows < 0) {
      throw new InvalidArgumentError(`nRows must be a non-negative integer, got ${nRows}`);
    }
    if (!Number.isSafeInteger(count) || count < 0 || count > nRows) {
      throw new InvalidArgumentError(`count must be an integer in [0, nRows = ${nRows}], got ${count}`);
    }
    assertViewFor(cosDst, this.dtype, 'cosDst');
    assertViewFor(sinDst, this.dtype, 'sinDst');
    const needed = nRows * this.ropeDim;
    if (cosDst.length < needed) throw this.tooShort('cosDst', cosDst.length, nRows);
    if (sinDst.length < needed) throw this.tooShort('sinDst', sinDst.length, nRows);
  }

  private tooShort(argName: string, length: number, nRows: number): InvalidArgumentError {
    const rd = this.ropeDim;
    return new InvalidArgumentError(`${argName} has ${length} elements, needs nRows * ropeDim = ${nRows} * ${rd} = ${nRows * rd}`);
  }

  private copyRow(position: number, row: number, cosDst: RopeTableArray, sinDst: RopeTableArray): void {
    const rd = this.ropeDim;
    if (position >= this.contextLength) {
      this.computeRow(position, cosDst, sinDst, row * rd);
      return;
    }
    const cos = this.cos;
    const sin = this.sin;
    const src = position * rd;
    const dst = row * rd;
    for (let j = 0; j < rd; j++) {
      cosDst[dst + j] = cos[src + j];
      sinDst[dst + j] = sin[src + j];
    }
  }
}
