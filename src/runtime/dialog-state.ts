import { GenieError, InvalidArgumentError } from '../errors.js';
import { ContextLimitError } from '../graphs/errors.js';
import type { Sampler } from '../sampler/sampler.js';
import { byteSize, isFixedPoint } from '../tensor/dtype.js';
import type { ChatTemplate } from './chat-template.js';
import { Accumulator } from './embeddings/accumulator.js';
import type { ImageEmbedder } from './vision/embedder.js';
import { DisposedError, type Engine } from './engine/engine.js';
import type { QueryResult } from './dialog-types.js';
import { decideRoom } from './kv-policy/apply.js';
import { CachePrefixView, DialogKvView } from './kv-policy/cache-view.js';
import type { KvEviction, KvPolicy } from './kv-policy/policy.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';
import type { EntryKey, TurnLedger, TurnPrompt } from './turn-ledger.js';

/**
 * The penalty history a dialog keeps: the tokens it holds (at most `contextLimit` in the KV cache
 * plus the carried-over one), whatever `penalizeLastN` is now, so that a window that
 * `configureSampler` widens later finds its tokens (a ring sized to the old window would have
 * dropped them). One int32 per context entry.
 */
export function penaltyHistoryCapacity(contextLimit: number): number {
  return contextLimit + 1;
}

/** A dialog's vision stage: `owned` when the dialog opened it (and disposes it). */
export interface DialogVision {
  readonly embedder: ImageEmbedder;
  readonly placeholder: string;
  readonly owned: boolean;
}

/** A query was started while another one is still running on the same dialog. */
export class DialogBusyError extends GenieError {
  constructor() {
    super('BUSY', 'dialog is busy: finish or abort the running query first');
  }
}

/**
 * The query holding a dialog. While its generator waits at a yield for its consumer (`suspended`),
 * the dialog may cancel it (the step it fed ahead, if still running, is abandoned); while the
 * generator runs it may not.
 */
export interface RunningQuery {
  readonly suspended: boolean;
  /** Ends the suspended query where it is parked (stop reason `'cancelled'`) and releases the dialog. */
  cancel(): void;
}

/** What a turn fed, as its `QueryResult` reports it. */
export interface FedPrompt {
  /** The entries fed: tokens (all of them for a token prompt, those before an embedding prompt's rows), image row keys. */
  readonly input: EntryKey[];
  /** Tokens and rows fed. */
  readonly promptLength: number;
  /** A rewind's cached prefix, kept instead of fed. */
  readonly reusedTokens: number;
}

/** A planned turn: what it feeds (`input`) after the `keep` KV entries it starts from. */
export interface QueryPlan extends FedPrompt {
  readonly prompt: TurnPrompt;
  readonly rewind: boolean;
  /** A rewind query's entries slot by slot: the cached ones it keeps (what the ledger is cut back to), then `input`. */
  readonly tokens: EntryKey[];
  /** KV entries a rewind query keeps of the cache (before `eviction`); for other queries the entries held. */
  readonly cut: number;
  /** KV entries the turn starts from (after `eviction`). */
  readonly keep: number;
  /** What the KV policy evicts before the prompt is fed, to make room for it; null: nothing. */
  readonly eviction: KvEviction | null;
}

/**
 * Everything a dialog's queries run on and update: the engine, the sampler, the turn ledger, the
 * settings a query reads when it starts, and whether a query is running. The `Dialog` owns it and
 * validates what callers pass in; `runQuery` runs one query on it at a time.
 */
export class DialogState {
  readonly eos: ReadonlySet<number>;
  stopSequences: readonly string[];
  /** The cap a query without `maxTokens` gets; null = none. */
  maxNumTokens: number | null;
  /** The query holding the dialog, null when it is idle. */
  running: RunningQuery | null = null;
  disposed = false;
  /** The result of the last query that ended (undefined after one that failed with an error). */
  lastResult: QueryResult | undefined;
  /** The float32 row `onLogits` receives, allocated on first use. */
  logitsScratch: Float32Array | undefined;
  private splicing: Accumulator | undefined;
  /** The vision stage that lets queries take images, with the placeholder that marks them; null: text only. */
  vision: DialogVision | null = null;
  /** What `Dialog.chat` renders conversations with; null: none; undefined: not looked for yet (on first use). */
  chatTemplate: ChatTemplate | null | undefined = undefined;
  /** What a full KV cache does (`DialogOptions.kvPolicy`, the config's `longcontext`); null: ContextLimitError. */
  kvPolicy: KvPolicy | null = null;
  /** The KV cache slot by slot, as policies and `Dialog.kvCache` read it. */
  readonly kvView: DialogKvView;

  constructor(
    readonly engine: Engine,
    readonly sampler: Sampler,
    readonly ledger: TurnLedger,
    readonly tokenizer: Tokenizer,
    readonly settings: {
      readonly eosTokens: readonly number[];
      readonly stopSequences: readonly string[];
      readonly maxNumTokens: number | null;
      readonly contextSize: number;
      readonly initTimeUs: number;
      /** `accumulator-size` of a text-generator config: the byte cap of a spliced prompt's rows. */
      readonly accumulatorSize: number | null;
    },
  ) {
    this.eos = new Set(settings.eosTokens);
    this.stopSequences = settings.stopSequences;
    this.maxNumTokens = settings.maxNumTokens;
    this.kvView = new DialogKvView(engine, ledger, this.contextLimit);
  }

  /** Most tokens the KV cache can hold: `context.size`, or less when the binaries' KV-in is smaller. */
  get contextLimit(): number {
    return Math.min(this.settings.contextSize, this.engine.capacity);
  }

  /**
   * Where spliced prompts are built: the model input's format (float32 for a float16 input, which the
   * engine converts), bounded by `accumulator-size`, else by what the context can hold. Made on first use.
   */
  accumulator(): Accumulator {
    if (this.splicing !== undefined) return this.splicing;
    const input = this.engine.layout.input;
    if (input.kind !== 'embeddings') throw new Error('internal: only a model that takes embeddings splices rows');
    const { dtype, encoding } = input.tensor;
    const format = isFixedPoint(dtype) ? { dtype, encoding, rowElements: input.rowElements } : { dtype: 'FLOAT_32' as const, rowElements: input.rowElements };
    const capacity = this.settings.accumulatorSize ?? this.contextLimit * input.rowElements * byteSize(format.dtype);
    this.splicing = new Accumulator(format, capacity);
    return this.splicing;
  }

  /** Names the context limit in messages. */
  describeLimit(): string {
    const size = this.settings.contextSize;
    return this.engine.capacity < size
      ? `context.size=${size} (the binaries' KV cache holds ${this.engine.capacity} entries)`
      : `context.size=${size}`;
  }

  checkUsable(): void {
    if (this.disposed) throw new DisposedError('dialog');
  }

  /** Throws unless a query could take the dialog now: it is idle, or its query is parked at a yield (and would be cancelled). */
  checkIdle(): void {
    this.checkUsable();
    if (this.running !== null && !this.running.suspended) throw new DialogBusyError();
  }

  /** Cancels the query parked at a yield, if any (after `checkIdle`). */
  cancelSuspended(): void {
    if (this.running?.suspended) this.running.cancel();
  }

  /**
   * What a query does when it takes the dialog: checks that it may (`checkIdle`) and that its turn
   * fits, and only then cancels a parked query and plans the turn on what that left.
   */
  take(prompt: TurnPrompt): QueryPlan {
    this.checkIdle();
    const plan = this.plan(prompt);
    if (this.running === null) return plan;
    // The cancel can only shorten the turn (a completed stop sequence is removed), never make it not fit.
    this.cancelSuspended();
    return this.plan(prompt);
  }

  /**
   * The turn `prompt` makes on the dialog as it is now: Genie's turn rules, or a rewind's cached prefix;
   * when the prompt does not fit, what the KV policy evicts first (for a rewind query, of the entries
   * it keeps). Changes nothing.
   * @throws InvalidArgumentError when there is nothing to feed; ContextLimitError when the prompt does
   * not fit in what the KV cache has left (after what the policy would evict).
   */
  plan(prompt: TurnPrompt): QueryPlan {
    const rewind = prompt.kind !== 'embeddings' && prompt.rewind;
    const kv = this.engine.kvCache;
    const { tokens, keep: cut, input } = this.ledger.plan(prompt, this.engine.nValid, (slot) => kv.positionAt(slot));
    const promptLength = input.length + (prompt.kind === 'embeddings' ? prompt.count : 0);
    if (promptLength === 0) {
      throw new InvalidArgumentError(
        rewind ? 'the rewind query has no tokens (empty prompt and no bos-token)' : 'the query has no tokens (empty prompt and nothing to carry over)',
      );
    }
    let keep = cut;
    let eviction: KvEviction | null = null;
    if (keep + promptLength > this.contextLimit && this.kvPolicy !== null) {
      const cache = cut < this.engine.nValid ? new CachePrefixView(this.kvView, cut) : this.kvView;
      const decided = decideRoom(this.kvPolicy, cache, { needed: promptLength, phase: 'prefill', turn: this.ledger.upcomingTurn });
      if (decided !== null) {
        // A copy: a policy may reuse its answer's array, and the plan is applied later.
        eviction = { evict: Int32Array.from(decided.evict), recompute: decided.recompute === true };
        keep -= eviction.evict.length;
      }
    }
    if (keep + promptLength > this.contextLimit) {
      // Advice that can help: on an empty cache (always so in the CLI) only a shorter prompt does.
      const advice = rewind ? 'shorten the conversation' : keep === 0 ? 'shorten the prompt' : 'call reset() to make room, or shorten the prompt';
      throw new ContextLimitError(
        `the prompt needs ${promptLength} tokens but only ${this.contextLimit - keep} of ${this.describeLimit()} are left; ${advice}`,
      );
    }
    return { prompt, rewind, tokens, cut, keep, input, promptLength, reusedTokens: rewind ? keep : 0, eviction };
  }
}
