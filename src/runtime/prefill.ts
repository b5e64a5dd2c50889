import type { LogitsView } from '../sampler/logits-view.js';
import { allocateEmbeddingRows } from './embeddings/rows.js';
import type { Engine } from './engine/engine.js';
import type { TurnPrompt } from './turn-ledger.js';

/** Names the tokenToEmbedding callback in the engine's messages about a row it wrote. */
export const T2E_ROW = 'the tokenToEmbedding row';

/**
 * Feeds a turn's prompt: its tokens (`input`: the carried-over token, EOS, BOS and the prompt ids),
 * then, for an embedding prompt, the caller's rows. An embedding prompt's tokens go through the LUT,
 * or through its `tokenToEmbedding` callback, which writes them in the rows' format ahead of the rows.
 * Resolves to the last position's logits, or null when `signal` aborted between chunks.
 */
export function prefillTurn(
  engine: Engine,
  input: readonly number[],
  prompt: TurnPrompt,
  signal: AbortSignal | undefined,
): Promise<LogitsView | null> {
  if (prompt.kind === 'tokens') return engine.prefill(input, signal);
  if (prompt.toEmbedding === undefined) return engine.prefillEmbeddings(prompt.rows, { leadingTokens: input, signal });
  if (input.length === 0) return engine.prefillEmbeddings(prompt.rows, { signal });
  const { data, dtype, encoding } = prompt.rows;
  const size = engine.embeddingSize!;
  const all = allocateEmbeddingRows(dtype, (input.length + prompt.count) * size);
  for (let i = 0; i < input.length; i++) {
    const row = all.subarray(i * size, (i + 1) * size);
    prompt.toEmbedding(input[i], row);
    engine.checkEmbeddingRows({ data: row, dtype, encoding }, T2E_ROW);
  }
  all.set(data, input.length * size);
  return engine.prefillEmbeddings({ data: all, dtype, encoding }, { signal });
}
