import { ContextLimitError } from '../graphs/errors.js';
import type { LogitsView } from '../sampler/logits-view.js';
import { TopLogprobs, type TokenLogprob } from '../sampler/top-logprobs.js';
import type { StepListener } from './engine/step-event.js';
import type { ElementArray } from '../tensor/dtype.js';
import type { QueryOptions, QueryResult, StopReason } from './dialog-types.js';
import type { DialogState, FedPrompt, QueryPlan, RunningQuery } from './dialog-state.js';
import { allocateEmbeddingRows, type EmbeddingRows } from './embeddings/rows.js';
import { QueryClock } from './kpis.js';
import type { QueryOutcome } from './query-stream.js';
import { prefillTurn, T2E_ROW, type SpliceContext } from './prefill.js';
import { embedFedImages } from './spliced-prompt.js';
import { applyEviction, decideAfterStep, decideRoom, evictInPlace } from './kv-policy/apply.js';
import {
  AbortCriterion, CancelCriterion, EosCriterion, ForcedCriterion, StopCriteria, StopSequenceCriterion, TokenCapCriterion,
  type DecodeState, type StopCriterion,
} from './stop-criteria.js';
import { ReplyText } from './text/reply-text.js';
import { tokenIds, type TurnPrompt } from './turn-ledger.js';

/** Genie's T2E for generated tokens: the caller's callback and one row in the query's format, reused for every token. */
interface T2eFeed {
  readonly toEmbedding: (token: number, row: ElementArray) => void;
  readonly row: EmbeddingRows;
}

/**
 * Runs one query on a dialog: claims it (cancelling a query parked at a yield, see
 * `DialogState.take`), plans the turn on the dialog as it is then, runs the prefill phase, then the
 * decode loop (sample, feed ahead, deliver) until a stop criterion fires, and releases the dialog however
 * the query ends. Nothing runs before the first `next()`.
 *
 * Leaving early: a `return()` (`break` in `for await`) or `throw()` at a yield ends the query there
 * as a cancel does (stop reason `'cancelled'`); `return()` then resolves with its result. A query
 * cancelled while parked ends with that result at its next `next()` and touches the dialog no more.
 */
export async function* runQuery(
  dialog: DialogState,
  prompt: TurnPrompt,
  options: QueryOptions,
  outcome?: QueryOutcome,
): AsyncGenerator<string, QueryResult> {
  const plan = outcome === undefined ? dialog.take(prompt) : outcome.begin(() => dialog.take(prompt));
  const t2e = t2eFeed(prompt, dialog.engine.embeddingSize);
  const run = new QueryRun(dialog, plan, options.forceTokens === undefined ? null : new Forcing(options.forceTokens));
  dialog.running = run;
  run.outcome = outcome;
  if (options.onStep !== undefined) run.observeSteps(options.onStep);
  if (options.topLogprobs !== undefined) run.logprobs = new TopLogprobs(options.topLogprobs);
  /** Parked at a yield: a return() or throw() arriving there is the consumer leaving. */
  let parked = false;
  let failed = false;
  try {
    // Aborted before the prompt was (fully) processed: nothing was fed, the turn never happened.
    if (options.signal?.aborted) return run.end('abort', nothingFed());
    if (plan.prompt.kind === 'spliced') {
      try {
        await embedFedImages(plan.input.length, plan.prompt.segments, plan.prompt.keys.length, options.signal);
      } catch (error) {
        if (!options.signal?.aborted) throw error;
      }
      if (options.signal?.aborted) return run.end('abort', nothingFed());
    }
    let logits = await prefillPhase(dialog, plan, options.signal, run.splice);
    if (logits === null) return run.end('abort', nothingFed(plan.reusedTokens));

    const { sampler, ledger } = dialog;
    const { generated, state } = run;
    const criteria = run.startDecode(stopCriteria(dialog, options, run));
    const reply = run.reply!;
    const forcing = run.forcing;
    state.token = sampler.sample(logits, ledger.history, run.logprobs ?? undefined);
    if (forcing !== null) state.token = forcing.take(state.token, generated.length);
    run.clock.markFirstToken();
    let stopReason: StopReason | null;
    for (;;) {
      reportLogits(dialog, logits, state.token, options);
      stopReason = criteria.afterSampling(state);
      if (stopReason !== null) break;
      generated.push(state.token);
      if (run.logprobs !== null) run.tokenLogprobs.push(run.logprobs.entry());
      ledger.recordSampled(state.token);
      // Fed ahead: the NPU runs the token's step while the host delivers it (see `feedsAhead`).
      const ahead = feedsAhead(dialog, criteria, generated.length - 1, t2e, options.signal) ? run.feedAhead(state.token) : null;
      const piece = reply.push(state.token);
      state.delivered = generated.length;
      options.onToken?.({ id: state.token, text: piece, index: generated.length - 1 });
      state.stopSequence = reply.stopSequence;
      if (piece) {
        parked = run.suspended = true;
        yield piece;
        parked = run.suspended = false;
        if (run.result !== null) return run.result; // cancelled while parked
      }
      stopReason = criteria.afterDelivery(state);
      if (stopReason !== null) {
        run.takeBackAhead();
        break;
      }
      if (ahead !== null) {
        logits = await ahead;
        run.fedAhead = false;
      } else {
        if (dialog.engine.nValid >= dialog.contextLimit) await makeDecodeRoom(dialog, state.delivered);
        logits = await feed(dialog, state.token, t2e);
        ledger.recordFed(state.token, t2e !== undefined);
      }
      evictAfterStep(dialog);
      state.token = sampler.sample(logits, ledger.history, run.logprobs ?? undefined);
      if (forcing !== null) state.token = forcing.take(state.token, generated.length);
    }
    const tail = run.endDecode(stopReason);
    if (tail) {
      // The query has ended and released the dialog: this yield only delivers the held-back text.
      parked = true;
      yield tail;
      parked = false;
    }
    return run.result!;
  } catch (error) {
    failed = true;
    run.takeBackAhead(); // onToken, a criterion or the step fed ahead threw: the token is not kept fed
    outcome?.reject(error); // before a partial result is recorded below: the query's error is its outcome
    // The reply filled the KV cache (Genie's WARNING_CONTEXT_EXCEEDED): what it generated until then
    // becomes the dialog's lastResult, stop reason 'context-limit'; the generator still rejects.
    if (error instanceof ContextLimitError && run.reply !== null && run.result === null) run.end('context-limit', plan, run.reply.text);
    if (error instanceof ContextLimitError && run.result !== null) error.result ??= run.result;
    throw error;
  } finally {
    if (parked) {
      if (run.suspended) run.cancel();
      // return(): resolve with the query's result rather than undefined (a throw() keeps its error).
      if (!failed) return run.result!;
    }
    if (run.result === null && dialog.running === run) dialog.lastResult = undefined; // failed: no result
    run.release();
  }
}

/**
 * The state of one running query, shared by its generator and the dialog: what it fed and
 * delivered, its stop criteria, and whether it is parked at a yield (`suspended`), where the dialog
 * may `cancel` it.
 */
class QueryRun implements RunningQuery {
  suspended = false;
  /**
   * The token just delivered was fed ahead (`feedAhead`): its step is submitted (maybe still
   * running) and its ledger record exists before the delivery-stage criteria have run;
   * `takeBackAhead` undoes both when the query does not keep it.
   */
  fedAhead = false;
  /** The KV slot the token fed ahead takes. */
  private aheadSlot = 0;
  /** Set by `cancel`; read by the query's CancelCriterion. */
  cancelled = false;
  /** Set when the query ends (by its stop criteria or a cancel). */
  result: QueryResult | null = null;
  readonly clock = new QueryClock();
  readonly generated: number[] = [];
  readonly state: DecodeState = { token: -1, delivered: 0, stopSequence: null };
  /** A spliced prompt's accumulator and what splicing took. */
  readonly splice: SpliceContext;
  reply: ReplyText | null = null;
  /** `QueryOptions.topLogprobs`: the sampler's report of each draw, and one entry per generated token. */
  logprobs: TopLogprobs | null = null;
  readonly tokenLogprobs: TokenLogprob[] = [];
  /** The stream's `result`, resolved when the query ends (`end`). */
  outcome: QueryOutcome | undefined;
  private criteria: StopCriteria | null = null;
  /** The engine's step listener before `observeSteps` installed the query's (restored at release). */
  private previousListener: StepListener | null | undefined = undefined;

  constructor(
    private readonly dialog: DialogState,
    private readonly plan: QueryPlan,
    /** `QueryOptions.forceTokens`: the tokens to deliver instead of the sampler's. */
    readonly forcing: Forcing | null = null,
  ) {
    this.splice = { accumulator: () => dialog.accumulator() };
  }

  /** Reports the engine's steps to `listener` while the query holds the dialog (`QueryOptions.onStep`). */
  observeSteps(listener: StepListener): void {
    this.previousListener = this.dialog.engine.stepListener;
    this.dialog.engine.setStepListener(listener, 'onStep');
  }

  /** The prompt is in: the decode loop starts with these criteria. */
  startDecode(criteria: StopCriteria): StopCriteria {
    this.criteria = criteria;
    this.reply = new ReplyText(this.dialog.tokenizer, this.dialog.stopSequences);
    return criteria;
  }

  /**
   * Ends the query parked at a yield as an abort there would (the stop criteria of the delivered
   * token run, the cancel criterion firing where the abort one would): the delivered token stays the
   * carried-over one, a completed stop sequence is removed. Releases the dialog.
   */
  cancel(): void {
    if (!this.suspended || this.criteria === null) throw new Error('internal: cancel() of a query that is not parked at a yield');
    this.suspended = false;
    this.cancelled = true;
    this.takeBackAhead();
    this.endDecode(this.criteria.afterDelivery(this.state) ?? 'cancelled');
  }

  /**
   * Submits the decode step of `token` (sampled and recorded, not yet delivered) and records it fed.
   * The step's failure surfaces where the loop awaits it; a query cancelled before that never does.
   */
  feedAhead(token: number): Promise<LogitsView> {
    const { engine, ledger } = this.dialog;
    this.aheadSlot = engine.nValid;
    const step = engine.decode(token);
    step.catch(ignore);
    ledger.recordFed(token, false);
    this.fedAhead = true;
    return step;
  }

  /**
   * The query ends with the token it fed ahead delivered but not kept fed: its step is abandoned if
   * it still runs (`Engine.discardFrom`), its KV entry goes, and it is the carried-over token again,
   * as when a token is delivered and not fed. Synchronous, as a cancel at a yield must be.
   */
  takeBackAhead(): void {
    if (!this.fedAhead) return;
    this.fedAhead = false;
    this.dialog.engine.discardFrom(this.aheadSlot);
    this.dialog.ledger.unfeed(this.state.token);
  }

  /**
   * Ends the decode phase for `reason`: removes the tokens of a stop sequence (the held-back text
   * can still complete one), records the result. Returns the held-back text still to stream.
   */
  endDecode(reason: StopReason): string {
    const reply = this.reply!;
    let tail = '';
    if (reason === 'stop-sequence') {
      dropStopTokens(this.dialog, reply.stopTokens(), this.generated);
    } else {
      tail = reply.finish();
      if (reply.stopSequence !== null) {
        reason = 'stop-sequence';
        dropStopTokens(this.dialog, reply.stopTokens(), this.generated);
      }
    }
    this.end(reason, this.plan, reply.text);
    return tail;
  }

  /** Records the query's result (the dialog's `lastResult`, its KPIs) and releases the dialog. */
  end(stopReason: StopReason, fed: FedPrompt, text = ''): QueryResult {
    const { dialog, clock, generated } = this;
    clock.stop();
    const kpis = clock.kpis(dialog.settings.initTimeUs, fed.promptLength, generated.length, this.splice.report);
    this.result = { stopReason, promptTokens: tokenIds(fed.input), reusedTokens: fed.reusedTokens, generatedTokens: generated, text, kpis };
    if (this.forcing !== null) this.result = { ...this.result, samplerTokens: this.forcing.sampled };
    // A stop sequence's tokens left `generated`: their entries go too.
    if (this.logprobs !== null) this.result = { ...this.result, logprobs: this.tokenLogprobs.slice(0, generated.length) };
    dialog.lastResult = this.result;
    this.outcome?.resolve(this.result);
    this.release();
    return this.result;
  }

  release(): void {
    if (this.previousListener !== undefined) {
      this.dialog.engine.setStepListener(this.previousListener);
      this.previousListener = undefined;
    }
    if (this.dialog.running === this) this.dialog.running = null;
  }
}

/**
 * The prefill phase: feeds the turn's prompt (a rewind first cuts the KV cache and the ledger to the
 * reused prefix). A failure rolls the KV cache back to where the turn started; null when aborted.
 */
async function prefillPhase(
  dialog: DialogState,
  plan: QueryPlan,
  signal: AbortSignal | undefined,
  splice: SpliceContext,
): Promise<LogitsView | null> {
  const { engine, ledger } = dialog;
  if (plan.rewind) {
    engine.rewind(plan.cut);
    ledger.rewindTo(plan.cut, plan.tokens);
    dialog.sampler.rewindStages(ledger.history.length);
  }
  // Room for the prompt, as the KV policy chose when the turn was planned.
  if (plan.eviction !== null) await applyEviction(engine, ledger, plan.eviction);
  let logits: LogitsView | null;
  try {
    logits = await prefillTurn(engine, plan.input, plan.prompt, signal, splice);
  } catch (error) {
    engine.rewind(plan.keep);
    throw error;
  }
  if (logits !== null) {
    ledger.recordPrefill(plan.input, plan.prompt);
    evictAfterStep(dialog);
  }
  return logits;
}

/**
 * Room for the delivered token's KV entry in a full cache: the KV policy evicts, or the query ends
 * with ContextLimitError (Genie's ContextLimitException: the turn is not ended normally).
 */
async function makeDecodeRoom(dialog: DialogState, delivered: number): Promise<void> {
  const { engine, ledger, kvPolicy } = dialog;
  const eviction = kvPolicy === null ? null : decideRoom(kvPolicy, dialog.kvView, { needed: 1, phase: 'decode', turn: ledger.currentTurn });
  if (eviction === null) {
    throw new ContextLimitError(
      `${dialog.describeLimit()} reached after ${delivered} generated tokens; cap the reply (maxTokens), or reset() the dialog to make room` +
        (kvPolicy === null ? '' : ` (kv policy "${kvPolicy.name}" answered 'error')`),
    );
  }
  await applyEviction(engine, ledger, eviction);
}

/** The KV policy's `afterStep` eviction, if it has one (in place: the step's logits stay valid). */
function evictAfterStep(dialog: DialogState): void {
  const policy = dialog.kvPolicy;
  if (policy === null || policy.afterStep === undefined) return;
  const eviction = decideAfterStep(policy, dialog.kvView);
  if (eviction !== null) evictInPlace(dialog.engine, dialog.ledger, eviction);
}

/**
 * Whether the decode loop feeds the sampled token before delivering it, so that its step runs on the
 * NPU while the host detokenizes it, calls `onToken` and the consumer takes it (at a yield, where
 * the step may still be running): the host's delivery work and the application's per-token work
 * leave the NPU's critical path. A delivery-stage stop criterion (a stop sequence, an abort, a
 * cancel) then takes the entry back (`takeBackAhead`), so the dialog ends as if the token had not
 * been fed. Not for a token a quota makes the last one, or one whose query's signal already fired
 * (their steps would be wasted), nor one that needs room the KV policy makes by evicting (not
 * undone), nor one fed through the caller's T2E callback (called only for tokens fed), nor while a
 * step listener is observing steps (it sees only the steps a query keeps, as Genie runs them).
 */
function feedsAhead(dialog: DialogState, criteria: StopCriteria, delivered: number, t2e: T2eFeed | undefined, signal: AbortSignal | undefined): boolean {
  const engine = dialog.engine;
  return (
    t2e === undefined &&
    engine.stepListener === null &&
    delivered + 1 < criteria.quota &&
    engine.nValid < dialog.contextLimit &&
    signal?.aborted !== true
  );
}

const ignore = (): void => undefined;

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
function stopCriteria(dialog: DialogState, options: QueryOptions, run: { readonly cancelled: boolean }): StopCriteria {
  const maxTokens = options.maxTokens ?? dialog.maxNumTokens;
  const criteria: StopCriterion[] = [new EosCriterion(dialog.eos), new StopSequenceCriterion()];
  if (options.forceTokens !== undefined) criteria.push(new ForcedCriterion(options.forceTokens.length));
  if (maxTokens !== null) criteria.push(new TokenCapCriterion(maxTokens));
  if (options.signal !== undefined) criteria.push(new AbortCriterion(options.signal));
  criteria.push(new CancelCriterion(run));
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
  dialog.sampler.rewindStages(ledger.history.length);
  generated.length -= k;
}

function reportLogits(dialog: DialogState, logits: LogitsView, token: number, options: QueryOptions): void {
  if (!options.onLogits) return;
  dialog.logitsScratch ??= new Float32Array(dialog.engine.vocabSize);
  logits.dequantizeInto(dialog.logitsScratch);
  options.onLogits(dialog.logitsScratch, token);
}

/** Teacher forcing: the i-th token delivered is `tokens[i]`; what the sampler picked instead is kept. */
class Forcing {
  readonly sampled: number[] = [];
  constructor(private readonly tokens: ArrayLike<number>) {}

  /** The token to use for the `i`-th delivery, the sampler having picked `sampled`. */
  take(sampled: number, i: number): number {
    this.sampled.push(sampled);
    return this.tokens[i];
  }
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
