import type { Variant } from '../../graphs/layout.js';
import type { EmbeddingRows } from '../embeddings/rows.js';

/**
 * One graph step as the input parts see it: which entries of the fed sequence it processes, where
 * their KV entries go (slots) and what the model is told about their order (positions). The engine
 * keeps one instance and rewrites it before each step, so filling inputs allocates nothing.
 *
 * Slots and positions are different things: slot s is the s-th entry of KV-in, position p is the
 * RoPE angle (or `position_ids` value) the entry was computed with. They coincide for a cache filled
 * from position 0 and drift apart when entries are evicted or the cache starts at a later position.
 * The attention mask and `cache_index` work on slots; cos/sin and `position_ids` on positions.
 */
export interface EngineStep {
  variant: Variant;
  /** The fed sequence is `tokens ++ rows`: token ids first (through ids or the LUT), then caller rows. */
  tokens: ArrayLike<number>;
  rows: EmbeddingRows | null;
  /** Index in `tokens ++ rows` of the step's first entry. */
  start: number;
  /** Entries this step processes (<= variant.ar; the remaining rows are padding). */
  nNew: number;
  /** KV entries held before the step: the new ones go to slots nValid .. nValid + nNew - 1. */
  nValid: number;
  /** Position of the step's first entry; entry i is at position + i. */
  position: number;
  /** The query's last step: its last part must run and the logits row is selected. */
  final: boolean;
}
