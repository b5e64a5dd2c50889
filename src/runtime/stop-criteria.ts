import type { StopReason } from './dialog-types.js';

/**
 * What the stop criteria read after each sampled token. One object per query, updated in place by
 * the decode loop (nothing is allocated per token).
 */
export interface DecodeState {
  /** The token just sampled. */
  token: number;
  /** Tokens delivered so far (the sampled one included once it is delivered). */
  delivered: number;
  /** The stop sequence the delivered text just completed, or null. */
  stopSequence: string | null;
}

/**
 * One reason to end generation, checked after every sampled token (in the spirit of Hugging Face's
 * `StoppingCriteria`). A `sampled` criterion sees the token before it is delivered and ends the query
 * without delivering it; a `delivered` criterion runs once its text was streamed.
 */
export interface StopCriterion {
  readonly stage: 'sampled' | 'delivered';
  /** The reason to stop now, or null to go on; throws to end the query with an error. */
  check(state: DecodeState): StopReason | null;
  /**
   * For a criterion that fires exactly once this many tokens are delivered (a token cap): the decode
   * loop then knows before delivering a token whether it is the last one.
   */
  readonly quota?: number;
}

/** A token of the EOS set ends the query; it is neither delivered nor fed. */
export class EosCriterion implements StopCriterion {
  readonly stage = 'sampled';
  constructor(private readonly eos: ReadonlySet<number>) {}

  check(state: DecodeState): StopReason | null {
    return this.eos.has(state.token) ? 'eos' : null;
  }
}

/** The delivered text completed a stop sequence. */
export class StopSequenceCriterion implements StopCriterion {
  readonly stage = 'delivered';

  check(state: DecodeState): StopReason | null {
    return state.stopSequence !== null ? 'stop-sequence' : null;
  }
}

/** `QueryOptions.forceTokens`: every forced token was delivered. */
export class ForcedCriterion implements StopCriterion {
  readonly stage = 'delivered';
  constructor(readonly quota: number) {}

  check(state: DecodeState): StopReason | null {
    return state.delivered >= this.quota ? 'forced' : null;
  }
}

/** `max-num-tokens` / `maxTokens`: the query delivered its quota. */
export class TokenCapCriterion implements StopCriterion {
  readonly stage = 'delivered';
  constructor(readonly quota: number) {}

  check(state: DecodeState): StopReason | null {
    return state.delivered >= this.quota ? 'max-tokens' : null;
  }
}

/** The caller's signal fired; the delivered token stays the carried-over one. */
export class AbortCriterion implements StopCriterion {
  readonly stage = 'delivered';
  constructor(private readonly signal: AbortSignal) {}

  check(): StopReason | null {
    return this.signal.aborted ? 'abort' : null;
  }
}

/**
 * The dialog cancelled the query while it was parked at a yield (a new query, `reset()` or
 * `dispose()` came, or its consumer left the loop). Checked where an abort is, so the query ends as
 * an abort at that point would; it is never checked while the query runs, only when it is cancelled.
 */
export class CancelCriterion implements StopCriterion {
  readonly stage = 'delivered';
  constructor(private readonly run: { readonly cancelled: boolean }) {}

  check(): StopReason | null {
    return this.run.cancelled ? 'cancelled' : null;
  }
}

/** The criteria of one query, checked in list order at each stage; the first that fires wins. */
export class StopCriteria {
  private readonly sampled: readonly StopCriterion[];
  private readonly delivered: readonly StopCriterion[];
  /** The fewest delivered tokens a `quota` criterion ends the query at (Infinity without one). */
  readonly quota: number;

  constructor(criteria: readonly StopCriterion[]) {
    this.sampled = criteria.filter((c) => c.stage === 'sampled');
    this.delivered = criteria.filter((c) => c.stage === 'delivered');
    this.quota = Math.min(Infinity, ...this.delivered.map((c) => c.quota ?? Infinity));
  }

  /** Before the sampled token is delivered. */
  afterSampling(state: DecodeState): StopReason | null {
    return firstReason(this.sampled, state);
  }

  /** After its text was streamed, before it is fed. */
  afterDelivery(state: DecodeState): StopReason | null {
    return firstReason(this.delivered, state);
  }
}

function firstReason(criteria: readonly StopCriterion[], state: DecodeState): StopReason | null {
  for (let i = 0; i < criteria.length; i++) {
    const reason = criteria[i].check(state);
    if (reason !== null) return reason;
  }
  return null;
}
