import type { LogitsView } from '../sampler/logits-view.js';
import { allocateEmbeddingRows } from './embeddings/rows.js';
import type { Engine } from './engine/engine.js';
import type { Accumulator } from './embeddings/accumulator.js';
import { spliceRows, type EntryKey, type SpliceReport } from './spliced-prompt.js';
import type { TurnPrompt } from './turn-ledger.js';

/** Names the tokenToEmbedding callback in the engine's messages about a row it wrote. */
export const T2E_ROW = 'the tokenToEmbedding row';

/** Where a spliced turn builds its rows, and what splicing them took (set by `prefillTurn`). */
export interface SpliceContext {
  /** The dialog's accumulator, in the model input's format (made on first use). */
  readonly accumulator: () => Accumulator;
  report?: SpliceReport;
}

/**
 * Feeds a turn's prompt: its tokens (`input`: the carried-over token, EOS, BOS and the prompt ids),
 * then, for an embedding prompt, the caller's rows. An embedding prompt's tokens go through the LUT,
 * or through its `tokenToEmbedding` callback, which writes them in the rows' format ahead of the rows.
 * A spliced prompt's entries (text through the LUT, images through the image encoder) are built into
 * the accumulator first (`spliceRows`), then fed as rows.
 * Resolves to the last position's logits, or null when `signal` aborted between chunks.
 */
export async function prefillTurn(
  engine: Engine,
  input: readonly EntryKey[],
  prompt: TurnPrompt,
  signal: AbortSignal | undefined,
  splice: SpliceContext,
): Promise<LogitsView | null> {
  if (prompt.kind === 'spliced') {
    const accumulator = splice.accumulator();
    splice.report = await spliceRows(input, prompt.segments, prompt.keys.length, engine.embeddingTable!, accumulator, signal);
    if (signal?.aborted) return null;
    return engine.prefillEmbeddings(accumulator.rows(), { signal });
  }
  if (input.some((k) => typeof k !== 'number')) throw new Error('internal: a token or embedding prompt feeds only token ids');
  const tokens = input as readonly number[];
  if (prompt.kind === 'tokens') return engine.prefill(tokens, signal);
  if (prompt.toEmbedding === undefined) return engine.prefillEmbeddings(prompt.rows, { leadingTokens: tokens, signal });
  if (tokens.length === 0) return engine.prefillEmbeddings(prompt.rows, { signal });
  const { data, dtype, encoding } = prompt.rows;
  const size = engine.embeddingSize!;
  const all = allocateEmbeddingRows(dtype, (tokens.length + prompt.count) * size);
  for (let i = 0; i < tokens.length; i++) {
    const row = all.subarray(i * size, (i + 1) * size);
    prompt.toEmbedding(tokens[i], row);
    engine.checkEmbeddingRows({ data: row, dtype, encoding }, T2E_ROW);
  }
  all.set(data, tokens.length * size);
  return engine.prefillEmbeddings({ data: all, dtype, encoding }, { signal });
}
