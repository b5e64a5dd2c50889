import { GenieError, InvalidArgumentError } from '../errors.js';
import { ContextLimitError } from '../graphs/errors.js';
import type { Sampler } from '../sampler/sampler.js';
import { DisposedError, type Engine } from './engine/engine.js';
import type { Kpis } from './kpis.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';
import type { TurnLedger, TurnPrompt } from './turn-ledger.js';

/** A query was started while another one is still running on the same dialog. */
export class DialogBusyError extends GenieError {
  constructor() {
    super('BUSY', 'dialog is busy: finish or abort the running query first');
  }
}

/** What a turn fed, as its `QueryResult` reports it. */
export interface FedPrompt {
  /** The tokens fed before an embedding prompt's rows (all of them for a token prompt). */
  readonly input: number[];
  /** Tokens and rows fed. */
  readonly promptLength: number;
  /** A rewind's cached prefix, kept instead of fed. */
  readonly reusedTokens: number;
}

/** A planned turn: what it feeds (`input`) after the `keep` KV entries it starts from. */
export interface QueryPlan extends FedPrompt {
  readonly prompt: TurnPrompt;
  readonly rewind: boolean;
  /** A rewind query's whole token list (what the ledger is cut back to). */
  readonly tokens: number[];
  readonly keep: number;
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
  busy = false;
  disposed = false;
  lastKpis: Kpis | undefined;
  /** The float32 row `onLogits` receives, allocated on first use. */
  logitsScratch: Float32Array | undefined;

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
    },
  ) {
    this.eos = new Set(settings.eosTokens);
    this.stopSequences = settings.stopSequences;
    this.maxNumTokens = settings.maxNumTokens;
  }

  /** Most tokens the KV cache can hold: `context.size`, or less when the binaries' KV-in is smaller. */
  get contextLimit(): number {
    return Math.min(this.settings.contextSize, this.engine.capacity);
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

  checkIdle(): void {
    this.checkUsable();
    if (this.busy) throw new DialogBusyError();
  }

  /**
   * The turn `prompt` makes on the dialog as it is now: Genie's turn rules, or a rewind's cached prefix.
   * Changes nothing.
   * @throws InvalidArgumentError when there is nothing to feed; ContextLimitError when the prompt does
   * not fit in what the KV cache has left.
   */
  plan(prompt: TurnPrompt): QueryPlan {
    const rewind = prompt.kind === 'tokens' && prompt.rewind;
    const { tokens, keep, input } = this.ledger.plan(prompt, this.engine.nValid);
    const promptLength = input.length + (prompt.kind === 'embeddings' ? prompt.count : 0);
    if (promptLength === 0) {
      throw new InvalidArgumentError(
        rewind ? 'the rewind query has no tokens (empty prompt and no bos-token)' : 'the query has no tokens (empty prompt and nothing to carry over)',
      );
    }
    if (keep + promptLength > this.contextLimit) {
      throw new ContextLimitError(
        `the prompt needs ${promptLength} tokens but only ${this.contextLimit - keep} of ${this.describeLimit()} ` +
          `are left; ${rewind ? 'shorten the conversation' : 'call reset()'}`,
      );
    }
    return { prompt, rewind, tokens, keep, input, promptLength, reusedTokens: rewind ? keep : 0 };
  }
}
