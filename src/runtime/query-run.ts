import type { LogitsView } from '../sampler/logits-view.js';
import type { ElementArray } from '../tensor/dtype.js';
import type { QueryOptions, QueryResult, StopReason } from './dialog-types.js';
import type { DialogState, FedPrompt, QueryPlan } from './dialog-state.js';
import { allocateEmbeddingRows, type EmbeddingRows } from './embeddings/rows.js';
import { QueryClock } from './kpis.js';
import { prefillTurn, T2E_ROW } from './prefill.js';
import {
  AbortCriterion, ContextLimitCriterion, EosCriterion, StopCriteria, StopSequenceCriterion, TokenCapCriterion,
  type DecodeState, type StopCriterion,
} from './stop-criteria.js';
import { ReplyText } from './text/reply-text.js';
import type { TurnPrompt } from './turn-ledger.js';

/** Genie's T2E for generated tokens: the caller's callback and one row in the query's format, reused for every token. */
interface T2eFeed {
  readonly toEmbedding: (token: number, row: ElementArray) => void;
  readonly row: EmbeddingRows;
}

/**
 * Runs one query on a dialog: claims it, plans the turn on the dialog as it is then, runs the prefill
 * phase, then the decode loop (sample, deliver, feed) until a stop criterion fires, and releases the
 * dialog however the query ends. Nothing runs before the first `next()`.
 */
export async function* runQuery(dialog: DialogState, prompt: TurnPrompt, options: QueryOptions): AsyncGenerator<string, QueryResult> {
  dialog.checkIdle();
  const plan = dialog.plan(prompt);
  const t2e = t2eFeed(prompt, dialog.engine.embeddingSize);
  dialog.busy = true;
  const clock = new QueryClock();
  try {
    // Aborted before the prompt was (fully) processed: nothing was fed, the turn never happened.
    if (options.signal?.aborted) return finish(dialog, clock, 'abort', nothingFed());
    let logits = await prefillPhase(dialog, plan, options.signal);
    if (logits === null) return finish(dialog, clock, 'abort', nothingFed(plan.reusedTokens));

    const { sampler, ledger } = dialog;
    const criteria = stopCriteria(dialog, options);
    const reply = new ReplyText(dialog.tokenizer, dialog.stopSequences);
    const generated: number[] = [];
    const state: DecodeState = { token: sampler.sample(logits, ledger.history), delivered: 0, stopSequence: null };
    clock.markFirstToken();
    let stopReason: StopReason | null;
    for (;;) {
      reportLogits(dialog, logits, state.token, options);
      stopReason = criteria.afterSampling(state);
      if (stopReason !== null) break;
      generated.push(state.token);
      ledger.recordSampled(state.token);
      const piece = reply.push(state.token);
      state.delivered = generated.length;
      state.stopSequence = reply.stopSequence;
      if (piece) yield piece;
      stopReason = criteria.afterDelivery(state);
      if (stopReason !== null) break;
      logits = await feed(dialog, state.token, t2e);
      ledger.recordFed(state.token, t2e !== undefined);
      state.token = sampler.sample(logits, ledger.history);
    }
    if (stopReason === 'stop-sequence') {
      dropStopTokens(dialog, reply.stopTokens(), generated);
    } else {
      const tail = reply.finish(); // the held-back text can still complete a stop sequence
      if (reply.stopSequence !== null) {
        stopReason = 'stop-sequence';
        dropStopTokens(dialog, reply.stopTokens(), generated);
      }
      if (tail) yield tail;
    }
    return finish(dialog, clock, stopReason, plan, generated, reply.text);
  } finally {
    dialog.busy = false;
  }
}

/**
 * The prefill phase: feeds the turn's prompt (a rewind first cuts the KV cache and the ledger to the
 * reused prefix). A failure rolls the KV cache back to where the turn started; null when aborted.
 */
async function prefillPhase(dialog: DialogState, plan: QueryPlan, signal: AbortSignal | undefined): Promise<LogitsView | null> {
  const { engine, ledger } = dialog;
  if (plan.rewind) {
    engine.rewind(plan.keep);
    ledger.rewindTo(plan.keep, plan.tokens);
  }
  let logits: LogitsView | null;
  try {
    logits = await prefillTurn(engine, plan.input, plan.prompt, signal);
  } catch (error) {
    engine.rewind(plan.keep);
    throw error;
  }
  if (logits !== null) ledger.recordPrefill(plan.input, plan.prompt);
  return logits;
}

/**
 * Feeds a delivered token (through the T2E callback for an embedding query that has one). Not async,
 * so that a decode step allocates nothing beyond the engine's own promise.
 */
function feed(dialog: DialogState, token: number, t2e: T2eFeed | undefined): Promise<LogitsView> {
  if (t2e === undefined) return dialog.engine.decode(token);
  t2e.toEmbedding(token, t2e.row.data);
  return dialog.engine.decodeEmbedding(t2e.row, T2E_ROW);
}

/** The stop criteria of a query, in the order they are checked. */
function stopCriteria(dialog: DialogState, options: QueryOptions): StopCriteria {
  const maxTokens = options.maxTokens ?? dialog.maxNumTokens;
  const criteria: StopCriterion[] = [new EosCriterion(dialog.eos), new StopSequenceCriterion()];
  if (maxTokens !== null) criteria.push(new TokenCapCriterion(maxTokens));
  if (options.signal !== undefined) criteria.push(new AbortCriterion(options.signal));
  criteria.push(new ContextLimitCriterion(dialog.engine, dialog.contextLimit, dialog.describeLimit()));
  return new StopCriteria(criteria);
}

/**
 * Removes the `k` trailing generated tokens that spell a stop sequence, as if they had never been
 * generated: the KV cache forgets those that were fed (all k when the last one was fed before an
 * EOS, else all but the pending last one).
 */
function dropStopTokens(dialog: DialogState, k: number, generated: number[]): void {
  const { engine, ledger } = dialog;
  const fed = ledger.pending === null ? k : k - 1;
  engine.rewind(engine.nValid - fed);
  ledger.dropGenerated(k, engine.nValid);
  generated.length -= k;
}

function reportLogits(dialog: DialogState, logits: LogitsView, token: number, options: QueryOptions): void {
  if (!options.onLogits) return;
  dialog.logitsScratch ??= new Float32Array(dialog.engine.vocabSize);
  logits.dequantizeInto(dialog.logitsScratch);
  options.onLogits(dialog.logitsScratch, token);
}

function finish(dialog: DialogState, clock: QueryClock, stopReason: StopReason, fed: FedPrompt, generated: number[] = [], text = ''): QueryResult {
  clock.stop();
  const kpis = clock.kpis(dialog.settings.initTimeUs, fed.promptLength, generated.length);
  dialog.lastKpis = kpis;
  return { stopReason, promptTokens: fed.input, reusedTokens: fed.reusedTokens, generatedTokens: generated, text, kpis };
}

/** Nothing fed (an abort before or during the prefill); a rewind's reused prefix still counts. */
function nothingFed(reusedTokens = 0): FedPrompt {
  return { input: [], promptLength: 0, reusedTokens };
}

function t2eFeed(prompt: TurnPrompt, size: number | undefined): T2eFeed | undefined {
  if (prompt.kind !== 'embeddings' || prompt.toEmbedding === undefined) return undefined;
  const { dtype, encoding } = prompt.rows;
  return { toEmbedding: prompt.toEmbedding, row: { data: allocateEmbeddingRows(dtype, size!), dtype, encoding } };
}
