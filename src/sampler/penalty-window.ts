import { InvalidArgumentError } from '../errors.js';
import type { PenaltyParams } from './penalties.js';
import type { TokenHistory } from './token-history.js';

/**
 * The token counts of the last `n` tokens of a `TokenHistory`, kept incrementally: each step adds the
 * tokens appended since the last one and drops those that left the window (llama.cpp keeps a ring and
 * a count map in `accept`). The history is the source of truth: a rewind, reset or restore (its
 * `revision` moves), another history, or a gap longer than the window rebuilds the counts from it.
 * Scratch is vocab-sized, allocated once; the ring is sized by the window.
 */
export class PenaltyWindow {
  /** Whether the last `apply` penalised the token it was told was the best. */
  penalizedTop = false;
  private readonly counts: Int32Array;
  /** Position of each counted token in `distinct`. */
  private readonly slot: Int32Array;
  private distinct = new Int32Array(0);
  private distinctCount = 0;
  /** The window's tokens by sequence position modulo `n`. */
  private ring = new Int32Array(0);
  private n = 0;
  /** Tokens in the ring: `n` once the window is full. */
  private filled = 0;
  private followed: TokenHistory | null = null;
  private revision = -1;
  /** The history length the counts describe. */
  private length = 0;

  constructor(readonly vocab: number) {
    this.counts = new Int32Array(vocab);
    this.slot = new Int32Array(vocab);
  }

  /**
   * Brings the counts to the last `min(n, length)` tokens of `history` (of a `bounded` history, `n`
   * is at most its capacity); returns that window size. Every new token is checked against the
   * vocabulary before any count changes.
   */
  sync(history: TokenHistory, requested: number): number {
    const n = history.bounded ? Math.min(requested, history.capacity) : requested;
    if (n !== this.n) {
      this.clear();
      this.ring = new Int32Array(n);
      this.distinct = new Int32Array(Math.min(n, this.vocab));
      this.n = n;
    }
    const length = history.length;
    const gap = length - this.length;
    if (history !== this.followed || history.revision !== this.revision || gap < 0 || gap > n) {
      this.rebuild(history);
      return Math.min(n, length);
    }
    for (let back = gap - 1; back >= 0; back--) this.check(history.recent(back), back);
    for (let back = gap - 1; back >= 0; back--) this.add(this.length++, history.recent(back));
    return Math.min(n, length);
  }

  /**
   * Genie's penalties (sampler-utils.hpp) on the counted tokens `has` accepts, in place:
   * `v <= 0 ? v * rp : v / rp`, then `v -= count * fp + (count > 0) * pp`. Returns the best penalised
   * token (lowest id on ties), -1 when none was; `penalizedTop` tells whether `top` was among them.
   */
  apply(values: Float32Array, top: number, params: PenaltyParams, has: (token: number) => boolean): number {
    const { distinct } = this;
    this.penalizedTop = false;
    let best = -1;
    for (let j = 0; j < this.distinctCount; j++) {
      const token = distinct[j];
      if (!has(token)) continue;
      this.penalizeAt(values, token, token, params);
      if (token === top) this.penalizedTop = true;
      if (best < 0 || values[token] > values[best] || (values[token] === values[best] && token < best)) best = token;
    }
    return best;
  }

  /** Distinct tokens in the window. */
  get size(): number {
    return this.distinctCount;
  }

  /** The `j`-th distinct token of the window (`0 <= j < size`), in no particular order. */
  tokenAt(j: number): number {
    return this.distinct[j];
  }

  /** Genie's penalties (see `apply`) of `token`, a token of the window, on its logit at `values[at]`. */
  penalizeAt(values: Float32Array, at: number, token: number, params: PenaltyParams): void {
    const { repetitionPenalty: rp, presencePenalty: pp, frequencyPenalty: fp } = params;
    const v = values[at];
    values[at] = (v <= 0 ? v * rp : v / rp) - (this.counts[token] * fp + pp);
  }

  private rebuild(history: TokenHistory): void {
    this.clear();
    this.followed = null;
    const window = Math.min(this.n, history.length);
    if (history.retained < window) {
      throw new InvalidArgumentError(
        `the penalty window needs the last ${window} tokens but the history holds ${history.retained} ` +
          `(capacity ${history.capacity}, penalizeLastN ${this.n}); call history.reserve(${this.n}) before pushing`,
      );
    }
    for (let back = 0; back < window; back++) this.check(history.recent(back), back);
    this.length = history.length - window;
    for (let back = window - 1; back >= 0; back--) this.add(this.length++, history.recent(back));
    this.followed = history;
    this.revision = history.revision;
  }

  private check(token: number, back: number): void {
    if (token >= this.vocab) {
      throw new InvalidArgumentError(
        `history token ${token} (${back} before the newest) is outside the vocabulary [0, ${this.vocab})`,
      );
    }
  }

  /** Counts `token` at sequence position `pos`, dropping the one `n` positions back. */
  private add(pos: number, token: number): void {
    const { ring, n } = this;
    if (n === 0) return;
    const at = pos % n;
    if (this.filled === n) this.drop(ring[at]);
    else this.filled++;
    ring[at] = token;
    if (this.counts[token]++ === 0) {
      this.slot[token] = this.distinctCount;
      this.distinct[this.distinctCount++] = token;
    }
  }

  private drop(token: number): void {
    if (--this.counts[token] !== 0) return;
    const last = this.distinct[--this.distinctCount];
    const at = this.slot[token];
    this.distinct[at] = last;
    this.slot[last] = at;
  }

  private clear(): void {
    for (let j = 0; j < this.distinctCount; j++) this.counts[this.distinct[j]] = 0;
    this.distinctCount = 0;
    this.filled = 0;
    this.length = 0;
  }
}
