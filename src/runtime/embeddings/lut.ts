import { closeSync, constants, openSync, readSync, statSync, type Stats } from 'node:fs';
import { fileTypeOf, GenieError, InvalidArgumentError, systemErrorReason } from '../../errors.js';
import { byteSize, isFixedPoint, type DataTypeName, type ElementArray, type Encoding } from '../../tensor/dtype.js';
import { validateEncoding } from '../../tensor/encoding.js';
import { assertViewFor, typedView } from '../../tensor/views.js';
import { copyEmbeddingRows, type EmbeddingRows } from './rows.js';

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

function checkTableType(options: Omit<EmbeddingTableOptions, 'path'>, what: string): void {
  const { nVocab, size, dtype, encoding } = options;
  if (!Number.isSafeInteger(nVocab) || nVocab < 1) throw new InvalidArgumentError(`${what}: nVocab must be a positive integer, got ${nVocab}`);
  if (!Number.isSafeInteger(size) || size < 1) throw new InvalidArgumentError(`${what}: size must be a positive integer, got ${size}`);
  if (dtype !== 'FLOAT_32' && !isFixedPoint(dtype)) {
    throw new InvalidArgumentError(`${what}: datatype ${dtype} is not supported for a LUT (float32 or fixed point)`);
  }
  if (isFixedPoint(dtype) && encoding === undefined) {
    throw new EmbeddingTableError(`${what} is ${dtype} but the config gives no quant-param`);
  }
  if (isFixedPoint(dtype)) validateEncoding(encoding!, 'quant-param');
}

/** The `expected` bytes of the regular file `path`, in a new (aligned) buffer. */
function readTableFile(path: string, expected: number, expectation: string): Uint8Array {
  const cannotRead = (cause: unknown): EmbeddingTableError =>
    new EmbeddingTableError(`cannot read embedding LUT "${path}": ${systemErrorReason(cause)}`, { cause });
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (cause) {
    throw cannotRead(cause);
  }
  if (!stats.isFile()) throw new EmbeddingTableError(`embedding LUT "${path}" is ${fileTypeOf(stats)}, not a file of ${expectation} bytes`);
  if (stats.size !== expected) throw new EmbeddingTableError(`embedding LUT "${path}" has ${stats.size} bytes, expected ${expectation}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    throw cannotRead(cause);
  }
  try {
    const bytes = new Uint8Array(expected);
    for (let done = 0; done < expected; ) {
      const read = readSync(fd, bytes, done, expected - done, done);
      if (read === 0) throw new EmbeddingTableError(`embedding LUT "${path}" ended after ${done} of its ${expected} bytes while reading`);
      done += read;
    }
    return bytes;
  } catch (cause) {
    throw cause instanceof EmbeddingTableError ? cause : cannotRead(cause);
  } finally {
    closeSync(fd);
  }
}

/**
 * Where looked-up rows go: the model's embedding input tensor (FLOAT_32, FLOAT_16 or fixed point
 * with an encoding), or a caller's row in an embedding query's dtype.
 */
export type EmbeddingTarget = EmbeddingRows;

/**
 * Genie's host LUT (docs/genie-behaviour.md#host-lut): the prompt's token ids become rows of a
 * table that is re-expressed in the model input's encoding on lookup
 * (`q_in = s_lut/s_in * q_lut + ...`), or converted to float16 for a float16 input.
 */
export class EmbeddingTable {
  readonly nVocab: number;
  readonly size: number;
  readonly dtype: DataTypeName;
  readonly encoding: Encoding | undefined;
  private readonly rows: EmbeddingRows;

  private constructor(options: EmbeddingTableOptions, rows: ElementArray) {
    this.nVocab = options.nVocab;
    this.size = options.size;
    this.dtype = options.dtype;
    // A float table has no encoding: a quant-param beside it is ignored.
    this.encoding = isFixedPoint(options.dtype) ? options.encoding : undefined;
    this.rows = { data: rows, dtype: options.dtype, encoding: this.encoding };
  }

  /**
   * Reads the table file. Its size is checked against `nVocab x size x bytes` before anything is
   * read, and only a regular file is opened (a directory, a device such as /dev/zero or a FIFO is
   * refused), so no declared size is allocated that the file does not hold.
   * @throws EmbeddingTableError naming the file, what it holds and what was expected.
   */
  static load(options: EmbeddingTableOptions): EmbeddingTable {
    const { path, nVocab, size, dtype } = options;
    checkTableType(options, `embedding LUT "${path}"`);
    const expected = nVocab * size * byteSize(dtype);
    const expectation = `n-vocab x size x bytes = ${nVocab} x ${size} x ${byteSize(dtype)} = ${expected}`;
    const aligned = readTableFile(path, expected, expectation);
    return new EmbeddingTable(options, typedView(aligned, dtype) as ElementArray);
  }

  /**
   * A table over rows already in memory (`rows` is kept, not copied): `nVocab x size` elements of
   * the class of `dtype`, e.g. a checkpoint's float32 `embed_tokens`.
   */
  static fromRows(options: Omit<EmbeddingTableOptions, 'path'>, rows: ElementArray): EmbeddingTable {
    checkTableType(options, 'embedding table');
    assertViewFor(rows, options.dtype, 'rows');
    const expected = options.nVocab * options.size;
    if (rows.length !== expected) {
      throw new InvalidArgumentError(
        `rows has ${rows.length} elements, expected nVocab x size = ${options.nVocab} x ${options.size} = ${expected}`,
      );
    }
    return new EmbeddingTable({ ...options, path: '' }, rows);
  }

  /**
   * Throws `InvalidArgumentError` unless `writeRows` can convert rows into a target of this dtype:
   * FLOAT_32, FLOAT_16, or fixed point with an encoding.
   */
  checkTarget(target: Pick<EmbeddingTarget, 'dtype' | 'encoding'>): void {
    const { dtype, encoding } = target;
    if (dtype !== 'FLOAT_32' && dtype !== 'FLOAT_16' && !isFixedPoint(dtype)) {
      throw new InvalidArgumentError(`embedding input dtype ${dtype} is not supported (FLOAT_32, FLOAT_16 or fixed point)`);
    }
    if (isFixedPoint(dtype)) {
      if (encoding === undefined) {
        throw new InvalidArgumentError(`embedding input dtype ${dtype} needs an encoding to requantize the LUT into`);
      }
      validateEncoding(encoding, 'target.encoding');
    }
  }

  /**
   * Writes the rows of `tokens[start .. start+count)` to rows 0.. of `target`, and the `padToken`
   * row to rows count..nRows (Genie pads unused AR rows with the EOS embedding). Every token is
   * checked before anything is written.
   */
  writeRows(
    tokens: ArrayLike<number>,
    start: number,
    count: number,
    nRows: number,
    padToken: number,
    target: EmbeddingTarget,
  ): void {
    for (let row = 0; row < nRows; row++) this.checkToken(row < count ? tokens[start + row] : padToken);
    for (let row = 0; row < nRows; row++) this.copyRow(row < count ? tokens[start + row] : padToken, row, target);
  }

  /**
   * Writes the row of `token` to row `row` of `target`, converted into its dtype and encoding (e.g.
   * a token-to-embedding callback's row in an embedding query's dtype).
   */
  writeRow(token: number, row: number, target: EmbeddingTarget): void {
    this.checkToken(token);
    if (!Number.isSafeInteger(row) || row < 0 || (row + 1) * this.size > target.data.length) {
      throw new InvalidArgumentError(`row ${row} is outside the target's ${Math.floor(target.data.length / this.size)} rows`);
    }
    this.copyRow(token, row, target);
  }

  private checkToken(token: number): void {
    if (!(token >= 0 && token < this.nVocab) || !Number.isInteger(token)) {
      throw new InvalidArgumentError(`token ${token} is outside the embedding LUT's ${this.nVocab} rows`);
    }
  }

  private copyRow(token: number, row: number, target: EmbeddingTarget): void {
    copyEmbeddingRows(this.rows, token, target, row, 1, this.size);
  }
}
