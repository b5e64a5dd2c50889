import { InvalidArgumentError } from '../errors.js';
import type { Candidates } from './candidates.js';
import { boundNormalizer } from './float-nucleus.js';
import type { BuiltinStage } from './genie-stages.js';
import { ranksBefore } from './rank.js';
import type { StageContext } from './stage.js';

/**
 * Stages beyond Genie's chain (genie-ts extensions, the llama.cpp samplers of the same names). Each
 * carries its own parameters, checked by chain.ts; probabilities are `softmax(logit / temperature)`
 * over the current set, at the temperature in force where the stage sits in the chain.
 */

/** Adds a fixed bias to the logits of given tokens (OpenAI's and llama.cpp's `logit_bias`). */
export class LogitBiasStage implements BuiltinStage {
  readonly name = 'logit-bias';
  readonly preservesArgmax = false;

  constructor(
    private readonly tokens: Int32Array,
    private readonly biases: Float64Array,
  ) {}

  apply(c: Candidates): void {
    const { tokens, biases } = this;
    if (c.canEditUnread(tokens.length)) {
      // Edits of the unread row (see Candidates): its set is the whole vocabulary.
      const edited = c.editValues;
      for (let j = 0; j < tokens.length; j++) edited[c.editSlot(tokens[j])] += biases[j];
      return;
    }
    const values = c.logits;
    const top = c.best();
    let best = top;
    let rescan = false;
    for (let j = 0; j < tokens.length; j++) {
      const token = tokens[j];
      if (!c.has(token)) continue;
      values[token] += biases[j];
      if (token === top && biases[j] < 0) rescan = true;
      else if (ranksBefore(values, token, best)) best = token;
    }
    c.edited(rescan ? -1 : best);
  }
}

/**
 * Locally typical sampling (Meister et al. 2022; llama.cpp `typical`): orders the set by how far each
 * token's surprise `-log p` is from the entropy, and keeps the shortest prefix of that order whose mass
 * exceeds `p` (at least one token; `p >= 1` keeps all). Ties keep the sampling order.
 */
export class TypicalPStage implements BuiltinStage {
  readonly name = 'typical-p';
  readonly preservesArgmax = false;
  private readonly order: Int32Array;
  private readonly distance: Float64Array;
  private readonly kept: Uint8Array;
  private readonly isKept = (token: number): boolean => this.kept[token] === 1;

  constructor(
    private readonly p: number,
    vocab: number,
  ) {
    this.order = new Int32Array(vocab);
    this.distance = new Float64Array(vocab);
    this.kept = new Uint8Array(vocab);
  }

  apply(c: Candidates): void {
    if (this.p >= 1 || c.size < 2 || c.temperature <= 0) return;
    const values = c.logits;
    const max = values[c.best()];
    const t = c.temperature;
    const n = c.size;
    const { order, distance, kept } = this;
    let z = 0;
    for (let i = 0; i < n; i++) z += Math.exp((values[c.tokenAt(i)] - max) / t);
    const logZ = Math.log(z);
    // Entropy: -sum p log p, with log p = (v - max) / t - log z.
    let entropy = 0;
    for (let i = 0; i < n; i++) {
      const logp = (values[c.tokenAt(i)] - max) / t - logZ;
      entropy -= Math.exp(logp) * logp;
    }
    for (let i = 0; i < n; i++) {
      const token = c.tokenAt(i);
      order[i] = token;
      distance[token] = Math.abs(-((values[token] - max) / t - logZ) - entropy);
    }
    sortByDistance(order, 0, n, distance, values);
    let cumulative = 0;
    let keep = n;
    for (let i = 0; i < n; i++) {
      cumulative += Math.exp((values[order[i]] - max) / t - logZ);
      if (cumulative > this.p) {
        keep = i + 1;
        break;
      }
    }
    if (keep === n) return;
    for (let i = 0; i < keep; i++) kept[order[i]] = 1;
    c.survivors.keepWhere(this.isKept);
    for (let i = 0; i < keep; i++) kept[order[i]] = 0;
    c.edited(-1);
  }
}

/**
 * Mirostat 2.0 (Basu et al. 2021; llama.cpp `mirostat_v2`): keeps the tokens whose surprise
 * `-log2 p` is at most `mu` (at least the best one); after the draw, `accept` moves `mu` by
 * `eta * (tau - surprise)` where the surprise is the chosen token's within the truncated set.
 * `mu` starts at `2 * tau` and returns there on `reset`; it is the stage's state, which a dialog's
 * checkpoint, save and rewind carry (`stateSize`).
 */
export class MirostatV2Stage implements BuiltinStage {
  readonly name = 'mirostat-v2';
  readonly preservesArgmax = true;
  readonly stateSize = 1;
  /** The current surprise bound, in bits. */
  mu: number;
  private readonly truncated = new Float64Array(3); // max, temperature, log of the truncated mass
  /** The temperature, then bounds of the softmax normaliser over the whole vocabulary (boundNormalizer). */
  private readonly normalizer = new Float64Array(3);
  private values: Float32Array | null = null;
  private floor = 0;
  private readonly surprising = (token: number): boolean => {
    const { values, truncated } = this;
    return ((values as Float32Array)[token] - truncated[0]) / truncated[1] >= this.floor;
  };

  constructor(
    readonly tau: number,
    readonly eta: number,
  ) {
    this.mu = 2 * tau;
  }

  apply(c: Candidates): void {
    this.values = null;
    if (c.temperature <= 0) return; // a greedy draw: nothing to truncate, no surprise to learn from
    const values = c.logits;
    const top = c.best();
    const t = c.temperature;
    const { truncated } = this;
    truncated[0] = values[top];
    truncated[1] = t;
    // -log2 p <= mu  <=>  (v - max) / t >= log z - mu ln 2.
    // At least the best token stays (llama.cpp keeps one when every surprise exceeds mu).
    this.values = values;
    if (!this.floorFromBounds(c, values, top, t)) this.floor = Math.min(0, Math.log(c.survivors.massOf(values, top, t)) - this.mu * Math.LN2);
    c.survivors.keepWhere(this.surprising);
    truncated[2] = Math.log(c.survivors.massOf(values, top, t));
  }

  /**
   * Over the whole vocabulary, the floor from bounds on z (float-nucleus.ts) instead of an exponential
   * per token: when no token lies between the floors of the two bounds, either floor keeps exactly the
   * tokens the exact one keeps. False (the caller computes z) when one does.
   */
  private floorFromBounds(c: Candidates, values: Float32Array, top: number, t: number): boolean {
    if (!c.survivors.isWhole) return false;
    const { normalizer } = this;
    const max = values[top];
    normalizer[0] = t;
    boundNormalizer(values, c.vocab, top, normalizer);
    // 1e-9 nats covers the rounding of the logarithms and of the exact path's sum.
    const lower = Math.min(0, Math.log(normalizer[1]) - this.mu * Math.LN2 - 1e-9);
    const upper = Math.min(0, Math.log(normalizer[2]) - this.mu * Math.LN2 + 1e-9);
    for (let token = 0; token < c.vocab; token++) {
      const s = (values[token] - max) / t;
      if (s >= lower && s < upper) return false;
    }
    this.floor = upper;
    return true;
  }

  accept(token: number): void {
    const { values, truncated } = this;
    if (values === null) return;
    const surprise = -((values[token] - truncated[0]) / truncated[1] - truncated[2]) / Math.LN2;
    this.mu -= this.eta * (surprise - this.tau);
    this.values = null;
  }

  reset(): void {
    this.mu = 2 * this.tau;
    this.values = null;
  }

  writeState(out: Float64Array, offset: number): void {
    out[offset] = this.mu;
  }

  readState(from: Float64Array, offset: number): void {
    const mu = from[offset];
    if (!Number.isFinite(mu)) throw new InvalidArgumentError(`mirostat-v2 mu must be a finite number of bits, got ${mu}`);
    this.mu = mu;
    this.values = null;
  }
}

/**
 * Exclude Top Choices (XTC, llama.cpp `xtc`): with chance `probability` per step (one uniform from the
 * dialog's RNG whenever the set has two tokens or more), removes every token whose probability is at
 * least `threshold` except the least likely of them, when there are two or more.
 */
export class XtcStage implements BuiltinStage {
  readonly name = 'xtc';
  readonly preservesArgmax = false;
  private readonly uniform = new Float64Array(1);
  private readonly scaled = new Float64Array(3); // max, temperature, floor
  private values: Float32Array | null = null;
  private spared = -1;
  private readonly keepsToken = (token: number): boolean => {
    const { scaled } = this;
    return token === this.spared || ((this.values as Float32Array)[token] - scaled[0]) / scaled[1] < scaled[2];
  };

  constructor(
    readonly probability: number,
    readonly threshold: number,
  ) {}

  apply(c: Candidates, { rng }: StageContext): void {
    if (this.probability <= 0 || c.size < 2 || c.temperature <= 0) return;
    rng.nextInto(this.uniform, 0);
    if (this.uniform[0] >= this.probability) return;
    const values = c.logits;
    const top = c.best();
    const t = c.temperature;
    const { scaled } = this;
    scaled[0] = values[top];
    scaled[1] = t;
    // p >= threshold  <=>  (v - max) / t >= log threshold + log z.
    scaled[2] = Math.log(this.threshold) + Math.log(c.survivors.massOf(values, top, t));
    let above = 0;
    let last = -1;
    for (let i = 0; i < c.size; i++) {
      const token = c.tokenAt(i);
      if ((values[token] - scaled[0]) / t < scaled[2]) continue;
      above++;
      if (last < 0 || ranksBefore(values, last, token)) last = token;
    }
    if (above < 2) return;
    this.values = values;
    this.spared = last;
    c.survivors.keepWhere(this.keepsToken);
    this.values = null;
    c.edited(last);
  }
}

/** Sorts `tokens[from, to)` by `distance` ascending, ties in sampling order (a quicksort, insertion below 16). */
function sortByDistance(tokens: Int32Array, from: number, to: number, distance: Float64Array, values: Float32Array): void {
  while (to - from > 16) {
    const pivot = tokens[(from + to) >>> 1];
    let i = from;
    let j = to - 1;
    while (i <= j) {
      while (closer(distance, values, tokens[i], pivot)) i++;
      while (closer(distance, values, pivot, tokens[j])) j--;
      if (i <= j) {
        const x = tokens[i];
        tokens[i] = tokens[j];
        tokens[j] = x;
        i++;
        j--;
      }
    }
    if (j + 1 - from < to - i) {
      sortByDistance(tokens, from, j + 1, distance, values);
      from = i;
    } else {
      sortByDistance(tokens, i, to, distance, values);
      to = j + 1;
    }
  }
  for (let i = from + 1; i < to; i++) {
    const x = tokens[i];
    let j = i - 1;
    while (j >= from && closer(distance, values, x, tokens[j])) {
      tokens[j + 1] = tokens[j];
      j--;
    }
    tokens[j + 1] = x;
  }
}

function closer(distance: Float64Array, values: Float32Array, a: number, b: number): boolean {
  return distance[a] < distance[b] || (distance[a] === distance[b] && ranksBefore(values, a, b));
}
