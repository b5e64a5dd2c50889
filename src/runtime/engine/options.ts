import type { RopeScaling } from '../../rope/inv-freq.js';
import type { EmbeddingTable } from '../embeddings/lut.js';

export interface EngineOptions {
  /** `context.size`: must not exceed the largest CL in the binaries, unless `longContext`. */
  readonly contextSize: number;
  /** The config has long context (a KV policy evicts): `contextSize` may exceed the largest CL. */
  readonly longContext?: boolean;
  /** Written to unused `input_ids` rows. */
  readonly padToken: number;
  /** Its LUT row fills unused `input_embeds` rows (Genie pads with the EOS embedding). */
  readonly eosToken: number;
  /** RoPE parameters for the `position_ids_cos/sin` tables (ignored when the graphs take none). */
  readonly rope: { readonly theta: number; readonly scaling: RopeScaling };
  /**
   * The host LUT (Genie's `embedding` block) when the first part takes embeddings: it turns token
   * ids into rows and pads unused rows. Required unless `embeddingCallback` is set.
   */
  readonly embeddings?: EmbeddingTable;
  /**
   * The config's embedding is `type: callback`: an embedding model may come without a LUT and is
   * then fed only rows (`prefillEmbeddings`, `decodeEmbedding`); token ids are the caller's to convert.
   */
  readonly embeddingCallback?: boolean;
  /** Cache-group prefixes (default `past_`). */
  readonly cacheGroups?: readonly string[];
  /** Additive bias of masked positions in float masks (default -1000, Genie's value). */
  readonly maskedValue?: number;
}
