import { InvalidArgumentError } from '../errors.js';
import type { LogitsView } from './logits-view.js';
import { SurvivorSet } from './survivors.js';

/**
 * The candidate tokens of one sampling step, which every stage of the chain edits in place (llama.cpp's
 * `llama_token_data_array`, as a structure of arrays): the logits row, the survivor set, the
 * temperature the probabilities are taken at, and the token a stage selected. Allocated once per
 * sampler; `begin` starts a step without touching the vocabulary.
 *
 * The row is read lazily: until a stage asks for `logits`, the set is the whole vocabulary and nothing
 * has been dequantized, so a top-k first in the chain ranks the view's raw codes and dequantizes only
 * its k winners. Once read, `logits` holds the (possibly edited) values of every token still in the
 * set; entries of tokens outside it are stale.
 */
export class Candidates {
  readonly vocab: number;
  /** Probabilities are `softmax(logit / temperature)` over the set; a temperature stage sets it (1 before). */
  temperature = 1;
  /** The token a stage chose, or -1: the chain stops at the first stage that selects. */
  selected = -1;
  /** @internal the survivor set; stages of this module use its allocation-free cuts directly. */
  readonly survivors: SurvivorSet;
  private readonly values: Float32Array;
  private view: LogitsView | null = null;
  private read = false;
  /** The best survivor, or -1 when an edit may have changed it. */
  private top = -1;

  constructor(vocab: number) {
    this.vocab = vocab;
    this.values = new Float32Array(vocab);
    this.survivors = new SurvivorSet(vocab);
  }

  /** @internal Starts a step on the view's current row: the whole vocabulary, nothing read. */
  begin(view: LogitsView): void {
    this.view = view;
    this.read = false;
    this.top = -1;
    this.temperature = 1;
    this.selected = -1;
    this.survivors.keepAll();
  }

  /** The logits of the set's tokens (the row dequantized on first access; edits of earlier stages kept). */
  get logits(): Float32Array {
    if (!this.read) {
      this.top = (this.view as LogitsView).dequantizeInto(this.values);
      this.read = true;
    }
    return this.values;
  }

  /** Whether the row was read (`logits` accessed or a top-k ranked it). */
  get isRead(): boolean {
    return this.read;
  }

  /** Tokens still in the running. */
  get size(): number {
    return this.survivors.count;
  }

  /** The `i`-th token of the set, `0 <= i < size`, in no particular order. */
  tokenAt(i: number): number {
    return this.survivors.tokenAt(i);
  }

  has(token: number): boolean {
    return this.survivors.has(token);
  }

  /** The set's most likely token (highest logit, lowest id on ties). */
  best(): number {
    const values = this.logits; // reading the row finds its best token on the way
    if (this.top < 0) this.top = this.survivors.best(values);
    return this.top;
  }

  /** Changes one token's logit (a token of the set; others are ignored). */
  setLogit(token: number, logit: number): void {
    checkToken(token, this.vocab);
    if (Number.isNaN(logit) || logit === Infinity) {
      throw new InvalidArgumentError(`setLogit(${token}) needs a number below +Infinity, got ${String(logit)}`);
    }
    const values = this.logits;
    if (!this.survivors.has(token)) return;
    values[token] = logit;
    this.top = -1;
  }

  /** Keeps the tokens `keep(token, logit)` says yes to; at least one must stay. */
  keep(keep: (token: number, logit: number) => boolean): void {
    const values = this.logits;
    if (this.survivors.keepWhere((token) => keep(token, values[token])) === 0) {
      throw new InvalidArgumentError('a sampler stage must keep at least one token');
    }
    this.top = -1;
  }

  /** Chooses `token` (one of the set): later stages and the draw are skipped. */
  select(token: number): void {
    checkToken(token, this.vocab);
    if (!this.survivors.has(token)) {
      throw new InvalidArgumentError(`select(${token}): the token is not among the ${this.size} candidates left`);
    }
    this.selected = token;
  }

  /** @internal After a stage of this module changed values or the set: the best survivor, known or -1. */
  edited(top: number): void {
    this.top = top;
  }

  /**
   * Top-p (nucleus) at the current temperature: the smallest prefix of the sampling order whose mass
   * reaches `topP`, at least one token. Reads the codes of a fixed-point row when nothing was read yet.
   */
  keepTopP(topP: number): void {
    if (typeof topP !== 'number' || !(topP >= 0 && topP <= 1)) throw new InvalidArgumentError(`keepTopP needs a number in [0, 1], got ${String(topP)}`);
    const view = this.view as LogitsView;
    const survivors = this.survivors;
    survivors.topP = topP;
    survivors.temperature = this.temperature;
    if (!this.read && view.isFixedPoint) {
      this.top = survivors.keepTopPOfCodes(view, this.values);
      this.read = true;
      return;
    }
    const values = this.logits;
    survivors.keepTopP(values, this.best());
  }

  /** Keeps the `k` most likely tokens (ranking the raw codes when nothing was read yet). */
  keepTopK(k: number): void {
    if (!Number.isSafeInteger(k) || k < 1) throw new InvalidArgumentError(`keepTopK needs an integer >= 1, got ${String(k)}`);
    if (!this.read) {
      if (k >= this.vocab) return;
      this.top = this.survivors.keepTopKOfView(this.view as LogitsView, k, this.values);
      this.read = true;
      return;
    }
    this.survivors.keepTopK(this.values, k);
  }
}

function checkToken(token: number, vocab: number): void {
  if (!Number.isInteger(token) || token < 0 || token >= vocab) {
    throw new InvalidArgumentError(`token must be an integer in [0, ${vocab}), got ${String(token)}`);
  }
}
