import { InvalidArgumentError } from '../errors.js';
import type { LogitsView } from './logits-view.js';
import { ranksBefore } from './rank.js';
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
 *
 * Stages that change a few tokens' logits (penalties, logit bias) can do so before the row is read
 * (`editSlot`): the edits wait, and a top-k ranks the k + m best codes, then the m edited tokens
 * at their new values, and keeps the k best of those. That is the top-k of the edited row: at most m
 * of the k + m best codes belong to edited tokens, so the k best unedited tokens are among them.
 * Anything else that reads the row applies the edits to it first.
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
  /** Edits waiting for the row to be read: token, value, and each token's index among them (-1: none). */
  private readonly editTokens: Int32Array;
  /** @internal The edited logits (see `editSlot`). */
  readonly editValues: Float32Array;
  private readonly editIndex: Int32Array;
  private editCount = 0;
  /** Scratch of `bestEdited`: the m + 1 best codes. */
  private readonly ranked: Int32Array;
  /** The best survivor, or -1 when an edit may have changed it. */
  private top = -1;

  constructor(vocab: number) {
    this.vocab = vocab;
    this.values = new Float32Array(vocab);
    this.survivors = new SurvivorSet(vocab);
    const capacity = Math.min(vocab - 1, MAX_UNREAD_EDITS);
    this.editTokens = new Int32Array(capacity);
    this.editValues = new Float32Array(capacity);
    this.editIndex = new Int32Array(vocab).fill(-1);
    this.ranked = new Int32Array(capacity + 1);
  }

  /** @internal Starts a step on the view's current row: the whole vocabulary, nothing read. */
  begin(view: LogitsView): void {
    this.view = view;
    this.read = false;
    this.top = -1;
    this.temperature = 1;
    this.selected = -1;
    this.survivors.keepAll();
    this.dropEdits();
  }

  /** The logits of the set's tokens (the row dequantized on first access; edits of earlier stages kept). */
  get logits(): Float32Array {
    if (!this.read) {
      this.top = (this.view as LogitsView).dequantizeInto(this.values);
      this.read = true;
      if (this.editCount > 0) {
        for (let i = 0; i < this.editCount; i++) this.values[this.editTokens[i]] = this.editValues[i];
        this.dropEdits();
        this.top = -1;
      }
    }
    return this.values;
  }

  /** Whether the row was read (`logits` accessed or a top-k ranked it) or edited: its best token is no longer the view's. */
  get isRead(): boolean {
    return this.read || this.editCount > 0;
  }

  /**
   * @internal Whether `n` more logit edits can wait for the row to be read (`editSlot`): nothing
   * was read, the row is fixed-point (every value finite, from its code), and some token stays unedited.
   */
  canEditUnread(n: number): boolean {
    return !this.read && (this.view as LogitsView).isFixedPoint && this.editCount + n <= this.editTokens.length;
  }

  /**
   * @internal Makes `token` an edit of the unread row (`canEditUnread` said yes) and returns its
   * index in `editValues`, which holds its logit: the row's value, or an earlier edit's. The caller
   * changes it there (a double passed to or returned from a call V8 does not inline is boxed: one
   * allocation per edit).
   */
  editSlot(token: number): number {
    let i = this.editIndex[token];
    if (i < 0) {
      i = this.editCount++;
      this.editIndex[token] = i;
      this.editTokens[i] = token;
      (this.view as LogitsView).valueInto(token, this.editValues, i);
    }
    this.top = -1;
    return i;
  }

  private dropEdits(): void {
    for (let i = 0; i < this.editCount; i++) this.editIndex[this.editTokens[i]] = -1;
    this.editCount = 0;
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
    if (!this.read && this.editCount > 0) {
      if (this.top < 0) this.top = this.bestEdited();
      return this.top;
    }
    const values = this.logits; // reading the row finds its best token on the way
    if (this.top < 0) this.top = this.survivors.best(values);
    return this.top;
  }

  /**
   * The best token of the unread row with its edits: of the m + 1 best codes, one is unedited, and
   * the best of those is the best unedited token; then the edited tokens at their new values.
   */
  private bestEdited(): number {
    const m = this.editCount;
    const { values, editIndex, editValues, ranked } = this;
    (this.view as LogitsView).topKInto(m + 1, ranked, values);
    let best = -1;
    for (let j = 0; j <= m; j++) {
      const token = ranked[j];
      if (editIndex[token] < 0 && (best < 0 || ranksBefore(values, token, best))) best = token;
    }
    let bestValue = values[best];
    for (let i = 0; i < m; i++) {
      const token = this.editTokens[i];
      const value = editValues[i];
      if (value > bestValue || (value === bestValue && token < best)) {
        best = token;
        bestValue = value;
      }
    }
    return best;
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
    if (!this.read && this.editCount === 0 && view.isFixedPoint) {
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
    const edits = this.editCount;
    if (!this.read && k + edits < this.vocab) {
      const survivors = this.survivors;
      this.top = survivors.keepTopKOfView(this.view as LogitsView, k + edits, this.values);
      this.read = true;
      if (edits === 0) return;
      // The k best of the k + m best codes and the m edited tokens (see the class comment).
      for (let i = 0; i < edits; i++) {
        const token = this.editTokens[i];
        this.values[token] = this.editValues[i];
        survivors.include(token);
      }
      this.dropEdits();
      survivors.keepTopK(this.values, k);
      this.top = -1;
      return;
    }
    if (!this.read && edits === 0) return; // k >= vocab: every token stays
    this.survivors.keepTopK(this.logits, k);
  }
}

/**
 * Most logit edits that wait for the row (beyond, the row is read at the first edit): a top-k then
 * ranks k + m codes, which stays cheap next to reading a row of 128k or more.
 */
const MAX_UNREAD_EDITS = 4096;

function checkToken(token: number, vocab: number): void {
  if (!Number.isInteger(token) || token < 0 || token >= vocab) {
    throw new InvalidArgumentError(`token must be an integer in [0, ${vocab}), got ${String(token)}`);
  }
}
