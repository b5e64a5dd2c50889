import { GenieError, InvalidArgumentError, NotSupportedError } from '../errors.js';
import { ContextLimitError } from '../graphs/errors.js';
import type { LogitsView } from '../sampler/logits-view.js';
import type { SamplerParams } from '../sampler/params.js';
import type { SamplerUpdate } from '../sampler/resolve-params.js';
import { Sampler } from '../sampler/sampler.js';
import type { ElementArray } from '../tensor/dtype.js';
import { deriveDialog, type DerivedDialog } from './config/derive.js';
import { loadConfigFile } from './config/load.js';
import { assertLoadable } from './config/loadable.js';
import { parseConfig } from './config/parse.js';
import type { GenieConfig } from './config/types.js';
import type { DialogOptions, EmbeddingQueryOptions, QueryOptions, QueryResult, StopReason } from './dialog-types.js';
import { allocateEmbeddingRows, type EmbeddingRows } from './embeddings/rows.js';
import { DisposedError, type Engine } from './engine/engine.js';
import { openEngine } from './engine/open.js';
import { QueryClock, type Kpis } from './kpis.js';
import { IncrementalDetokenizer } from './text/incremental-detokenizer.js';
import { StopSequenceMatcher } from './text/stop-sequence-matcher.js';
import { loadTokenizer } from './tokenizer/load.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';
import { TurnLedger, type TurnPrompt } from './turn-ledger.js';

export type { DialogOptions, EmbeddingQueryOptions, QueryOptions, QueryResult, StopReason } from './dialog-types.js';

/** A query was started while another one is still running on the same dialog. */
export class DialogBusyError extends GenieError {
  constructor() {
    super('BUSY', 'dialog is busy: finish or abort the running query first');
  }
}

/** Names the callback in the engine's messages about a row it wrote. */
const T2E_ROW = 'the tokenToEmbedding row';

/**
 * Genie's basic dialog (research/genie.md §2.3) over an Engine: turn rules (the previous turn's last
 * sampled token, EOS between turns, BOS), prefill, sampling, streaming detokenization, the EOS set,
 * stop sequences (removed from the KV), `max-num-tokens`, the context limit and abort.
 *
 * ```ts
 * await using dialog = await Dialog.create('genie_config.json');
 * for await (const piece of dialog.query('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')) {
 *   process.stdout.write(piece);
 * }
 * ```
 */
export class Dialog {
  readonly config: DerivedDialog;
  readonly tokenizer: Tokenizer;
  /** Microseconds from `create` to ready. */
  readonly initTimeUs: number;
  private readonly engine: Engine;
  private readonly sampler: Sampler;
  private readonly ledger: TurnLedger;
  private readonly eos: ReadonlySet<number>;
  private stopSequences: readonly string[];
  private maxNumTokens: number | null;
  private busy = false;
  private disposed = false;
  private logitsScratch: Float32Array | undefined;
  private lastKpis: Kpis | undefined;

  private constructor(config: DerivedDialog, tokenizer: Tokenizer, engine: Engine, sampler: Sampler, initTimeUs: number) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.engine = engine;
    this.sampler = sampler;
    this.initTimeUs = initTimeUs;
    this.eos = new Set(config.eosTokens);
    this.stopSequences = config.stopSequences;
    this.maxNumTokens = config.maxNumTokens;
    this.ledger = new TurnLedger(config.bosToken, config.primaryEos, sampler.params.penalizeLastN);
  }

  /**
   * Loads a Genie config (a file path, or a parsed object whose relative paths resolve against
   * `options.baseDir`), its tokenizer and its binaries, and allocates every buffer once.
   */
  static async create(config: string | object, options: DialogOptions = {}): Promise<Dialog> {
    const start = process.hrtime.bigint();
    const parsed: GenieConfig =
      typeof config === 'string'
        ? (await loadConfigFile(config)).config
        : parseConfig(config, { baseDir: options.baseDir ?? process.cwd() });
    assertLoadable(parsed);
    const derived = deriveDialog(parsed);
    if (options.maxNumTokens !== undefined) checkCount('maxNumTokens', options.maxNumTokens);
    const tokenizer = options.tokenizer ?? (await loadTokenizer(derived.tokenizerPath));
    const engine = await openEngine(derived, options.backend);
    try {
      const sampler = new Sampler(derived.sampler, engine.vocabSize);
      if (options.sampler) sampler.configure(options.sampler);
      const initTimeUs = Number(process.hrtime.bigint() - start) / 1e3;
      const dialog = new Dialog(derived, tokenizer, engine, sampler, initTimeUs);
      if (options.maxNumTokens !== undefined) dialog.maxNumTokens = options.maxNumTokens;
      return dialog;
    } catch (error) {
      await engine.dispose();
      throw error;
    }
  }

  /** Streams the reply to a (fully templated: Genie applies no chat template) prompt. */
  query(prompt: string, options: QueryOptions = {}): AsyncGenerator<string, QueryResult> {
    this.checkUsable();
    if (typeof prompt !== 'string') throw new InvalidArgumentError(`prompt must be a string, got ${typeof prompt}`);
    checkQueryOptions(options);
    this.checkAcceptsTokens('query');
    const ids = Array.from(this.tokenizer.encode(prompt));
    this.checkIds(ids, 'the encoded prompt');
    return this.run({ kind: 'tokens', ids, rewind: options.rewind === true }, options);
  }

  /** Like `query`, with the prompt given as token ids (genie-t2t-run `--tokens_file`). */
  tokenQuery(tokens: ArrayLike<number>, options: QueryOptions = {}): AsyncGenerator<string, QueryResult> {
    this.checkUsable();
    const ids = Array.from(tokens);
    this.checkIds(ids, 'tokens');
    checkQueryOptions(options);
    this.checkAcceptsTokens('tokenQuery');
    return this.run({ kind: 'tokens', ids, rewind: options.rewind === true }, options);
  }

  /**
   * Like `query`, with the prompt given as embedding rows (Genie's `GenieDialog_embeddingQuery`,
   * genie-t2t-run `-e`): `embeddingSize` elements per row, float32 or fixed-point codes (see
   * `options.dtype` / `encoding`), converted into the model input's dtype and encoding. The rows
   * are the whole prompt: the dialog adds no BOS (put its row in the embeddings); it still feeds
   * the previous turn's carried-over token and EOS between turns first, through the LUT or
   * `options.tokenToEmbedding`. Generated tokens are fed back the same way (Genie's T2E).
   * @throws NotSupportedError when the model takes token ids; InvalidArgumentError for rows of the
   * wrong class, size or values, or when there is neither a LUT nor a `tokenToEmbedding` callback.
   */
  embeddingQuery<T extends ElementArray>(embeddings: T, options: EmbeddingQueryOptions<T> = {}): AsyncGenerator<string, QueryResult> {
    this.checkUsable();
    checkQueryOptions(options);
    if (options.rewind === true) {
      throw new NotSupportedError('embeddingQuery cannot rewind: embedding rows carry no token ids to match against the KV cache');
    }
    const rows: EmbeddingRows = { data: embeddings, dtype: options.dtype ?? 'FLOAT_32', encoding: options.encoding };
    const count = this.engine.checkEmbeddingRows(rows);
    const toEmbedding = options.tokenToEmbedding as ((token: number, row: ElementArray) => void) | undefined;
    if (toEmbedding !== undefined && typeof toEmbedding !== 'function') {
      throw new InvalidArgumentError(`tokenToEmbedding must be a function, got ${typeof toEmbedding}`);
    }
    if (toEmbedding === undefined && !this.engine.acceptsTokens) {
      throw new InvalidArgumentError(
        'embeddingQuery needs options.tokenToEmbedding: the config\'s embedding has no LUT (type "callback") ' +
          'to turn the dialog\'s tokens into embeddings',
      );
    }
    return this.run({ kind: 'embeddings', rows, count, toEmbedding }, options);
  }

  /** Elements per embedding row when the model takes embeddings (`embedding.size`); undefined for an ids model. */
  get embeddingSize(): number | undefined {
    return this.engine.embeddingSize;
  }

  /** Forgets the conversation: empty KV cache, no carried-over token, penalty history cleared. */
  reset(): void {
    this.checkIdle();
    this.engine.reset();
    this.ledger.reset();
  }

  /** Live sampler reconfiguration (Genie's `GenieSampler_applyConfig`); invalid updates change nothing. */
  configureSampler(update: SamplerUpdate): void {
    this.checkUsable();
    this.sampler.configure(update);
    this.ledger.history.reserve(this.sampler.params.penalizeLastN);
  }

  get samplerParams(): SamplerParams {
    return this.sampler.params;
  }

  /** Genie's `GenieDialog_setStopSequence`; an empty list clears them. */
  setStopSequences(stops: readonly string[]): void {
    this.checkUsable();
    new StopSequenceMatcher(stops); // validates (empty strings, lone surrogates) before anything changes
    this.stopSequences = [...stops];
  }

  /** Most tokens the KV cache can hold: `context.size`, or less when the binaries' KV-in is smaller. */
  get contextLimit(): number {
    return Math.min(this.config.contextSize, this.engine.capacity);
  }

  private describeLimit(): string {
    const size = this.config.contextSize;
    return this.engine.capacity < size
      ? `context.size=${size} (the binaries' KV cache holds ${this.engine.capacity} entries)`
      : `context.size=${size}`;
  }

  /** Tokens held in the KV cache. */
  get contextUsed(): number {
    return this.engine.nValid;
  }

  /** Backend profiling records (QnnProfile events with `backend.qnn.profiling`) since the last call. */
  takeBackendProfile(): readonly object[] {
    this.checkUsable();
    return this.engine.takeBackendProfile();
  }

  /** KPIs of the last finished query. */
  get kpis(): Kpis | undefined {
    return this.lastKpis;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.engine.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** Prefills the turn: its tokens, then (embedding prompts) the caller's rows. */
  private prefill(input: readonly number[], prompt: TurnPrompt, signal: AbortSignal | undefined): Promise<LogitsView | null> {
    if (prompt.kind === 'tokens') return this.engine.prefill(input, signal);
    if (prompt.toEmbedding === undefined) return this.engine.prefillEmbeddings(prompt.rows, { leadingTokens: input, signal });
    if (input.length === 0) return this.engine.prefillEmbeddings(prompt.rows, { signal });
    // The callback writes the dialog's tokens in the query's format, ahead of the caller's rows.
    const { data, dtype, encoding } = prompt.rows;
    const size = this.engine.embeddingSize!;
    const all = allocateEmbeddingRows(dtype, (input.length + prompt.count) * size);
    for (let i = 0; i < input.length; i++) {
      const row = all.subarray(i * size, (i + 1) * size);
      prompt.toEmbedding(input[i], row);
      this.engine.checkEmbeddingRows({ data: row, dtype, encoding }, T2E_ROW);
    }
    all.set(data, input.length * size);
    return this.engine.prefillEmbeddings({ data: all, dtype, encoding }, { signal });
  }

  private async *run(prompt: TurnPrompt, options: QueryOptions): AsyncGenerator<string, QueryResult> {
    this.checkIdle();
    const maxTokens = options.maxTokens ?? this.maxNumTokens ?? Infinity;
    const rewind = prompt.kind === 'tokens' && prompt.rewind;
    const { tokens, keep: before, input } = this.ledger.plan(prompt, this.engine.nValid); // before: the KV entries the turn starts from
    const reused = rewind ? before : 0;
    const promptLength = input.length + (prompt.kind === 'embeddings' ? prompt.count : 0);
    if (promptLength === 0) {
      throw new InvalidArgumentError(
        rewind ? 'the rewind query has no tokens (empty prompt and no bos-token)' : 'the query has no tokens (empty prompt and nothing to carry over)',
      );
    }
    if (before + promptLength > this.contextLimit) {
      throw new ContextLimitError(
        `the prompt needs ${promptLength} tokens but only ${this.contextLimit - before} of ${this.describeLimit()} ` +
          `are left; ${rewind ? 'shorten the conversation' : 'call reset()'}`,
      );
    }
    const t2e = prompt.kind === 'embeddings' ? prompt.toEmbedding : undefined;
    // Genie's T2E output buffer: one row in the query's format, reused for every generated token.
    const t2eRow = prompt.kind === 'embeddings' && t2e !== undefined ? rowLike(prompt.rows, this.engine.embeddingSize!) : undefined;

    this.busy = true;
    const clock = new QueryClock();
    const generated: number[] = [];
    let text = '';
    let stopReason: StopReason = 'abort';
    try {
      // Aborted before the prompt was (fully) processed: nothing was fed, the turn never happened.
      if (options.signal?.aborted) return this.finish(clock, [], 0, 0, generated, text, stopReason);
      if (rewind) {
        this.engine.rewind(before);
        this.ledger.rewindTo(before, tokens);
      }
      let logits: LogitsView | null;
      try {
        logits = await this.prefill(input, prompt, options.signal);
      } catch (error) {
        this.engine.rewind(before);
        throw error;
      }
      if (logits === null) return this.finish(clock, [], 0, reused, generated, text, stopReason);
      this.ledger.recordPrefill(input, prompt);

      const detok = new IncrementalDetokenizer(this.tokenizer);
      const stops = new StopSequenceMatcher(this.stopSequences);
      let token = this.sampler.sample(logits, this.ledger.history);
      clock.markFirstToken();
      for (;;) {
        this.reportLogits(logits, token, options);
        if (this.eos.has(token)) {
          stopReason = 'eos';
          break;
        }
        generated.push(token);
        this.ledger.recordSampled(token);
        const scan = stops.push(detok.push(token));
        text += scan.text;
        if (scan.text) yield scan.text;
        if (scan.stop !== null) {
          this.dropStopTokens(detok.tokensCoveringLast(scan.stopTail), generated);
          stopReason = 'stop-sequence';
          break;
        }
        if (generated.length >= maxTokens) {
          stopReason = 'max-tokens';
          break;
        }
        if (options.signal?.aborted) {
          stopReason = 'abort';
          break;
        }
        if (this.engine.nValid + 1 > this.contextLimit) {
          throw new ContextLimitError(
            `${this.describeLimit()} reached after ${generated.length} generated tokens; call reset()`,
          );
        }
        if (t2e === undefined) {
          logits = await this.engine.decode(token);
        } else {
          t2e(token, t2eRow!.data);
          logits = await this.engine.decodeEmbedding(t2eRow!, T2E_ROW);
        }
        this.ledger.recordFed(token, t2e !== undefined);
        token = this.sampler.sample(logits, this.ledger.history);
      }
      if (stopReason !== 'stop-sequence') {
        const scan = stops.push(detok.flush());
        let tail = scan.text;
        if (scan.stop !== null) {
          this.dropStopTokens(detok.tokensCoveringLast(scan.stopTail), generated);
          stopReason = 'stop-sequence';
        } else {
          tail += stops.flush();
        }
        text += tail;
        if (tail) yield tail;
      }
      return this.finish(clock, input, promptLength, reused, generated, text, stopReason);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Removes the `k` trailing generated tokens that spell a stop sequence, as if they had never been
   * generated: the KV cache forgets those that were fed (all k when the last one was fed before an
   * EOS, else all but the pending last one).
   */
  private dropStopTokens(k: number, generated: number[]): void {
    const fed = this.ledger.pending === null ? k : k - 1;
    this.engine.rewind(this.engine.nValid - fed);
    this.ledger.dropGenerated(k, this.engine.nValid);
    generated.length -= k;
  }

  private reportLogits(logits: LogitsView, token: number, options: QueryOptions): void {
    if (!options.onLogits) return;
    this.logitsScratch ??= new Float32Array(this.engine.vocabSize);
    logits.dequantizeInto(this.logitsScratch);
    options.onLogits(this.logitsScratch, token);
  }

  private finish(
    clock: QueryClock,
    input: number[],
    promptLength: number,
    reusedTokens: number,
    generated: number[],
    text: string,
    stopReason: StopReason,
  ): QueryResult {
    clock.stop();
    const kpis = clock.kpis(this.initTimeUs, promptLength, generated.length);
    this.lastKpis = kpis;
    return { stopReason, promptTokens: input, reusedTokens, generatedTokens: generated, text, kpis };
  }

  /** A tokenizer's vocabulary can be larger than the model's (or the ids arbitrary): check before anything runs. */
  private checkIds(ids: readonly number[], name: string): void {
    ids.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || t >= this.engine.vocabSize) {
        throw new InvalidArgumentError(`${name}[${i}] = ${t} is not a token id in [0, ${this.engine.vocabSize})`);
      }
    });
  }

  private checkUsable(): void {
    if (this.disposed) throw new DisposedError('dialog');
  }

  private checkAcceptsTokens(method: string): void {
    if (!this.engine.acceptsTokens) {
      throw new NotSupportedError(
        `${method} needs an embedding LUT: the config's embedding is type "callback"; use embeddingQuery with a tokenToEmbedding callback`,
      );
    }
  }

  private checkIdle(): void {
    this.checkUsable();
    if (this.busy) throw new DialogBusyError();
  }
}

/** One zeroed row of `size` elements in the dtype and encoding of `rows`. */
function rowLike(rows: EmbeddingRows, size: number): EmbeddingRows {
  return { data: allocateEmbeddingRows(rows.dtype, size), dtype: rows.dtype, encoding: rows.encoding };
}

/** Argument errors surface when the query is created, not at its first step. */
function checkQueryOptions(options: QueryOptions): void {
  if (options.maxTokens !== undefined) checkCount('maxTokens', options.maxTokens);
  const rewind: unknown = options.rewind;
  if (rewind !== undefined && typeof rewind !== 'boolean') {
    throw new InvalidArgumentError(`rewind must be a boolean, got ${typeof rewind} ${String(rewind)}`);
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
}
