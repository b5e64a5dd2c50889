import { GenieError, InvalidArgumentError } from '../../errors.js';
import { byteSize, isFixedPoint, type DataTypeName, type ElementArray, type Encoding } from '../../tensor/dtype.js';
import { fixedRange, validateEncoding } from '../../tensor/encoding.js';
import type { EmbeddingTable } from './lut.js';
import { allocateEmbeddingRows, copyEmbeddingRows, type EmbeddingRows } from './rows.js';

/** Appending would take the accumulator past its byte size (`accumulator-size`). */
export class AccumulatorOverflowError extends GenieError {
  constructor(message: string) {
    super('ACCUMULATOR_OVERFLOW', message);
  }
}

/** The row format everything appended is re-expressed in: the text generator's embedding input. */
export interface AccumulatorFormat {
  readonly dtype: DataTypeName;
  readonly encoding?: Encoding;
  /** Elements per row (`embedding.size`). */
  readonly rowElements: number;
}

/**
 * Genie's pipeline accumulator (docs/genie-behaviour.md#vlm-pipeline): every producer (LUT text
 * rows, image-encoder rows) appends its output in call order, re-expressed in the text generator's
 * input encoding (`q_dst = s_src/s_dst * q_src + (s_src/s_dst * o_src - o_dst)`, rounded to nearest
 * and clamped; float sources quantized, float16 converted); the generator then takes all rows as one
 * embedding prompt. The byte size is a hard cap, as `accumulator-size` is in Genie; memory grows on
 * demand (doubling), so a large cap such as GLM-4V's 400 MB reserves nothing up front.
 */
export class Accumulator {
  readonly format: AccumulatorFormat;
  /** Most bytes the rows may take. */
  readonly capacityBytes: number;
  private readonly rowBytes: number;
  private data: ElementArray;
  private count = 0;

  constructor(format: AccumulatorFormat, capacityBytes: number) {
    const { dtype, encoding, rowElements } = format;
    if (dtype !== 'FLOAT_32' && dtype !== 'FLOAT_16' && !isFixedPoint(dtype)) {
      throw new InvalidArgumentError(`accumulator dtype ${String(dtype)} is not supported (FLOAT_32, FLOAT_16 or fixed point)`);
    }
    if (isFixedPoint(dtype)) {
      if (encoding === undefined) throw new InvalidArgumentError(`accumulator dtype ${dtype} needs an encoding`);
      validateEncoding(encoding, 'accumulator encoding');
    } else if (encoding !== undefined) {
      throw new InvalidArgumentError(`accumulator dtype ${dtype} takes no encoding`);
    }
    if (!Number.isSafeInteger(rowElements) || rowElements < 1) {
      throw new InvalidArgumentError(`accumulator rowElements must be a positive integer, got ${String(rowElements)}`);
    }
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 1) {
      throw new InvalidArgumentError(`accumulator size must be a positive number of bytes, got ${String(capacityBytes)}`);
    }
    this.format = { dtype, encoding, rowElements };
    this.capacityBytes = capacityBytes;
    this.rowBytes = rowElements * byteSize(dtype);
    this.data = allocateEmbeddingRows(dtype, 0);
  }

  /** Rows appended since the last `clear`. */
  get rowCount(): number {
    return this.count;
  }

  /** Bytes the rows take. */
  get byteLength(): number {
    return this.count * this.rowBytes;
  }

  /**
   * Appends `count` rows of `rows` (from its row `first`), re-expressed in the accumulator's format.
   * `rows.dtype` is FLOAT_32, FLOAT_16 or fixed point with an encoding; `what` names them in errors.
   * @throws AccumulatorOverflowError (nothing appended) when they do not fit in `capacityBytes`.
   */
  appendRows(rows: EmbeddingRows, first: number, count: number, what: string): void {
    const size = this.format.rowElements;
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || (first + count) * size > rows.data.length) {
      throw new InvalidArgumentError(`${what}: rows [${first}, ${first + count}) are outside its ${Math.floor(rows.data.length / size)} rows`);
    }
    const at = this.reserve(count, what);
    if (this.sameFormat(rows)) {
      // Float32 into a float32 input (AI Hub's input_embeds), or codes already in the input's encoding: a memcpy.
      this.data.set(rows.data.subarray(first * size, (first + count) * size) as never, at * size);
    } else {
      copyEmbeddingRows(rows, first, this.target(), at, count, size);
    }
  }

  /** Appends the LUT rows of `tokens` (Genie's text-encoder node). */
  appendTokens(tokens: ArrayLike<number>, table: EmbeddingTable, what: string): void {
    if (table.size !== this.format.rowElements) {
      throw new InvalidArgumentError(`${what}: the LUT's rows have ${table.size} elements, the accumulator's ${this.format.rowElements}`);
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!(Number.isInteger(t) && t >= 0 && t < table.nVocab)) {
        throw new InvalidArgumentError(`${what}[${i}] = ${String(t)} is outside the embedding LUT's ${table.nVocab} rows`);
      }
    }
    const at = this.reserve(tokens.length, what);
    const target = this.target();
    for (let i = 0; i < tokens.length; i++) table.writeRow(tokens[i], at + i, target);
  }

  /** The rows appended so far, in the accumulator's format (a view: valid until the next append or clear). */
  rows(): EmbeddingRows {
    return { ...this.target(), data: this.data.subarray(0, this.count * this.format.rowElements) as ElementArray };
  }

  /** Forgets the rows (Genie flushes the accumulator after each execute); keeps the memory. */
  clear(): void {
    this.count = 0;
  }

  /** `rows` are already in the accumulator's dtype and encoding (and typed-array class). */
  private sameFormat(rows: EmbeddingRows): boolean {
    const { dtype, encoding } = this.format;
    if (rows.dtype !== dtype || rows.data.constructor !== this.data.constructor) return false;
    if (encoding === undefined || rows.encoding === undefined) return encoding === rows.encoding;
    return encoding.scale === rows.encoding.scale && encoding.offset === rows.encoding.offset;
  }

  private target(): EmbeddingRows {
    return { data: this.data, dtype: this.format.dtype, encoding: this.format.encoding };
  }

  /** Makes room for `rows` more rows and returns the first one's index; checks the cap first. */
  private reserve(rows: number, what: string): number {
    const needed = (this.count + rows) * this.rowBytes;
    if (needed > this.capacityBytes) {
      throw new AccumulatorOverflowError(
        `${what} (${rows} rows of ${this.rowBytes} bytes) does not fit in the embedding accumulator: ${this.byteLength} of ` +
          `${this.capacityBytes} bytes (accumulator-size) are used, ${needed} would be`,
      );
    }
    const elements = (this.count + rows) * this.format.rowElements;
    if (elements > this.data.length) {
      const grown = allocateEmbeddingRows(this.format.dtype, Math.max(elements, Math.min(2 * this.data.length, Math.floor(this.capacityBytes / byteSize(this.format.dtype)))));
      grown.set(this.data.subarray(0, this.count * this.format.rowElements) as never);
      this.data = grown;
    }
    const at = this.count;
    this.count += rows;
    return at;
  }
}
