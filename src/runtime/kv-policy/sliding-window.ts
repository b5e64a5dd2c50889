import { InvalidArgumentError } from '../../errors.js';
import type { KvCacheView, KvDecision, KvEviction, KvPolicy, KvRoomRequest } from './policy.js';

/**
 * Genie's sliding-window long context (`longcontext: {type: "sliding-window", reserved-tokens: R,
 * sliding-window: {window-size: W}}`, docs/genie-behaviour.md#long-context): the first R entries are
 * attention sinks that are never evicted; of the others, only the W most recent are kept (and fewer
 * when the cache cannot hold R + W). The oldest non-reserved entries go first; the kept ones keep
 * their positions, as in StreamingLLM. Evictions are made one step at a time, so the cache slides by
 * exactly what each step adds.
 */
export class SlidingWindowPolicy implements KvPolicy {
  readonly name = 'sliding-window';
  /** The decision's slots: the oldest non-reserved ones (reused: nothing allocates while the window slides). */
  private readonly eviction = new RunEviction();

  constructor(
    readonly reservedTokens: number,
    readonly windowSize: number,
  ) {
    if (!Number.isSafeInteger(reservedTokens) || reservedTokens < 0) {
      throw new InvalidArgumentError(`sliding-window reserved-tokens must be an integer >= 0, got ${String(reservedTokens)}`);
    }
    if (!Number.isSafeInteger(windowSize) || windowSize < 1) {
      throw new InvalidArgumentError(`sliding-window window-size must be an integer >= 1, got ${String(windowSize)}`);
    }
  }

  /** Evicts the oldest non-reserved entries so that the step fits; 'error' when even the window cannot hold it. */
  makeRoom(cache: KvCacheView, request: KvRoomRequest): KvDecision {
    const bound = Math.min(cache.capacity, this.reservedTokens + this.windowSize);
    const reserved = Math.min(this.reservedTokens, cache.length);
    if (reserved + request.needed > bound) return 'error';
    return this.oldest(reserved, cache.length + request.needed - bound);
  }

  /** Keeps the cache at the reserved entries plus the window. */
  afterStep(cache: KvCacheView): KvEviction | null {
    const over = cache.length - this.reservedTokens - this.windowSize;
    return over > 0 ? this.oldest(this.reservedTokens, over) : null;
  }

  private oldest(first: number, count: number): KvEviction {
    return this.eviction.set(first, Math.max(0, count));
  }
}

/**
 * An eviction of the consecutive slots `first .. first + count - 1`, rewritten in place: the same
 * count (one entry per decoded token, once the window is full) reuses the same view.
 */
class RunEviction implements KvEviction {
  evict: Int32Array = new Int32Array(0);
  private buffer = new Int32Array(64);

  set(first: number, count: number): this {
    if (this.buffer.length < count) this.buffer = new Int32Array(Math.max(count, 2 * this.buffer.length));
    if (this.evict.length !== count || this.evict.buffer !== this.buffer.buffer) this.evict = this.buffer.subarray(0, count);
    for (let i = 0; i < count; i++) this.evict[i] = first + i;
    return this;
  }
}
