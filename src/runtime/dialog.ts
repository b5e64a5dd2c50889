import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { SamplerParams } from '../sampler/params.js';
import { resolveUpdate, type SamplerUpdate } from '../sampler/resolve-params.js';
import type { ChainEntry } from '../sampler/chain.js';
import { Sampler } from '../sampler/sampler.js';
import type { ElementArray } from '../tensor/dtype.js';
import type { DerivedDialog } from './config/derive.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './config/types.js';
import { checkBackendOptions } from './backend-factory.js';
import { checkOptionKeys, describeValue, type OptionKeys } from './check-options.js';
import { checkConfigGeometry } from './config-geometry.js';
import { checkConfigTokenIds } from './config-vocabulary.js';
import { DialogState, penaltyHistoryCapacity, type DialogVision } from './dialog-state.js';
import type { DialogOptions, EmbeddingQueryOptions, QueryOptions, QueryResult } from './dialog-types.js';
import type { AccumulatorFormat } from './embeddings/accumulator.js';
import type { EmbeddingRows } from './embeddings/rows.js';
import type { Engine } from './engine/engine.js';
import { isGraphBackend, loadDialogConfig, openEngine } from './engine/open.js';
import type { Kpis } from './kpis.js';
import { wrapPromptCallbacks, wrapQueryCallbacks, wrapStageCallbacks } from './callbacks.js';
import { runQuery } from './query-run.js';
import { openDebugTrace, type DebugTrace } from './trace/debug-block.js';
import { QueryOutcome, queryStream, type QueryStream } from './query-stream.js';
import { resolveKvPolicy, type KvCacheView, type KvPolicy } from './kv-policy/index.js';
import { rewindToCheckpoint, takeCheckpoint, type DialogCheckpoint } from './save/checkpoint.js';
import { restoreDialog, saveDialog } from './save/save-dir.js';
import { StopSequenceMatcher } from './text/stop-sequence-matcher.js';
import { loadTokenizer } from './tokenizer/load.js';
import { Tokenizer } from './tokenizer/tokenizer.js';
import { TurnLedger, type TurnPrompt } from './turn-ledger.js';
import { ChatTemplate, TOKENIZER_CONFIG_FILE, type ChatMessage } from './chat-template.js';
import { spliceKeys } from './spliced-prompt.js';
import type { ImageEmbedder, ImageInput } from './vision/embedder.js';
import { DEFAULT_IMAGE_PLACEHOLDER, splicePrompt } from './vision/prompt.js';
import { VisionStage } from './vision/vision-stage.js';

export type { DialogOptions, EmbeddingQueryOptions, QueryOptions, QueryResult, StopReason } from './dialog-types.js';
export { DialogBusyError } from './dialog-state.js';


/** How errors about `DialogCreateOptions.samplerStages` name the list (a CLI renames it after its flag). */
export const SAMPLER_STAGES_OPTION = 'Dialog.create option samplerStages';
/**
 * Genie's basic dialog (docs/genie-behaviour.md#generation-loop) over an Engine: turn rules (the
 * previous turn's last sampled token, EOS between turns, BOS), prefill, sampling, streaming
 * detokenization, the EOS set, stop sequences (removed from the KV), `max-num-tokens`, the context
 * limit and abort.
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
  private readonly state: DialogState;
  /** What the config's `dialog.debug` block writes (null when it asks for nothing). */
  private debugTrace: DebugTrace | null = null;

  private constructor(config: DerivedDialog, state: DialogState) {
    this.config = config;
    this.tokenizer = state.tokenizer;
    this.initTimeUs = state.settings.initTimeUs;
    this.state = state;
  }

  /**
   * Loads a Genie config (a file path, or a parsed object whose relative paths resolve against
   * `options.baseDir`), its tokenizer and its binaries, and allocates every buffer once.
   */
  static async create(config: string | object, options: DialogOptions = {}): Promise<Dialog> {
    const start = process.hrtime.bigint();
    checkDialogOptions(options);
    const { parsed, derived } = await loadDialogConfig(config, options.baseDir, 'Dialog.create');
    const tokenizer = options.tokenizer ?? (await loadTokenizer(derived.tokenizerPath));
    // A given template is checked now; the tokenizer's own is read on the first chat(), so that a
    // template the renderer cannot parse never stops a dialog that only takes queries.
    const chatTemplate = options.chatTemplate === undefined ? undefined : new ChatTemplate(options.chatTemplate, {}, 'Dialog.create option chatTemplate');
    checkConfigTokenIds(parsed, tokenizer);
    const engine = await openEngine(derived, options.backend, { graphBackend: options.graphBackend, wrapBackend: options.wrapBackend });
    try {
      checkConfigGeometry(parsed, engine.layout);
      // The chain is checked against the parameters in force: the config's with `options.sampler` over them.
      const params = options.sampler ? resolveUpdate(derived.sampler, options.sampler).params : derived.sampler;
      const sampler = options.samplerStages === undefined
        ? new Sampler(params, engine.vocabSize, configStages(parsed))
        : new Sampler(params, engine.vocabSize, wrapStageCallbacks(options.samplerStages), SAMPLER_STAGES_OPTION);
      const initTimeUs = Number(process.hrtime.bigint() - start) / 1e3;
      const contextLimit = Math.min(derived.contextSize, engine.capacity);
      const ledger = new TurnLedger(derived.bosToken, derived.primaryEos, penaltyHistoryCapacity(contextLimit));
      const maxNumTokens = options.maxNumTokens ?? derived.maxNumTokens;
      const settings = {
        eosTokens: derived.eosTokens, stopSequences: derived.stopSequences, maxNumTokens, contextSize: derived.contextSize, initTimeUs,
        accumulatorSize: derived.accumulatorSize,
      };
      const state = new DialogState(engine, sampler, ledger, tokenizer, settings);
      state.chatTemplate = chatTemplate;
      state.kvPolicy = resolveKvPolicy(options.kvPolicy, derived);
      state.vision = await openVision(engine, options);
      const dialog = new Dialog(derived, state);
      dialog.debugTrace = openDebugTrace(isDialogRoot(parsed) ? dialogBody(parsed).debug : undefined, engine);
      return dialog;
    } catch (error) {
      await engine.dispose();
      throw error;
    }
  }

  /**
   * Streams the reply to a (fully templated: Genie applies no chat template) prompt.
   *
   * The call itself throws when the query cannot start now, before any generator exists:
   * `DisposedError`; `InvalidArgumentError` for a bad prompt or option, or a turn with nothing to
   * feed; `DialogBusyError` while another query is inside a model step; `ContextLimitError` when the
   * prompt does not fit in what the KV cache has left. Nothing runs and nothing is claimed until the
   * first `next()` (the first step of `for await`): only then does the query take the dialog, planning
   * its turn again on the dialog as it is then. So a generator that is never iterated changes nothing
   * and leaves the dialog free; one that waited while another query ran continues that conversation,
   * and its first `next()` rejects with the errors above when the dialog no longer allows it (busy
   * with the other query, disposed, out of context).
   *
   * A query is *suspended* while its generator waits at a yield for the next `next()`. A new query
   * taking the dialog, `reset()` or `dispose()` cancels a suspended query: it ends there as an abort
   * at that point would (what it generated stays in the conversation as a finished turn, its last
   * token carried over to the next turn), and its next `next()` returns its `QueryResult` with stop
   * reason `'cancelled'` (or the reason its last delivered token already gave: a completed stop
   * sequence, the token cap, an abort). Leaving the loop (`break`, `return()`, which then resolves
   * with the result) ends it the same way. The result of the last query that ended, however it
   * ended, is `lastResult`; the returned `QueryStream`'s `result` promise is this query's own
   * (resolved however it ends, rejected with its error). `QueryOptions.onToken` reports each token's id.
   */
  query(prompt: string, options: QueryOptions = {}): QueryStream {
    this.checkUsable();
    if (typeof prompt !== 'string') throw new InvalidArgumentError(`prompt must be a string, got ${describeValue(prompt)}`);
    checkQueryOptions('query', options, QUERY_OPTION_KEYS);
    this.checkAcceptsTokens('query');
    const vision = this.state.vision;
    if (options.images !== undefined || (vision !== null && prompt.includes(vision.placeholder))) {
      return this.start(this.splicedPrompt(prompt, options), options);
    }
    const ids = Array.from(this.tokenizer.encode(prompt));
    this.checkIds(ids, 'the encoded prompt');
    return this.start({ kind: 'tokens', ids, rewind: options.rewind === true }, options);
  }

  /**
   * A turn of a chat: renders the whole conversation `messages` (the replies so far included) with the
   * dialog's chat template, ending with the assistant's turn opened, and sends it as a REWIND query
   * (`query(prompt, { ...options, rewind: true })`), so only what the KV cache lacks is fed. Images go
   * in `options.images`, for the `<image>` placeholders the messages' text holds.
   *
   * ```ts
   * const messages = [{ role: 'user', content: 'Hi' }];
   * let reply = '';
   * for await (const piece of dialog.chat(messages)) reply += piece;
   * messages.push({ role: 'assistant', content: reply }, { role: 'user', content: 'And then?' });
   * for await (const piece of dialog.chat(messages)) process.stdout.write(piece); // feeds the new turns only
   * ```
   * @throws NotSupportedError when the dialog has no chat template (`DialogOptions.chatTemplate`, or a
   * `tokenizer_config.json` beside the tokenizer); InvalidArgumentError for messages that are not
   * `{ role, content }` strings; ChatTemplateError when the template fails to render; as `query`.
   */
  chat(messages: readonly ChatMessage[], options: Omit<QueryOptions, 'rewind'> = {}): QueryStream {
    this.checkUsable();
    if (this.state.chatTemplate === undefined) this.state.chatTemplate = ChatTemplate.beside(this.config.tokenizerPath);
    const template = this.state.chatTemplate;
    if (template === null) {
      throw new NotSupportedError(
        `chat needs a chat template: there is no ${TOKENIZER_CONFIG_FILE} with a chat_template beside the tokenizer ` +
          `(${this.config.tokenizerPath}); pass DialogOptions.chatTemplate`,
      );
    }
    if (typeof options !== 'object' || options === null || 'rewind' in options) {
      throw new InvalidArgumentError('chat options: a chat turn is always a rewind query; rewind is not an option of chat');
    }
    return this.query(template.render(messages), { ...options, rewind: true });
  }

  /** Like `query` (errors and start included), with the prompt given as token ids (genie-t2t-run `--tokens_file`). */
  tokenQuery(tokens: ArrayLike<number>, options: QueryOptions = {}): QueryStream {
    this.checkUsable();
    if (!Array.isArray(tokens) && !(ArrayBuffer.isView(tokens) && !(tokens instanceof DataView))) {
      throw new InvalidArgumentError(
        `tokens must be an array (or typed array) of token ids, got ${describeValue(tokens)}` +
          (typeof tokens === 'string' ? ' (query() takes text)' : ''),
      );
    }
    const ids = Array.from(tokens);
    this.checkIds(ids, 'tokens');
    checkQueryOptions('tokenQuery', options, COMMON_QUERY_OPTION_KEYS);
    this.checkAcceptsTokens('tokenQuery');
    return this.start({ kind: 'tokens', ids, rewind: options.rewind === true }, options);
  }

  /**
   * Like `query`, with the prompt given as embedding rows (Genie's `GenieDialog_embeddingQuery`,
   * genie-t2t-run `-e`): `embeddingSize` elements per row, float32 or fixed-point codes (see
   * `options.dtype` / `encoding`), converted into the model input's dtype and encoding. The rows
   * are the whole prompt: the dialog adds no BOS (put its row in the embeddings); it still feeds
   * the previous turn's carried-over token and EOS between turns first, through the LUT or
   * `options.tokenToEmbedding`. Generated tokens are fed back the same way (Genie's T2E). Errors and
   * start as for `query`.
   * @throws NotSupportedError when the model takes token ids; InvalidArgumentError for rows of the
   * wrong class, size or values, or when there is neither a LUT nor a `tokenToEmbedding` callback.
   */
  embeddingQuery<T extends ElementArray>(embeddings: T, options: EmbeddingQueryOptions<T> = {}): QueryStream {
    this.checkUsable();
    checkQueryOptions('embeddingQuery', options, EMBEDDING_QUERY_OPTION_KEYS);
    if (options.rewind === true) {
      throw new NotSupportedError('embeddingQuery cannot rewind: embedding rows carry no token ids to match against the KV cache');
    }
    const toEmbedding = options.tokenToEmbedding as ((token: number, row: ElementArray) => void) | undefined;
    if (toEmbedding !== undefined && typeof toEmbedding !== 'function') {
      throw new InvalidArgumentError(`embeddingQuery option tokenToEmbedding must be a function, got ${describeValue(toEmbedding)}`);
    }
    const rows: EmbeddingRows = { data: embeddings, dtype: options.dtype ?? 'FLOAT_32', encoding: options.encoding };
    const count = this.state.engine.checkEmbeddingRows(rows);
    if (toEmbedding === undefined && !this.state.engine.acceptsTokens) {
      throw new InvalidArgumentError(
        'embeddingQuery needs options.tokenToEmbedding: the config\'s embedding has no LUT (type "callback") ' +
          'to turn the dialog\'s tokens into embeddings',
      );
    }
    return this.start({ kind: 'embeddings', rows, count, toEmbedding }, options);
  }

  /**
   * The format embedding rows are converted into for the model (its embedding input's dtype and
   * encoding; float32 for a float16 input, which the engine converts): Genie's accumulator encoding.
   * Undefined for an ids model.
   */
  get embeddingFormat(): AccumulatorFormat | undefined {
    return this.state.engine.embeddingSize === undefined ? undefined : this.state.accumulator().format;
  }

  /** Elements per embedding row when the model takes embeddings (`embedding.size`); undefined for an ids model. */
  get embeddingSize(): number | undefined {
    return this.state.engine.embeddingSize;
  }

  /**
   * Forgets the conversation: empty KV cache, no carried-over token, penalty history cleared. A query
   * parked at a yield is cancelled first; one inside a model step makes this throw `DialogBusyError`.
   */
  reset(): void {
    this.state.checkIdle();
    this.state.cancelSuspended();
    this.state.engine.reset();
    this.state.ledger.reset();
    this.state.sampler.reset();
  }

  /** An in-memory point to come back to with `rewindTo` (src/runtime/save/checkpoint.ts); between queries only. */
  checkpoint(): DialogCheckpoint {
    return takeCheckpoint(this.state);
  }

  /** Back to `checkpoint` (KV cut back, ledger, position, RNG, sampler params); `StaleCheckpointError` when its entries are gone. */
  rewindTo(checkpoint: DialogCheckpoint): void {
    rewindToCheckpoint(this.state, checkpoint);
  }

  /** Genie's `GenieDialog_save`: the conversation to the folder `dir`, atomically (src/runtime/save/save-dir.ts). */
  save(dir: string): Promise<void> {
    return saveDialog(this.state, dir);
  }

  /** Genie's `GenieDialog_restore`: `SaveFormatError` / `SaveModelMismatchError` leave the dialog unchanged. */
  restore(dir: string): Promise<void> {
    return restoreDialog(this.state, dir);
  }

  /**
   * Live sampler reconfiguration (Genie's `GenieSampler_applyConfig`): any subset of `samplerParams`
   * (which can be passed back whole; its derived `greedy` must agree with `temp` and `topK`). The
   * update is validated whole first: an invalid one throws `InvalidArgumentError` and changes
   * nothing. A `seed` key restarts the random sequence. A `penalizeLastN` beyond the context covers
   * the tokens the dialog holds (context + 1), also once a KV policy took the conversation further.
   */
  configureSampler(update: SamplerUpdate): void {
    this.checkUsable();
    this.state.sampler.configure(update);
  }

  get samplerParams(): SamplerParams {
    return this.state.sampler.params;
  }

  /** Genie's `GenieDialog_setStopSequence`; an empty list clears them. */
  setStopSequences(stops: readonly string[]): void {
    this.checkUsable();
    new StopSequenceMatcher(stops); // validates (empty strings, lone surrogates) before anything changes
    this.state.stopSequences = [...stops];
  }

  /** Most tokens the KV cache can hold: `context.size`, or less when the binaries' KV-in is smaller. */
  get contextLimit(): number {
    return this.state.contextLimit;
  }

  /**
   * The KV cache slot by slot (a live, read-only view): each entry's position, token id (or the kind
   * of row it came from) and turn. Slots and positions part once a KV policy evicts.
   */
  get kvCache(): KvCacheView {
    return this.state.kvView;
  }

  /** The KV policy in force (`DialogOptions.kvPolicy`, the config's `longcontext`); null: none. */
  get kvPolicy(): KvPolicy | null {
    return this.state.kvPolicy;
  }

  /** Tokens held in the KV cache. */
  get contextUsed(): number {
    return this.state.engine.nValid;
  }

  /** Backend profiling records (QnnProfile events with `backend.qnn.profiling`) since the last call. */
  takeBackendProfile(): readonly object[] {
    this.checkUsable();
    return this.state.engine.takeBackendProfile();
  }

  /**
   * The result of the last query that ended: by a stop criterion, an abort, or a cancel (a `break`
   * out of its loop included), or a reply that filled the context (stop reason `context-limit`,
   * while its generator rejects with `ContextLimitError`); undefined before the first and after a
   * query that failed with another error.
   */
  get lastResult(): QueryResult | undefined {
    return this.state.lastResult;
  }

  /** KPIs of the last query that ended (`lastResult.kpis`). */
  get kpis(): Kpis | undefined {
    return this.state.lastResult?.kpis;
  }

  /** Releases the backend; a query parked at a yield is cancelled first (its next `next()` returns its result). */
  /** Ends a suspended query, waits for a step in flight, frees the backend; every call waits for the same end. */
  async dispose(): Promise<void> {
    if (!this.state.disposed) {
      this.state.cancelSuspended();
      this.state.disposed = true;
    }
    await this.state.engine.dispose();
    if (this.state.vision?.owned) await this.state.vision.embedder.dispose();
    // The debug trace's index is completed last: a TraceError here comes after everything was freed.
    this.debugTrace?.finish();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /**
   * Checks that the query could start now (idle dialog, something to feed, room in the context) and
   * returns it; it claims the dialog and plans its turn at its first `next()`.
   */
  private start(prompt: TurnPrompt, options: QueryOptions): QueryStream {
    // What a caller's callback throws arrives as a CallbackError naming it (src/runtime/callbacks.ts).
    [prompt, options] = [wrapPromptCallbacks(prompt), wrapQueryCallbacks(options)];
    const forced = options.forceTokens === undefined ? undefined : this.forcedTokens(options.forceTokens);
    this.state.checkIdle();
    this.state.plan(prompt);
    const outcome = new QueryOutcome();
    return queryStream(runQuery(this.state, prompt, forced === undefined ? options : { ...options, forceTokens: forced }, outcome), outcome);
  }

  /** `QueryOptions.forceTokens`, checked and copied (the caller may reuse the array). */
  private forcedTokens(tokens: unknown): number[] {
    if (!Array.isArray(tokens) && !(ArrayBuffer.isView(tokens) && !(tokens instanceof DataView))) {
      throw new InvalidArgumentError(`forceTokens must be an array (or typed array) of token ids, got ${describeValue(tokens)}`);
    }
    const ids = Array.from(tokens as ArrayLike<unknown>);
    if (ids.length === 0) throw new InvalidArgumentError('forceTokens must not be empty (leave the option out to sample freely)');
    this.checkIds(ids, 'forceTokens');
    return ids as number[];
  }

  /** The prompt split at its image placeholders, each image keyed by its content (files are read now). */
  private splicedPrompt(prompt: string, options: QueryOptions): TurnPrompt {
    const images: unknown = options.images ?? [];
    if (!Array.isArray(images)) throw new InvalidArgumentError(`query option images must be an array of images, got ${describeValue(images)}`);
    const vision = this.state.vision;
    if (vision === null) {
      throw new NotSupportedError(
        'query option images needs an image encoder: create the dialog with the imageEncoder option (an image-encoder config), ' +
          'or genie-ts run --image-encoder FILE',
      );
    }
    const segments = splicePrompt(prompt, images as ImageInput[], vision.placeholder, this.tokenizer, vision.embedder);
    for (const segment of segments) if (segment.kind === 'tokens') this.checkIds(segment.ids, 'the encoded prompt');
    return { kind: 'spliced', segments, keys: spliceKeys(segments), rewind: options.rewind === true };
  }

  /** A tokenizer's vocabulary can be larger than the model's (or the ids arbitrary): check before anything runs. */
  private checkIds(ids: readonly unknown[], name: string): void {
    const vocab = this.state.engine.vocabSize;
    ids.forEach((t, i) => {
      if (typeof t !== 'number') {
        throw new InvalidArgumentError(`${name}[${i}] is ${describeValue(t)}, not a token id (an integer in [0, ${vocab}))`);
      }
      if (!Number.isInteger(t) || t < 0 || t >= vocab) {
        throw new InvalidArgumentError(`${name}[${i}] = ${t} is not a token id in [0, ${vocab})`);
      }
    });
  }

  private checkUsable(): void {
    this.state.checkUsable();
  }

  private checkAcceptsTokens(method: string): void {
    if (!this.state.engine.acceptsTokens) {
      throw new NotSupportedError(
        `${method} needs an embedding LUT: the config's embedding is type "callback"; use embeddingQuery with a tokenToEmbedding callback`,
      );
    }
  }
}

const DIALOG_OPTION_KEYS = {
  baseDir: true, sampler: true, maxNumTokens: true, tokenizer: true, backend: true, imageEncoder: true, imagePlaceholder: true,
  graphBackend: true, wrapBackend: true, chatTemplate: true, kvPolicy: true, samplerStages: true,
} as const satisfies Record<keyof DialogOptions, true>;

/** Options every query method takes. */
const COMMON_QUERY_OPTION_KEYS = {
  signal: true, maxTokens: true, onLogits: true, onToken: true, onStep: true, rewind: true, forceTokens: true, topLogprobs: true,
} as const satisfies Record<Exclude<keyof QueryOptions, 'images'>, true>;

const QUERY_OPTION_KEYS = { ...COMMON_QUERY_OPTION_KEYS, images: true } as const satisfies Record<keyof QueryOptions, true>;

const EMBEDDING_QUERY_OPTION_KEYS = {
  ...COMMON_QUERY_OPTION_KEYS, dtype: true, encoding: true, tokenToEmbedding: true,
} as const satisfies Record<keyof EmbeddingQueryOptions, true>;

/**
 * The dialog's vision stage from `options.imageEncoder`, checked against the model: images become
 * rows of its embedding input, so it must take embeddings through a LUT (text and generated tokens
 * are looked up in it), as wide as the encoder's rows.
 */
async function openVision(engine: Engine, options: DialogOptions): Promise<DialogVision | null> {
  const { imageEncoder, imagePlaceholder = DEFAULT_IMAGE_PLACEHOLDER } = options;
  if (imageEncoder === undefined) return null;
  const size = engine.embeddingSize;
  if (size === undefined || engine.embeddingTable === undefined) {
    throw new NotSupportedError(
      size === undefined
        ? `Dialog.create option imageEncoder: the model's first graph takes token ids ("${engine.layout.input.tensor.name}"); image rows can only be spliced into a model that takes embeddings`
        : 'Dialog.create option imageEncoder: the config\'s embedding is type "callback"; splicing images needs its LUT (type "lut") for the text around them',
    );
  }
  const owned = !isImageEmbedder(imageEncoder);
  const embedder = owned ? await VisionStage.open(imageEncoder, { baseDir: options.baseDir, backend: options.backend }) : imageEncoder;
  if (embedder.width !== size) {
    if (owned) await embedder.dispose();
    throw new InvalidArgumentError(
      `Dialog.create option imageEncoder: its rows have ${embedder.width} elements but the model's embedding rows have ${size} (embedding.size)`,
    );
  }
  return { embedder, placeholder: imagePlaceholder, owned };
}

function isImageEmbedder(value: unknown): value is ImageEmbedder {
  const v = value as Partial<ImageEmbedder> | null;
  return typeof v === 'object' && v !== null && typeof v.embed === 'function' && typeof v.dispose === 'function' &&
    Number.isSafeInteger(v.rows) && (v.rows as number) > 0 && Number.isSafeInteger(v.width) && (v.width as number) > 0;
}

/** `Dialog.create`'s options, checked before anything is read: known keys, values of the right kind. */
function checkDialogOptions(options: DialogOptions): void {
  checkOptionKeys('Dialog.create options', options, DIALOG_OPTION_KEYS);
  const { baseDir, sampler, maxNumTokens, tokenizer, backend } = options;
  if (baseDir !== undefined && typeof baseDir !== 'string') {
    throw new InvalidArgumentError(`Dialog.create option baseDir must be a folder path (a string), got ${describeValue(baseDir)}`);
  }
  if (sampler !== undefined && (typeof sampler !== 'object' || sampler === null || Array.isArray(sampler))) {
    throw new InvalidArgumentError(`Dialog.create option sampler must be an object of sampler params, got ${describeValue(sampler)}`);
  }
  if (maxNumTokens !== undefined) checkCount('Dialog.create option maxNumTokens', maxNumTokens);
  // Each entry is checked where the chain is built (Sampler), which names its index.
  if (options.samplerStages !== undefined && !Array.isArray(options.samplerStages)) {
    throw new InvalidArgumentError(`${SAMPLER_STAGES_OPTION} must be an array of stages, got ${describeValue(options.samplerStages)}`);
  }
  if (tokenizer !== undefined && !(tokenizer instanceof Tokenizer)) {
    throw new InvalidArgumentError(`Dialog.create option tokenizer must be a Tokenizer (from loadTokenizer), got ${describeValue(tokenizer)}`);
  }
  checkBackendOptions(backend);
  const { graphBackend, wrapBackend } = options;
  if (graphBackend !== undefined && !isGraphBackend(graphBackend)) {
    throw new InvalidArgumentError(
      `Dialog.create option graphBackend must be a GraphBackend (graphs, allocate, bind, execute, dispose), got ${describeValue(graphBackend)}`,
    );
  }
  if (wrapBackend !== undefined && typeof wrapBackend !== 'function') {
    throw new InvalidArgumentError(`Dialog.create option wrapBackend must be a function (configured: GraphBackend) => GraphBackend, got ${describeValue(wrapBackend)}`);
  }
  const { imageEncoder, imagePlaceholder, chatTemplate } = options;
  if (chatTemplate !== undefined && (typeof chatTemplate !== 'string' || chatTemplate === '')) {
    throw new InvalidArgumentError(`Dialog.create option chatTemplate must be the template's text (a non-empty string), got ${describeValue(chatTemplate)}`);
  }
  if (imageEncoder !== undefined && typeof imageEncoder !== 'string' && (typeof imageEncoder !== 'object' || imageEncoder === null || Array.isArray(imageEncoder))) {
    throw new InvalidArgumentError(
      `Dialog.create option imageEncoder must be an image-encoder config (a path or an object) or an ImageEmbedder, got ${describeValue(imageEncoder)}`,
    );
  }
  if (imagePlaceholder !== undefined && (typeof imagePlaceholder !== 'string' || imagePlaceholder === '')) {
    throw new InvalidArgumentError(`Dialog.create option imagePlaceholder must be a non-empty string, got ${describeValue(imagePlaceholder)}`);
  }
}

/** The config's `sampler.stages` (a genie-ts extension), if any. */
function configStages(config: GenieConfig): ChainEntry[] | undefined {
  const stages = isDialogRoot(config) ? dialogBody(config).sampler?.stages : undefined;
  return stages === undefined ? undefined : [...stages];
}

/** Argument errors surface when the query is created, not at its first step. */
function checkQueryOptions(method: string, options: QueryOptions, known: OptionKeys): void {
  checkOptionKeys(`${method} options`, options, known);
  if (options.maxTokens !== undefined) checkCount('maxTokens', options.maxTokens);
  if (options.topLogprobs !== undefined) checkCount('topLogprobs', options.topLogprobs);
  const rewind: unknown = options.rewind;
  if (rewind !== undefined && typeof rewind !== 'boolean') {
    throw new InvalidArgumentError(`rewind must be a boolean, got ${typeof rewind} ${String(rewind)}`);
  }
  // Only `aborted` is read (between steps), so anything that has it will do.
  const signal: unknown = options.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal)) {
    throw new InvalidArgumentError(`${method} option signal must be an AbortSignal (an object with \`aborted\`), got ${describeValue(signal)}`);
  }
  const onLogits: unknown = options.onLogits;
  if (onLogits !== undefined && typeof onLogits !== 'function') {
    throw new InvalidArgumentError(`${method} option onLogits must be a function (logits, token) => void, got ${describeValue(onLogits)}`);
  }
  const onToken: unknown = options.onToken;
  if (onToken !== undefined && typeof onToken !== 'function') {
    throw new InvalidArgumentError(`${method} option onToken must be a function ({ id, text, index }) => void, got ${describeValue(onToken)}`);
  }
  const onStep: unknown = options.onStep;
  if (onStep !== undefined && typeof onStep !== 'function') {
    throw new InvalidArgumentError(`${method} option onStep must be a function (event: StepEvent) => void, got ${describeValue(onStep)}`);
  }
}

function checkCount(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${describeValue(value)}`);
  }
}
