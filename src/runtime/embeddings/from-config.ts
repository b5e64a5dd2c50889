import { NotSupportedError } from '../../errors.js';
import type { DerivedDialog } from '../config/derive.js';
import { EmbeddingTable } from './lut.js';

/**
 * The host LUT a config's `embedding` block describes (type `lut` with a `lut-path`), or undefined.
 * @throws EmbeddingTableError for an unreadable LUT, a size that is not n-vocab x size x bytes, or a
 * fixed-point datatype without `quant-param`.
 * @throws NotSupportedError for `datatype: native`.
 */
export function loadConfigEmbeddings(config: DerivedDialog): EmbeddingTable | undefined {
  const embedding = config.embedding;
  if (embedding === null || embedding.type !== 'lut' || embedding.lutPath === null) return undefined;
  if (embedding.qnnDataType === null) {
    throw new NotSupportedError(`not supported yet: embedding datatype "${embedding.datatype}" (use float32 or a fixed-point type)`);
  }
  return EmbeddingTable.load({
    path: embedding.lutPath,
    nVocab: config.nVocab,
    size: embedding.size,
    dtype: embedding.qnnDataType,
    encoding: embedding.quantParam ?? undefined,
  });
}
