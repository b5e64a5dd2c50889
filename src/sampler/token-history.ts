import { InvalidArgumentError } from '../errors.js';

/**
 * The most recent tokens of a dialog (prompt included), for the penalty window. A fixed-capacity ring:
 * `length` counts every token since the last reset, the ring keeps the last `capacity` of them. The
 * dialog rewinds with `truncate`; tokens older than the ring cannot come back, so size the capacity
 * (`reserve`) to at least the sampler's `penalizeLastN`.
 */
export class TokenHistory {
  /**
   * Tokens older than the last `capacity` are forgotten by design (a dialog's history: the tokens it
   * can hold): a penalty window reaching further back covers the last `capacity` tokens instead of
   * being an error.
   */
  readonly bounded: boolean;
  private ring: Int32Array;
  private total = 0;
  /** Sequence position of the oldest token still in the ring. */
  private start = 0;
  private edits = 0;

  constructor(capacity: number, options: { readonly bounded?: boolean } = {}) {
    checkCapacity(capacity);
    if (typeof options !== 'object' || options === null || (options.bounded !== undefined && typeof options.bounded !== 'boolean')) {
      throw new InvalidArgumentError(`history options must be an object whose "bounded" is a boolean, got ${typeof options === 'object' && options !== null ? `bounded ${String(options.bounded)}` : String(options)}`);
    }
    this.ring = new Int32Array(capacity);
    this.bounded = options.bounded ?? false;
  }

  get capacity(): number {
    return this.ring.length;
  }

  /**
   * Counts the changes other than appends (truncate, reset, restore): a reader that follows the
   * history incrementally (the penalty counts) starts over when it moves.
   */
  get revision(): number {
    return this.edits;
  }

  /** Tokens pushed since the last reset (the sequence length). */
  get length(): number {
    return this.total;
  }

  /** Tokens still held: `min(length, capacity)` unless a deep rewind dropped some. */
  get retained(): number {
    return this.total - this.start;
  }

  push(token: number): void {
    checkToken(token, 'token');
    this.append(token);
  }

  /** Appends a prompt; all tokens are checked before any is added. */
  pushAll(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) checkToken(tokens[i], `tokens[${i}]`);
    for (let i = 0; i < tokens.length; i++) this.append(tokens[i]);
  }

  /** The token `back` positions before the newest (0 = newest); `back` must be below `retained`. */
  recent(back: number): number {
    if (!Number.isInteger(back) || back < 0 || back >= this.total - this.start) {
      throw new InvalidArgumentError(
        `recent(back) needs an integer in [0, ${this.total - this.start}), got ${String(back)}`,
      );
    }
    return this.ring[(this.total - 1 - back) % this.ring.length];
  }

  /** Rewinds the sequence to its first `length` tokens. */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.total) {
      throw new InvalidArgumentError(`truncate length must be an integer in [0, ${this.total}], got ${String(length)}`);
    }
    this.total = length;
    if (this.start > length) this.start = length;
    this.edits++;
  }

  reset(): void {
    this.total = 0;
    this.start = 0;
    this.edits++;
  }

  /** Grows the ring to `capacity` (never shrinks), keeping the retained tokens. Not for the per-token path. */
  reserve(capacity: number): void {
    checkCapacity(capacity);
    const old = this.ring;
    if (capacity <= old.length) return;
    const ring = new Int32Array(capacity);
    for (let pos = this.start; pos < this.total; pos++) ring[pos % capacity] = old[pos % old.length];
    this.ring = ring;
  }

  /** The retained tokens (oldest first) and the sequence length: what `restore` takes back. */
  snapshot(): TokenHistoryState {
    const tokens: number[] = [];
    for (let pos = this.start; pos < this.total; pos++) tokens.push(this.ring[pos % this.ring.length]);
    return { length: this.total, tokens };
  }

  /**
   * Replaces the contents with a `snapshot` (checked whole first; the ring grows to hold its tokens,
   * and keeps only the last `capacity` of them otherwise).
   */
  restore(state: TokenHistoryState): void {
    const { length, tokens } = state;
    if (!Array.isArray(tokens)) throw new InvalidArgumentError(`history state tokens must be an array, got ${String(tokens)}`);
    if (!Number.isSafeInteger(length) || length < tokens.length) {
      throw new InvalidArgumentError(`history state length must be an integer >= its ${tokens.length} tokens, got ${String(length)}`);
    }
    for (let i = 0; i < tokens.length; i++) checkToken(tokens[i], `history state tokens[${i}]`);
    this.total = length - tokens.length;
    this.start = this.total;
    this.edits++;
    for (const token of tokens) this.append(token);
  }

  private append(token: number): void {
    const capacity = this.ring.length;
    if (capacity > 0) this.ring[this.total % capacity] = token;
    this.total++;
    if (this.total - this.start > capacity) this.start = this.total - capacity;
  }
}

/** A `TokenHistory`'s contents: the sequence length and the tokens still held, oldest first. */
export interface TokenHistoryState {
  readonly length: number;
  readonly tokens: readonly number[];
}

function checkCapacity(capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > 0x7fffffff) {
    throw new InvalidArgumentError(`history capacity must be an integer in [0, 2^31), got ${String(capacity)}`);
  }
}

function checkToken(token: number, name: string): void {
  if (!Number.isInteger(token) || token < 0 || token > 0x7fffffff) {
    throw new InvalidArgumentError(`${name} must be an integer token id >= 0, got ${String(token)}`);
  }
}
