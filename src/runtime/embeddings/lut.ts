import { readFileSync } from 'node:fs';
import { GenieError, InvalidArgumentError } from '../../errors.js';
import { byteSize, isFixedPoint, type DataTypeName, type ElementArray, type Encoding } from '../../tensor/dtype.js';
import { requantizeArray } from '../../tensor/quant.js';
import { typedView } from '../../tensor/views.js';

/** The LUT file is missing, unreadable, or its size does not match `n_vocab x size x bytes`. */
export class EmbeddingTableError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMBEDDING_TABLE', message, options);
  }
}

export interface EmbeddingTableOptions {
  /** Absolute path of the raw row-major `[nVocab, size]` table. */
  readonly path: string;
  readonly nVocab: number;
  /** Row width (n_embd). */
  readonly size: number;
  /** Element type of the file: FLOAT_32 or a fixed-point type with `encoding`. */
  readonly dtype: DataTypeName;
  readonly encoding?: Encoding;
}

/** Where looked-up rows go: the model's embedding input tensor. */
export interface EmbeddingTarget {
  readonly data: ElementArray;
  readonly dtype: DataTypeName;
  readonly encoding?: Encoding;
}

/**
 * Genie's host LUT (research/genie.md §1.5): the prompt's token ids become rows of a table that is
 * re-expressed in the model input's encoding on lookup (`q_in = s_lut/s_in * q_lut + ...`).
 */
export class EmbeddingTable {
  readonly nVocab: number;
  readonly size: number;
  readonly dtype: DataTypeName;
  readonly encoding: Encoding | undefined;
  private readonly rows: ElementArray;

  private constructor(options: EmbeddingTableOptions, rows: ElementArray) {
    this.nVocab = options.nVocab;
    this.size = options.size;
    this.dtype = options.dtype;
    this.encoding = options.encoding;
    this.rows = rows;
  }

  static load(options: EmbeddingTableOptions): EmbeddingTable {
    const { path, nVocab, size, dtype, encoding } = options;
    if (dtype !== 'FLOAT_32' && !isFixedPoint(dtype)) {
      throw new InvalidArgumentError(`embedding datatype ${dtype} is not supported for a LUT (float32 or fixed point)`);
    }
    if (isFixedPoint(dtype) && encoding === undefined) {
      throw new EmbeddingTableError(`embedding LUT "${path}" is ${dtype} but the config gives no quant-param`);
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (cause) {
      throw new EmbeddingTableError(`cannot read embedding LUT "${path}": ${(cause as Error).message}`, { cause });
    }
    const expected = nVocab * size * byteSize(dtype);
    if (bytes.byteLength !== expected) {
      throw new EmbeddingTableError(
        `embedding LUT "${path}" has ${bytes.byteLength} bytes, expected n-vocab x size x bytes = ` +
          `${nVocab} x ${size} x ${byteSize(dtype)} = ${expected}`,
      );
    }
    const aligned = new Uint8Array(bytes.byteLength);
    aligned.set(bytes);
    return new EmbeddingTable(options, typedView(aligned, dtype) as ElementArray);
  }

  /**
   * Writes the rows of `tokens[start .. start+count)` to rows 0.. of `target`, and the `padToken`
   * row to rows count..nRows (Genie pads unused AR rows with the EOS embedding).
   */
  writeRows(
    tokens: ArrayLike<number>,
    start: number,
    count: number,
    nRows: number,
    padToken: number,
    target: EmbeddingTarget,
  ): void {
    for (let row = 0; row < nRows; row++) {
      const token = row < count ? tokens[start + row] : padToken;
      if (!(token >= 0 && token < this.nVocab)) {
        throw new InvalidArgumentError(`token ${token} is outside the embedding LUT's ${this.nVocab} rows`);
      }
      requantizeArray(
        this.rows, this.encoding, target.data, target.encoding, target.dtype, token * this.size, row * this.size, this.size,
      );
    }
  }
}
