/**
 * genie-t2t-run's raw embedding files: `-e/--embedding_file` (the prompt as rows) and
 * `-t/--embedding_table` (the token-to-embedding LUT), both `PATH[,TYPE,SCALE,OFFSET]`.
 */
import { checkEmbeddingBytes } from '../../runtime/embeddings/embedding-bytes.js';
import type { EmbeddingTable } from '../../runtime/embeddings/lut.js';
import type { EmbeddingRows } from '../../runtime/embeddings/rows.js';
import type { DataTypeName, ElementArray, Encoding } from '../../tensor/dtype.js';
import { typedView } from '../../tensor/views.js';
import { UsageError } from '../flags.js';

/** genie-t2t-run's TYPE names and the QNN types they stand for. */
const TYPES: Readonly<Record<string, DataTypeName>> = {
  float32: 'FLOAT_32',
  uint8: 'UFIXED_POINT_8',
  uint16: 'UFIXED_POINT_16',
  int8: 'SFIXED_POINT_8',
  int16: 'SFIXED_POINT_16',
};

export interface EmbeddingFileSpec {
  readonly path: string;
  readonly dtype: DataTypeName;
  /** QNN convention `float = (q + offset) * scale`; set for the fixed-point types only. */
  readonly encoding?: Encoding;
}

/**
 * `PATH[,TYPE,SCALE,OFFSET]`: TYPE float32 (default) takes no SCALE/OFFSET; uint8, uint16, int8 and
 * int16 need both (SCALE a number > 0, OFFSET an integer).
 * @throws UsageError naming the flag, the whole value and the bad part.
 */
export function parseEmbeddingFileSpec(flag: string, text: string): EmbeddingFileSpec {
  const fail = (message: string): UsageError => new UsageError(`${flag} "${text}": ${message}`);
  const parts = text.split(',');
  const [path, typeName = 'float32', scaleText, offsetText] = parts;
  if (parts.length === 3 || parts.length > 4) throw fail('expected PATH[,TYPE,SCALE,OFFSET]');
  if (path === '') throw fail('PATH is empty');
  if (!Object.hasOwn(TYPES, typeName)) throw fail(`TYPE "${typeName}" is not one of: ${Object.keys(TYPES).join(', ')}`);
  const dtype = TYPES[typeName];
  if (dtype === 'FLOAT_32') {
    if (parts.length === 4) throw fail('SCALE and OFFSET apply to the fixed-point types (uint8, uint16, int8, int16) only');
    return { path, dtype };
  }
  if (parts.length !== 4) throw fail(`TYPE ${typeName} needs SCALE and OFFSET`);
  const scale = Number(scaleText);
  if (scaleText.trim() === '' || !Number.isFinite(scale) || scale <= 0) throw fail(`SCALE "${scaleText}" is not a number > 0`);
  const offset = Number(offsetText);
  if (!/^-?\d+$/.test(offsetText) || !Number.isSafeInteger(offset) || Math.abs(offset) > 2 ** 31) {
    throw fail(`OFFSET "${offsetText}" is not an integer`);
  }
  return { path, dtype, encoding: { scale, offset } };
}

/**
 * The rows of an embedding file's bytes as a typed array of the spec's dtype (an aligned copy).
 * @throws InvalidArgumentError naming `what`, the byte count and the row size when the file is
 * empty or not a whole number of `rowElements`-wide rows.
 */
export function embeddingFileRows(bytes: Uint8Array, rowElements: number, spec: EmbeddingFileSpec, what: string): EmbeddingRows {
  checkEmbeddingBytes(bytes.byteLength, rowElements, spec.dtype, what);
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  return { data: typedView(aligned, spec.dtype) as ElementArray, dtype: spec.dtype, encoding: spec.encoding };
}

/** A token-to-embedding callback writing `table`'s rows in the query's dtype and encoding (genie-t2t-run's `-t`). */
export function tableToEmbedding(table: EmbeddingTable, dtype: DataTypeName, encoding: Encoding | undefined) {
  let target: EmbeddingRows | undefined;
  return (token: number, row: ElementArray): void => {
    if (target?.data !== row) target = { data: row, dtype, encoding };
    table.writeRow(token, 0, target);
  };
}
