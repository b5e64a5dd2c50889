import type { GraphBackend } from '../../backends/backend.js';
import { DisposedError, GenieError, InvalidArgumentError, NotSupportedError } from '../../errors.js';
import { planBuffers } from '../../graphs/buffer-plan.js';
import { checkContextSize } from '../../graphs/context-size.js';
import { discoverModelLayout } from '../../graphs/discover.js';
import { ContextLimitError } from '../../graphs/errors.js';
import type { ModelLayout, Variant } from '../../graphs/layout.js';
import { DEFAULT_CACHE_GROUP } from '../../graphs/names.js';
import { ExecutionPlanner, type PlanStep } from '../../graphs/planner.js';
import { MAX_ROPE_POSITION } from '../../rope/table.js';
import { LogitsView } from '../../sampler/logits-view.js';
import { describeValue } from '../check-options.js';
import { checkEmbeddingRows, type EmbeddingRows } from '../embeddings/rows.js';
import type { EmbeddingTable } from '../embeddings/lut.js';
import { EngineBuffers } from './buffers.js';
import { INPUT_PARTS, KvCachePart, StepPositionPart, type InputPart } from './inputs/index.js';
import type { EngineOptions } from './options.js';
// Engine.open only: open.ts imports this module too (a cycle evaluated at call time, never at load).
import { openConfiguredEngine, type EngineOpenOptions } from './open.js';
import type { EngineStep } from './step.js';
import { stepSplit, StepListenerError, type StepEvent, type StepKind, type StepListener, type StepSplit } from './step-event.js';

// Defined with the other base errors (the logits view throws it too); exported here as it always was.
export { DisposedError };

/** A call that reads or changes the cache came while a step was running (an overlapping call). */
export class EngineBusyError extends GenieError {
  constructor(what: string) {
    super('BUSY', `${what}: a step is running; call it once the running prefill or decode has returned`);
  }
}

/** A macrotask turn: timers, signal handlers and I/O callbacks run before it resolves. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Options of `Engine.prefillEmbeddings`. */
export interface EmbeddingPrefillOptions {
  /** Token ids fed before the rows, through the LUT (a dialog's carried-over token, EOS between turns). */
  readonly leadingTokens?: ArrayLike<number>;
  /** Aborts between chunks (the cache is then back where it was). */
  readonly signal?: AbortSignal;
}

/**
 * Genie's engine over compiled AR-N graphs: owns the IO buffers, the KV cache and the execution
 * plan, and turns token ids (or embedding rows) into logits. It never samples and knows no text.
 *
 * Per step: every input part fills its tensors (KV layout, ids or embedding rows, mask, cos/sin,
 * position_ids, cache_index: see ./inputs), the variant's parts run in split order, and the KV part
 * commits the new entries; on a backend that executes off the JS thread, split by split while the
 * next split runs, the last split's after the caller has sampled (see `runOverlapped`; on one that
 * queues executions, every part is submitted at once: `runQueued`). Off the JS thread, the
 * first parts also read a copy of their own of the mask, cos/sin and position inputs, written for the
 * next step (a prefill's next chunk, or the decode step expected next) while the later parts run
 * (`fillAhead`). Positions are carried apart from KV slots
 * (see `EngineStep`).
 *
 * Event loop: unless the backend declares `executesOffThread`, each step first yields one macrotask
 * turn, so that a backend whose `execute` runs on the JS thread (Reference) cannot starve timers,
 * signals and I/O: an abort requested from any of them lands within one step.
 *
 * Dispose during a step: `dispose()` marks the engine disposed, waits for the running step and only
 * then disposes the backend (which frees the IO memory). The step stops after the graph part it is
 * executing (no KV update, no logits) and rejects with `DisposedError`, so nothing reads or writes
 * the IO buffers once they are freed.
 */
export class Engine {
  readonly layout: ModelLayout;
  readonly contextSize: number;
  readonly vocabSize: number;
  /** Logits of the last processed token (its row is selected by `prefill` / `decode`). */
  readonly logits: LogitsView;
  readonly bufferBytes: number;
  /** Most KV entries the binaries can hold: the largest KV-in past dim (CL - AR for concat graphs). */
  readonly capacity: number;
  /** Elements per embedding row when the first part takes embeddings; undefined for an ids model. */
  readonly embeddingSize: number | undefined;
  /** Token ids can be fed (`prefill`, `decode`): the model takes ids, or there is a LUT. */
  readonly acceptsTokens: boolean;
  /** The host LUT (`EngineOptions.embeddings`), when the model takes embeddings and has one. */
  readonly embeddingTable: EmbeddingTable | undefined;
  /** The input families this model takes, in fill order (the KV cache first). */
  readonly inputs: readonly InputPart[];

  private readonly backend: GraphBackend;
  private readonly buffers: EngineBuffers;
  /** Cache-group prefixes, for the tensor roles of step events. */
  private readonly cacheGroups: readonly string[];
  /** `setStepListener`'s listener, the name its errors give it, and the steps reported to it. */
  private listener: StepListener | null = null;
  private listenerName = '';
  private listenerSteps = 0;
  private readonly planner: ExecutionPlanner;
  private readonly kv: KvCachePart;
  /** The one step object the parts read, rewritten per step. */
  private readonly step: EngineStep;
  /** The inputs that depend on the fed entries (KV cache, ids or rows): written at each step's start. */
  private readonly entryInputs: readonly InputPart[];
  /** The step-position inputs: their first parts' copy written at a step's start unless written ahead, the other after the first submission. */
  private readonly positionInputs: readonly StepPositionPart[];
  /** The step expected after the running one, which `fillAhead` writes the first parts' copies for. */
  private readonly aheadStep: EngineStep;
  /** The first parts have their own copies of the step-position inputs (`BufferPlan.stepInputs`), which `fillAhead` writes. */
  private readonly firstPartCopies: boolean;
  /** The running step writes the first parts' copies for the next step once its first part has ended (`fillAhead`). */
  private aheadPending = false;
  /** The step after the running one when it is known: a prefill's next chunk (null: a decode step is expected after a final one). */
  private plannedNext: PlanStep | null = null;
  private readonly single = new Int32Array(1);
  /**
   * The backend's execute may run on the JS thread: yield a macrotask turn per step, and commit
   * the KV cache at the end of each step (`runOverlapped` is for backends that execute off it).
   */
  private readonly yieldPerStep: boolean;
  /** The backend queues executions (`GraphBackend.queuesExecutions`): a step's parts are submitted at once (`runQueued`). */
  private readonly submitsAtOnce: boolean;
  /** `runQueued`'s executions of the running step, by part index (null: not submitted); reused. */
  private readonly executions: (Promise<void> | null)[];
  /** Per variant, the execution queue of each part (`GraphBackend.executionQueue`; without it, one per part). */
  private readonly partQueues: ReadonlyMap<Variant, Int32Array>;
  private disposed = false;
  /** The backend's disposal, once `dispose` was called (every call returns it). */
  private disposal: Promise<void> | null = null;
  /** A step is between its start and its end (`run`). */
  private stepping = false;
  /** The running step was abandoned (`discardFrom`): it commits nothing, submits no more graphs, sets no logits. */
  private abandoned = false;
  /** The running step has staged its KV commit (`beginCommit`), which an abandon drops. */
  private commitBegun = false;
  /** Resolved when the running step ends, for whoever waits for it (`stepEnd`); made on demand. */
  private stepEnded: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;

  private constructor(backend: GraphBackend, options: EngineOptions) {
    const layout = discoverModelLayout(backend.graphs, { cacheGroups: options.cacheGroups });
    checkContextSize(layout, options.contextSize, options.longContext === true);
    // The first parts' copies of the step-position inputs are written while later parts run: off the JS thread only.
    this.firstPartCopies = backend.executesOffThread === true;
    const buffers = new EngineBuffers(backend, planBuffers(layout, { firstPartCopies: this.firstPartCopies }));
    this.layout = layout;
    this.backend = backend;
    this.buffers = buffers;
    this.cacheGroups = options.cacheGroups ?? [DEFAULT_CACHE_GROUP];
    this.yieldPerStep = backend.executesOffThread !== true;
    this.submitsAtOnce = backend.executesOffThread === true && backend.queuesExecutions === true;
    this.contextSize = options.contextSize;
    this.vocabSize = layout.vocabSize;
    this.bufferBytes = buffers.totalBytes;
    this.planner = new ExecutionPlanner(layout);
    this.executions = new Array<Promise<void> | null>(Math.max(...layout.variants.map((v) => v.parts.length))).fill(null);
    this.partQueues = new Map(layout.variants.map((v) => [v, Int32Array.from(v.parts, (part, p) => backend.executionQueue?.(part.name) ?? p)]));
    this.embeddingSize = layout.input.kind === 'embeddings' ? layout.input.rowElements : undefined;
    this.acceptsTokens = layout.input.kind === 'ids' || options.embeddings !== undefined;
    this.embeddingTable = layout.input.kind === 'embeddings' ? options.embeddings : undefined;
    this.logits = new LogitsView(buffers.require(layout.logits.name), {
      dtype: layout.logits.dtype,
      vocab: layout.vocabSize,
      encoding: layout.logits.encoding,
    });

    const decodeVariant = this.planner.decodeVariant(0);
    this.kv = new KvCachePart(layout, buffers, decodeVariant);
    this.capacity = this.kv.capacity;
    const context = { layout, buffers, options };
    const parts: InputPart[] = [this.kv];
    for (const factory of INPUT_PARTS) {
      const part = factory(context);
      if (part !== undefined) parts.push(part);
    }
    this.inputs = parts;
    this.entryInputs = parts.filter((part) => !(part instanceof StepPositionPart));
    this.positionInputs = parts.filter((part): part is StepPositionPart => part instanceof StepPositionPart);
    this.step = { variant: decodeVariant, tokens: NO_TOKENS, rows: null, start: 0, nNew: 0, nValid: 0, position: 0, final: false };
    this.aheadStep = { variant: decodeVariant, tokens: NO_TOKENS, rows: null, start: 0, nNew: 1, nValid: 0, position: 0, final: true };
  }

  /**
   * The Engine of a Genie config (a file path, or a parsed object whose relative paths resolve
   * against `options.baseDir`), for driving graph steps without a dialog: the config's backend
   * (`options.backend` for it, or `graphBackend` / `wrapBackend` as `Dialog.create` takes them), its
   * LUT, every buffer bound; the config's model shape is checked against the binaries. The caller
   * disposes it.
   */
  static open(config: string | object, options?: EngineOpenOptions): Promise<Engine> {
    return openConfiguredEngine(config, options);
  }

  /** Discovers the model in the backend's graphs, allocates and binds every buffer once. */
  static create(backend: GraphBackend, options: EngineOptions): Engine {
    return new Engine(backend, options);
  }

  /** KV entries currently valid (tokens processed since the last reset, minus rewinds). */
  get nValid(): number {
    return this.kv.nValid;
  }

  /** Position of the next entry fed: nValid unless `setPosition` moved positions apart from slots. */
  get position(): number {
    return this.kv.nextPosition;
  }

  /** @internal The KV cache and its positions, for a dialog's checkpoint, save and restore (src/runtime/save). */
  get kvCache(): KvCachePart {
    return this.kv;
  }

  /**
   * Processes `tokens` after the cached ones (chunked over the AR variants as Genie plans it) and
   * leaves `logits` on the last token's row. Returns null when `signal` aborts between chunks; the
   * cache is then back where it was.
   * @throws ContextLimitError when they do not fit the binaries' context.
   */
  async prefill(tokens: ArrayLike<number>, signal?: AbortSignal): Promise<LogitsView | null> {
    if (this.abandoned) await this.afterAbandonedStep('prefill');
    this.checkIdle('prefill');
    this.checkAcceptsTokens();
    this.checkTokens(tokens);
    return this.prefillSequence(tokens, null, tokens.length, signal);
  }

  /**
   * Like `prefill` over caller-given embedding rows (Genie's embedding query) for a model whose
   * first part takes embeddings: `leadingTokens` (through the LUT), then the rows, chunked over the
   * AR variants. FLOAT_32 rows are quantized (or converted) into the input's dtype, fixed-point rows
   * requantized into its encoding (codes copied unchanged when the encodings are equal). Unused rows
   * of a chunk hold the LUT's EOS row, or the input's code for 0.0 without a LUT (they are masked,
   * so their content cannot change any valid row's result).
   * @throws NotSupportedError for a model fed with token ids, or leading tokens without a LUT;
   * InvalidArgumentError for rows `checkEmbeddingRows` rejects; ContextLimitError as `prefill`.
   */
  async prefillEmbeddings(rows: EmbeddingRows, options: EmbeddingPrefillOptions = {}): Promise<LogitsView | null> {
    if (this.abandoned) await this.afterAbandonedStep('prefillEmbeddings');
    this.checkIdle('prefillEmbeddings');
    const count = this.checkEmbeddingRows(rows);
    const leading = options.leadingTokens ?? NO_TOKENS;
    if (leading.length > 0) {
      this.checkAcceptsTokens();
      this.checkTokens(leading, 'leadingTokens');
    }
    return this.prefillSequence(leading, rows, leading.length + count, options.signal);
  }

  /**
   * Validates embedding rows for this model (see `checkEmbeddingRows` in embeddings/rows) and
   * returns their count.
   * @throws NotSupportedError when the model takes token ids.
   */
  checkEmbeddingRows(rows: EmbeddingRows, name = 'embeddings'): number {
    const size = this.embeddingSize;
    if (size === undefined) {
      throw new NotSupportedError(
        `the model's first graph takes token ids ("${this.layout.input.tensor.name}"), not embeddings: feed it tokens`,
      );
    }
    return checkEmbeddingRows(rows, size, name);
  }

  /** One decode step for one token (the smallest AR that fits, Genie's choice). */
  decode(token: number): Promise<LogitsView> {
    // Not `async`: the step's own promise, without more to settle after it (a decode token's path).
    if (this.abandoned) return this.afterAbandonedStep('decode').then(() => this.decode(token));
    try {
      this.checkIdle('decode');
      this.checkAcceptsTokens();
      this.checkToken(token, 'token');
    } catch (error) {
      return Promise.reject(error);
    }
    this.single[0] = token;
    return this.decodeStep(this.single, null);
  }

  /** `decode` for one caller-given embedding row (`name` names it in errors) (a generated token converted by a T2E callback). */
  async decodeEmbedding(row: EmbeddingRows, name = 'row'): Promise<LogitsView> {
    if (this.abandoned) await this.afterAbandonedStep('decodeEmbedding');
    this.checkIdle('decodeEmbedding');
    const count = this.checkEmbeddingRows(row, name);
    if (count !== 1) throw new InvalidArgumentError(`${name} holds ${count} embedding rows, expected exactly 1`);
    return this.decodeStep(NO_TOKENS, row);
  }

  /**
   * Sets (or, with null, removes) the listener told about every graph step from now on (one
   * `StepEvent` per planned chunk: variant, input parts, slots and positions, ids or row count,
   * timings, and accessors for every bound tensor and the logits; valid only during the call). The
   * event's `index` counts from 0 again. Without a listener a step measures and allocates nothing
   * for it. A listener that throws fails the step before its KV update with `StepListenerError`
   * (naming it by `name`, default the function's name).
   * @throws InvalidArgumentError when `listener` is neither a function nor null.
   */
  setStepListener(listener: StepListener | null, name?: string): void {
    if (listener !== null && typeof listener !== 'function') {
      throw new InvalidArgumentError(`step listener must be a function (event) => void or null, got ${describeValue(listener)}`);
    }
    this.listener = listener;
    this.listenerName = name ?? (listener?.name || 'step listener');
    this.listenerSteps = 0;
  }

  /** The listener `setStepListener` set (null when none). */
  get stepListener(): StepListener | null {
    return this.listener;
  }

  /** The backend's profiling records since the last call (empty when it does not profile). */
  takeBackendProfile(): readonly object[] {
    return this.backend.takeProfile?.() ?? [];
  }

  /**
   * @internal For a dialog's decode loop, which feeds a token before it knows it keeps it: the step
   * that fed slot `slot` (the last one) is not kept, and the cache goes back to `slot` entries. A
   * step still running is abandoned: its staged commit is dropped now, it submits no further graph,
   * and it ends without committing or setting the logits (its promise settles as usual: whoever
   * awaits it must not read the logits). Until it ends, rewinds, evictions and resets are taken
   * (the graphs still running read the cache, but their results are not used), and a new step
   * waits for it. Nothing to do on a disposed engine.
   */
  discardFrom(slot: number): void {
    if (this.disposed) return; // nothing is read from a disposed engine
    if (!Number.isSafeInteger(slot) || slot < 0) throw new InvalidArgumentError(`discardFrom: slot must be an integer >= 0, got ${describeValue(slot)}`);
    if (this.stepping && !this.abandoned) {
      this.abandoned = true;
      if (this.commitBegun) this.kv.abortCommit();
    }
    if (this.kv.nValid > slot) this.kv.truncate(slot);
  }

  /** Forgets every cached entry from slot `n` on (a rewind; freed slots get the clear value). */
  rewind(n: number): void {
    this.checkIdle('rewind');
    this.kv.truncate(n);
  }

  /**
   * Drops the cached entries in `slots` (strictly ascending KV slot indices below nValid), as a
   * sliding window or attention-sink policy does: the later entries move down in place and keep the
   * positions they were computed with; the next entry is fed at the position it would have had, so
   * positions move apart from slots (`position` > `nValid`).
   * @throws InvalidArgumentError for a slot that is not cached, unsorted or repeated slots; nothing
   * changes then.
   */
  evict(slots: ArrayLike<number>): void {
    this.checkIdle('evict');
    this.kv.evict(slots);
  }

  /** Empties the KV cache; the next entry is at position 0. */
  reset(): void {
    this.checkIdle('reset');
    this.kv.clear();
  }

  /**
   * Sets the position of the next entry fed, leaving the cached entries at theirs: later entries
   * continue from there, so positions move apart from KV slots (a gap, as after dropping entries
   * from the middle of a sequence, or a cache that continues a sequence it no longer holds). A
   * rewind or reset brings the next position back to the last kept entry's + 1 (0 when empty).
   * @throws InvalidArgumentError for a position below the last entry's + 1 (positions increase
   * along the slots) or one past int32 (positions are int32 tensors; RoPE rows past the largest CL
   * are computed when needed).
   */
  setPosition(position: number): void {
    this.checkIdle('setPosition');
    const min = this.kv.minNextPosition;
    if (!Number.isSafeInteger(position) || position < min || position >= POSITION_LIMIT) {
      throw new InvalidArgumentError(
        `position must be an integer in [${min}, 2^31), got ${position}` + (min > 0 ? ` (the last cached entry is at ${min - 1})` : ''),
      );
    }
    this.kv.setNextPosition(position);
  }

  /**
   * Disposes the backend (freeing the IO memory) after the running step, if any, has stopped: that
   * step rejects with `DisposedError`. Idempotent; every call resolves when the backend is disposed.
   */
  dispose(): Promise<void> {
    if (this.disposal === null) {
      this.disposed = true;
      const stepDone = this.stepping ? this.stepEnd() : null;
      this.disposal = (async () => {
        if (stepDone !== null) await stepDone;
        // A commit left staged by the last step is finished while the memory is still there.
        this.kv.finishCommit();
        this.logits.release();
        await this.backend.dispose();
      })();
    }
    return this.disposal;
  }

  /** The sequence `tokens ++ rows` (`total` entries) after the cached ones; null when aborted. */
  private async prefillSequence(
    tokens: ArrayLike<number>,
    rows: EmbeddingRows | null,
    total: number,
    signal: AbortSignal | undefined,
  ): Promise<LogitsView | null> {
    const before = this.kv.nValid;
    const position = this.kv.nextPosition;
    const steps = this.planner.plan(before, total, position);
    this.checkPositions(position, total);
    for (let s = 0; s < steps.length; s++) {
      if (signal?.aborted) {
        this.kv.truncate(before);
        this.kv.setNextPosition(position);
        return null;
      }
      const step = steps[s];
      await this.run(step.variant, tokens, rows, step.start, step.nProcess, step.nPast, s === steps.length - 1, 'prefill', steps[s + 1] ?? null);
    }
    return this.logits;
  }

  /** One decode step's run (the errors of its checks as rejections). */
  private decodeStep(tokens: ArrayLike<number>, rows: EmbeddingRows | null): Promise<LogitsView> {
    let variant: Variant;
    let position: number;
    try {
      variant = this.planner.decodeVariant(this.kv.nValid);
      position = this.kv.nextPosition;
      this.checkPositions(position, 1);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.run(variant, tokens, rows, 0, 1, position, true, 'decode', null);
  }

  /**
   * Entries `start .. start+n` of the sequence `tokens ++ rows`, at `position` on, through one
   * variant: yield (see the class comment), fill, execute the parts, commit; resolves with the
   * logits view. Stops with `DisposedError` once disposed; `dispose` waits for it to end.
   */
  private async run(
    variant: Variant,
    tokens: ArrayLike<number>,
    rows: EmbeddingRows | null,
    start: number,
    n: number,
    position: number,
    final: boolean,
    kind: StepKind,
    next: PlanStep | null,
  ): Promise<LogitsView> {
    this.stepping = true;
    this.plannedNext = next;
    try {
      if (this.yieldPerStep) {
        await nextMacrotask();
        if (this.disposed) throw new DisposedError('engine', 'dispose() was called before the step ran; the step was cancelled');
        if (this.abandoned) return this.logits;
      }
      const step = this.step;
      step.variant = variant;
      step.tokens = tokens;
      step.rows = rows;
      step.start = start;
      step.nNew = n;
      step.nValid = this.kv.nValid;
      step.position = position;
      step.final = final;
      if (this.listener !== null) {
        // The event's KV tensors show what the graphs read: the previous step's commit is finished first.
        this.kv.finishCommit();
        await this.runObserved(this.listener, step, kind);
        if (!this.abandoned) this.kv.commit(step);
      } else if (this.yieldPerStep) {
        // Execute blocks the JS thread: no copy could run beside a graph, so the step commits at its end.
        await this.runParts(step);
        if (!this.abandoned) this.kv.commit(step);
      } else if (this.submitsAtOnce) {
        await this.runQueued(step);
      } else {
        await this.runOverlapped(step);
      }
      if (final && !this.abandoned) this.logits.setRow(variant.logitsRows === 1 ? 0 : n - 1);
      return this.logits;
    } finally {
      this.stepping = false;
      this.abandoned = false;
      this.commitBegun = false;
      this.aheadPending = false;
      this.plannedNext = null;
      const ended = this.stepEnded;
      this.stepEnded = null;
      ended?.resolve();
    }
  }

  /** Resolves when the running step ends (one promise for every waiter). */
  private stepEnd(): Promise<void> {
    if (this.stepEnded === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.stepEnded = { promise, resolve };
    }
    return this.stepEnded.promise;
  }

  /** A step entry point called while an abandoned step still runs: waits for its end, then is checked as usual. */
  private async afterAbandonedStep(what: string): Promise<void> {
    this.checkUsable();
    await this.stepEnd();
    if (this.stepping) throw new EngineBusyError(what);
  }

  /**
   * Fill, then the variant's parts in split order with the KV commit staged around them, as Genie
   * overlaps them (docs/genie-behaviour.md#kv-cache-smart-mask): while split p runs, the step's
   * entries of split p - 1 are copied out -> in (and, while the first split runs, what the previous
   * step left: its last split's entries); the last split's copy is left staged, so it runs after the
   * caller has sampled, during the next step's first split: with a backend that executes off the JS
   * thread, the copies run while the NPU works. The staged entries count at once (`nValid`), and
   * every other reader of the cache finishes the commit first. A step that fails drops its staged
   * commit, so the cache is as before it.
   */
  private async runOverlapped(step: EngineStep): Promise<void> {
    const { variant, final } = step;
    const kv = this.kv;
    this.fillFirstPart(step);
    const parts = variant.parts;
    let previous = -1;
    try {
      for (let p = 0; p < parts.length; p++) {
        if (!final && variant.kinds[p] === 'lm-head') continue;
        // Before the step's first graph: its slots must hold the previous step's entries (already
        // copied, unless the model has one split and that copy is the one left staged).
        if (previous < 0) kv.commitPart(p);
        const executing = this.backend.execute(parts[p].name);
        try {
          if (previous < 0) {
            this.fillLaterParts(step);
            kv.finishCommit();
            kv.beginCommit(step);
            this.commitBegun = true;
          } else {
            kv.commitPart(previous);
            this.fillAhead(step);
          }
        } finally {
          // Whatever the copies did, the graph is awaited: dispose must not free memory it uses.
          await executing;
        }
        previous = p;
        if (this.disposed) this.cancelledDuring(parts[p].name);
        if (this.abandoned) return;
      }
    } catch (error) {
      // Only this step's own commit: a previous step's, still staged, stays valid.
      if (this.commitBegun && !this.abandoned) kv.abortCommit();
      throw error;
    }
  }

  /**
   * `runOverlapped` for a backend that queues executions: the parts of the step that share an
   * execution queue (`GraphBackend.executionQueue`: a QNN context) are submitted at once, so the NPU
   * goes from split to split without waiting for the JS thread; a part in another queue runs in no
   * order with them, so it follows the part before it (`GraphBackend.executeAfter`: the backend
   * submits it at that part's end, and every later part follows too) or, on a backend without
   * `executeAfter`, is submitted once the parts before it have ended. A part's slots must hold the
   * previous step's entries before it is submitted, so the copy left staged (the previous step's
   * last split) is made once the parts before it are submitted, while they run. Then, as each part
   * ends, its entries are copied while the later parts run; the last part's stay staged, as in
   * `runOverlapped`. A failing part, a failing submission or dispose fails the step only once every
   * submitted part has ended (their buffers stay in use until then), and drops the step's staged
   * commit, so the cache is as before it.
   */
  private async runQueued(step: EngineStep): Promise<void> {
    const { variant, final } = step;
    const kv = this.kv;
    this.fillFirstPart(step);
    const parts = variant.parts;
    const queues = this.partQueues.get(variant)!;
    const executions = this.executions;
    const backend = this.backend;
    const follows = backend.executeAfter !== undefined;
    let failure: unknown = NO_FAILURE;
    /** The last part submitted, the first one submitted and not yet awaited, and one awaited whose copy waits. */
    let last = -1;
    let next = 0;
    let uncopied = -1;
    /**
     * A part followed the one before it: it reaches its queue only when that one ends, so every
     * later part follows too (a part of its queue submitted now would run before it).
     */
    let following = false;
    for (let p = 0; p < parts.length; p++) {
      if (!final && variant.kinds[p] === 'lm-head') continue;
      const queueChange = last >= 0 && queues[p] !== queues[last];
      if (queueChange && !follows) {
        if (!this.commitBegun) {
          kv.finishCommit();
          kv.beginCommit(step);
          this.commitBegun = true;
        }
        // The last part awaited keeps its entries staged until `p` is submitted: the copy runs beside it.
        failure = await this.awaitExecutions(parts, next, last, true, failure);
        next = last + 1;
        if (failure !== NO_FAILURE || this.abandoned) break;
        uncopied = last;
      }
      try {
        // Before `p` can be submitted (a follower: at the end of the part before it, in a later task).
        if (!this.commitBegun) kv.commitPart(p);
        following ||= queueChange && follows;
        const execution = following ? backend.executeAfter!(parts[p].name, parts[last].name) : backend.execute(parts[p].name);
        // Awaited in order: a later part may fail while an earlier one is awaited.
        execution.catch(ignore);
        executions[p] = execution;
        if (last < 0) this.fillLaterParts(step);
        last = p;
      } catch (error) {
        failure = error;
        break;
      }
      if (uncopied >= 0) {
        kv.commitPart(uncopied);
        uncopied = -1;
        this.fillAhead(step);
      }
    }
    if (failure === NO_FAILURE && !this.commitBegun) {
      kv.finishCommit();
      kv.beginCommit(step);
      this.commitBegun = true;
    }
    failure = await this.awaitExecutions(parts, next, last, true, failure);
    if (failure !== NO_FAILURE) {
      // Only this step's own commit: a previous step's, still staged, stays valid.
      if (this.commitBegun && !this.abandoned) kv.abortCommit();
      throw failure;
    }
  }

  /**
   * Awaits `runQueued`'s executions of parts `from..to` in order, each one whatever happened before
   * (its buffers are in use until it ends), and copies the entries of each that ended while nothing
   * had failed, but `to`'s when `stageLast` (left staged). Returns the first failure: `failure` as
   * given, or the first met here (NO_FAILURE: none).
   */
  private async awaitExecutions(parts: Variant['parts'], from: number, to: number, stageLast: boolean, failure: unknown): Promise<unknown> {
    const executions = this.executions;
    for (let p = from; p <= to; p++) {
      const execution = executions[p];
      if (execution === null) continue;
      executions[p] = null;
      try {
        await execution;
      } catch (error) {
        if (failure === NO_FAILURE) failure = error;
      }
      if (failure === NO_FAILURE && this.disposed) failure = cancelledError(parts[p].name);
      if (failure === NO_FAILURE && !this.abandoned && (p < to || !stageLast)) this.kv.commitPart(p);
      // A later part is submitted and this one has ended: the first part, unless it was awaited before.
      if (failure === NO_FAILURE && p < to) this.fillAhead(this.step);
    }
    return failure;
  }

  /**
   * What a step's first part reads, before its submission: the entry inputs, and the first parts'
   * copies of the step-position inputs (nothing to write when `fillAhead` wrote them for this step).
   * A step that can write them ahead for the next one will (`aheadPending`).
   */
  private fillFirstPart(step: EngineStep): void {
    const entries = this.entryInputs;
    for (let i = 0; i < entries.length; i++) entries[i].fill(step);
    const positions = this.positionInputs;
    for (let i = 0; i < positions.length; i++) positions[i].fillFirst(step);
    this.aheadPending = this.firstPartCopies && (step.final || this.plannedNext !== null) && step.variant.parts.length > 1;
  }

  /** The later parts' copies of the step-position inputs: after the first part's submission, before any later part's. */
  private fillLaterParts(step: EngineStep): void {
    const positions = this.positionInputs;
    for (let i = 0; i < positions.length; i++) positions[i].fillRest(step);
  }

  /**
   * Once per step, when its first part has ended while a later part runs (its copies are free): writes
   * the first parts' copies of the step-position inputs for the step that comes next: a prefill's
   * next chunk, else the decode step one token after this step's entries. That step then writes only
   * the entry inputs between the NPU's end and its submission; any other next step (after a rewind,
   * an eviction or an abort between chunks) finds copies written for another step and writes them
   * as usual.
   */
  private fillAhead(step: EngineStep): void {
    if (!this.aheadPending) return;
    this.aheadPending = false;
    if (this.abandoned || this.disposed) return;
    const ahead = this.aheadStep;
    const planned = this.plannedNext;
    if (planned !== null) {
      ahead.variant = planned.variant;
      ahead.nValid = planned.nValid;
      ahead.nNew = planned.nProcess;
      ahead.position = planned.nPast;
    } else {
      const nValid = step.nValid + step.nNew;
      const variant = this.planner.decodeVariantIfAny(nValid);
      // No next decode step (the cache is full, or the next position is past int32): nothing to write.
      if (variant === undefined || step.position + step.nNew >= POSITION_LIMIT) return;
      ahead.variant = variant;
      ahead.nValid = nValid;
      ahead.nNew = 1;
      ahead.position = step.position + step.nNew;
    }
    const positions = this.positionInputs;
    for (let i = 0; i < positions.length; i++) positions[i].fillFirst(ahead);
  }

  /** Fill, then the variant's parts in split order, one after the other. */
  private async runParts(step: EngineStep): Promise<void> {
    const { variant, final } = step;
    const inputs = this.inputs;
    for (let i = 0; i < inputs.length; i++) inputs[i].fill(step);
    const parts = variant.parts;
    for (let p = 0; p < parts.length; p++) {
      if (!final && variant.kinds[p] === 'lm-head') continue;
      await this.backend.execute(parts[p].name);
      if (this.disposed) this.cancelledDuring(parts[p].name);
      if (this.abandoned) return;
    }
  }

  /**
   * Fill and execute as `run` does, timed, then the step listener's call with the step's event
   * (before the KV commit). Only with a listener: the unobserved path measures nothing.
   */
  private async runObserved(listener: StepListener, step: EngineStep, kind: StepKind): Promise<void> {
    const { variant, final } = step;
    const t0 = performance.now();
    const inputs = this.inputs;
    for (let i = 0; i < inputs.length; i++) inputs[i].fill(step);
    const fillUs = (performance.now() - t0) * 1e3;
    let stale = false;
    const check = (): void => {
      if (stale) throw new DisposedError('step event', 'its tensors and logits are valid only during the listener call; copy what you keep');
    };
    const parts = variant.parts;
    const splits: StepSplit[] = [];
    for (let p = 0; p < parts.length; p++) {
      const executed = final || variant.kinds[p] !== 'lm-head';
      let executeUs = 0;
      if (executed) {
        const t = performance.now();
        await this.backend.execute(parts[p].name);
        executeUs = (performance.now() - t) * 1e3;
        if (this.disposed) this.cancelledDuring(parts[p].name);
      }
      splits.push(stepSplit(variant, p, executed, executeUs, this.buffers.bound.get(parts[p].name)!, check, this.cacheGroups));
    }
    if (final) this.logits.setRow(variant.logitsRows === 1 ? 0 : step.nNew - 1);
    const nTokens = Math.max(0, Math.min(step.nNew, step.tokens.length - step.start));
    const tokens: number[] = [];
    for (let i = 0; i < nTokens; i++) tokens.push(step.tokens[step.start + i]);
    const event: StepEvent = {
      index: this.listenerSteps++,
      kind,
      variant: { id: variant.id, ar: variant.ar, cl: variant.cl },
      inputs: inputs.map((part) => part.name),
      nValid: step.nValid,
      nNew: step.nNew,
      positions: { first: step.position, end: step.position + step.nNew },
      tokens,
      embeddingRows: step.nNew - nTokens,
      final,
      fillUs,
      splits,
      logits: final && variant.hasLogits ? this.logits : null,
    };
    try {
      listener(event);
    } catch (error) {
      throw new StepListenerError(this.listenerName, `step ${event.index} (${kind}, ${variant.id})`, error);
    } finally {
      stale = true;
    }
    if (this.disposed) throw new DisposedError('engine', 'dispose() was called during the step listener; the step was cancelled before its KV update');
  }

  private cancelledDuring(graph: string): never {
    throw cancelledError(graph);
  }

  /** Before anything runs: every position of the `count` entries from `first` on must be expressible. */
  private checkPositions(first: number, count: number): void {
    if (first + count > POSITION_LIMIT) {
      throw new ContextLimitError(`positions ${first} .. ${first + count - 1} exceed the int32 positions the model's inputs take (below 2^31)`);
    }
  }

  private checkAcceptsTokens(): void {
    if (!this.acceptsTokens) {
      throw new NotSupportedError(
        `the model takes embeddings ("${this.layout.input.tensor.name}") and has no LUT to look token ids up in: ` +
          'feed it embedding rows',
      );
    }
  }

  private checkUsable(): void {
    if (this.disposed) throw new DisposedError('engine');
  }

  /**
   * Usable and between steps: overlapping calls would fill or move the buffers a graph is using. An
   * abandoned step's graphs may read a cache that changes under them: nobody uses their results.
   */
  private checkIdle(what: string): void {
    this.checkUsable();
    if (this.stepping && !this.abandoned) throw new EngineBusyError(what);
  }

  private checkTokens(tokens: ArrayLike<number>, name = 'tokens'): void {
    if (tokens.length === 0) throw new InvalidArgumentError(`${name} must not be empty`);
    for (let i = 0; i < tokens.length; i++) this.checkToken(tokens[i], `${name}[${i}]`);
  }

  private checkToken(token: number, name: string): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new InvalidArgumentError(`${name} = ${token} is not a token id in [0, ${this.vocabSize})`);
    }
  }
}

const NO_TOKENS: ArrayLike<number> = new Int32Array(0);

const ignore = (): void => undefined;

/** `runQueued`'s "nothing failed" (a failure can be any value, undefined included). */
const NO_FAILURE: unique symbol = Symbol('no failure');

function cancelledError(graph: string): DisposedError {
  return new DisposedError('engine', `dispose() was called while graph "${graph}" executed; the step was cancelled before its KV update`);
}

/** Positions are int32 in every input that takes them (position_ids, the RoPE gather) and in saved dialogs. */
const POSITION_LIMIT = MAX_ROPE_POSITION + 1;
