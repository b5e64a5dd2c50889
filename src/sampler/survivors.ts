import { CodeNucleus } from './code-nucleus.js';
import { FloatNucleus } from './float-nucleus.js';
import { ranksBefore, selectTopK, sortByRank } from './rank.js';
import type { LogitsView } from './logits-view.js';
import type { SeededRng } from './rng.js';

/** Mass buckets per nat of `(max - value) / temperature`; the last bucket takes everything further down. */
const BUCKETS_PER_NAT = 8;
const BUCKETS = 48 * BUCKETS_PER_NAT;
const LAST_BUCKET = BUCKETS - 1;

/**
 * The tokens still in the running after each filter, in vocab-sized scratch allocated once. Every
 * filter keeps a prefix of the sampling order (see rank.ts), so the set never needs to be sorted as a
 * whole: mass-based cuts (top-p, the draw) bucket the tokens by `exp(-(max - v) / t)`, find the bucket
 * where the cumulative mass crosses the target, and sort only that bucket. The cut is the one a full
 * sort gives (up to the order in which floating-point masses are summed).
 */
export class SurvivorSet {
  private readonly tokens: Int32Array;
  private readonly bucket: Int32Array;
  private readonly mass = new Float64Array(BUCKETS);
  private size = 0;
  /** The set is the whole vocabulary and `tokens` is not materialized (saves a pass and an indirection). */
  private whole = false;
  // Inputs of partitionAtMass. Doubles live in fields (updated in place) rather than travel as
  // arguments, which V8 boxes (allocates) whenever it does not inline the call.
  private max = Number.NaN;
  /**
   * The temperature `draw` weighs at, set by the caller just before it: a double passed as an
   * argument to a call V8 does not inline is boxed, one allocation per token.
   */
  temperature = Number.NaN;
  /** The mass `keepTopP` / `keepTopPOfCodes` keep (at `temperature`), set by the caller just before, for the same reason. */
  topP = Number.NaN;
  private fraction = Number.NaN;
  private readonly uniform = new Float64Array(1);
  private readonly nucleus = new CodeNucleus();
  private readonly floatNucleus = new FloatNucleus();

  constructor(readonly vocab: number) {
    this.tokens = new Int32Array(vocab);
    this.bucket = new Int32Array(vocab);
  }

  /** Starts from the whole vocabulary. */
  keepAll(): void {
    this.whole = true;
    this.size = this.vocab;
  }

  /** Tokens in the set. */
  get count(): number {
    return this.size;
  }

  /** The set is still the whole vocabulary (`tokenAt(i) === i`). */
  get isWhole(): boolean {
    return this.whole;
  }

  /** The `i`-th token of the set (`0 <= i < count`), in no particular order. */
  tokenAt(i: number): number {
    return this.whole ? i : this.tokens[i];
  }

  /** Whether `token` is in the set: O(1) for the whole vocabulary, a scan otherwise. */
  has(token: number): boolean {
    if (this.whole) return token >= 0 && token < this.vocab;
    const { tokens } = this;
    for (let j = 0; j < this.size; j++) if (tokens[j] === token) return true;
    return false;
  }

  /** Adds `token` to a set that is not the whole vocabulary, unless it holds it already. */
  include(token: number): void {
    if (!this.has(token)) this.tokens[this.size++] = token;
  }

  /** The set's best token in sampling order (highest value, lowest id on ties). */
  best(values: Float32Array): number {
    const n = this.size;
    let top = this.whole ? 0 : this.tokens[0];
    for (let j = 1; j < n; j++) {
      const token = this.whole ? j : this.tokens[j];
      if (ranksBefore(values, token, top)) top = token;
    }
    return top;
  }

  /**
   * Keeps the tokens `keep` says yes to and returns how many; when it keeps none, the set is left
   * as it was (nothing was overwritten) and 0 returned.
   */
  keepWhere(keep: (token: number) => boolean): number {
    const { tokens } = this;
    const n = this.size;
    let kept = 0;
    for (let j = 0; j < n; j++) {
      const token = this.whole ? j : tokens[j];
      if (keep(token)) tokens[kept++] = token;
    }
    if (kept === 0) return 0;
    this.whole = false;
    this.size = kept;
    return kept;
  }

  /** Keeps the `k` best tokens of the set (`0 < k`) by `values`. */
  keepTopK(values: Float32Array, k: number): void {
    if (this.whole) {
      if (k >= this.vocab) return;
      selectTopK(values, 0, this.vocab, k, this.tokens);
    } else {
      if (k >= this.size) return;
      // After another filter: the set is small next to the vocabulary, order it and keep the prefix.
      sortByRank(this.tokens, 0, this.size, values);
    }
    this.whole = false;
    this.size = k;
  }

  /**
   * Softmax normaliser `sum exp((v - max) / temperature)` over the set, `max` being the value of the
   * set's best token `top`.
   */
  massOf(values: Float32Array, top: number, temperature: number): number {
    const max = values[top];
    const n = this.size;
    let z = 0;
    if (this.whole) for (let token = 0; token < n; token++) z += Math.exp((values[token] - max) / temperature);
    else for (let j = 0; j < n; j++) z += Math.exp((values[this.tokens[j]] - max) / temperature);
    return z;
  }

  /**
   * The `n` best tokens of the set into `out[0, min(n, count))`, in sampling order; returns how many.
   * An insertion into a short sorted list: O(count * n) at worst, O(count) in practice.
   */
  bestInto(values: Float32Array, n: number, out: Int32Array): number {
    const size = this.size;
    let len = 0;
    for (let j = 0; j < size; j++) {
      const token = this.whole ? j : this.tokens[j];
      if (len === n && !ranksBefore(values, token, out[n - 1])) continue;
      let i = len < n ? len++ : n - 1;
      while (i > 0 && ranksBefore(values, token, out[i - 1])) {
        out[i] = out[i - 1];
        i--;
      }
      out[i] = token;
    }
    return len;
  }

  /**
   * Starts from the `k` best tokens of the view's current row, read in place; only their entries of
   * `values` are written. Returns the best token.
   */
  keepTopKOfView(view: LogitsView, k: number, values: Float32Array): number {
    const top = view.topKInto(k, this.tokens, values);
    this.whole = false;
    this.size = k;
    return top;
  }

  /**
   * Nucleus (`topP`, at `temperature`) of the view's current fixed-point row, read in place (the set
   * is the whole vocabulary and nothing was read): only the survivors' entries of `values` are
   * written. Returns the best token.
   */
  keepTopPOfCodes(view: LogitsView, values: Float32Array): number {
    const nucleus = this.nucleus;
    nucleus.fraction = this.topP;
    nucleus.temperature = this.temperature;
    const n = nucleus.cut(view, this.tokens, values);
    this.whole = false;
    this.size = n;
    return this.best(values);
  }

  /**
   * Nucleus: the smallest prefix whose softmax mass (at `temperature`, over the current set) reaches
   * `topP`; at least one token. `top` is the set's best token.
   */
  keepTopP(values: Float32Array, top: number): void {
    const topP = this.topP;
    if (this.whole) {
      // Bounds on binned masses decide the cut with exponentials of a few tokens (float-nucleus.ts).
      const bounded = this.floatNucleus;
      bounded.fraction = topP;
      bounded.temperature = this.temperature;
      const n = bounded.cut(values, this.vocab, top, this.tokens, this.bucket);
      if (n > 0) {
        this.whole = false;
        this.size = n;
        return;
      }
    }
    this.max = values[top];
    this.fraction = topP;
    const cut = this.partitionAtMass(values, true);
    const { tokens, bucket } = this;
    let n = this.size;
    for (let q = 0; q <= cut; q++) tokens[n++] = bucket[q];
    this.size = n;
  }

  /** Min-p: keeps tokens whose probability (at `temperature`) is at least `minP` times the best one's. */
  keepMinP(values: Float32Array, top: number, minP: number, temperature: number): void {
    const max = values[top];
    const floor = Math.log(minP);
    const { tokens } = this;
    const n = this.size;
    let kept = 0;
    if (this.whole) {
      for (let token = 0; token < n; token++) if ((values[token] - max) / temperature >= floor) tokens[kept++] = token;
    } else {
      for (let j = 0; j < n; j++) {
        const token = tokens[j];
        if ((values[token] - max) / temperature >= floor) tokens[kept++] = token;
      }
    }
    this.whole = false;
    this.size = kept;
  }

  /**
   * Inverse CDF over the set in sampling order with weights `exp((v - max) / temperature)` (the field,
   * set just before): the first token whose cumulative weight exceeds one uniform from `rng` times the
   * total. Consumes the set.
   */
  draw(values: Float32Array, top: number, rng: SeededRng): number {
    this.max = values[top];
    rng.nextInto(this.uniform, 0);
    this.fraction = this.uniform[0];
    return this.bucket[this.partitionAtMass(values, false)];
  }

  /** Writes the set in sampling order into `out` and returns its size (inspection, not the hot path). */
  sortedInto(values: Float32Array, out: Int32Array): number {
    if (this.whole) {
      for (let i = 0; i < this.vocab; i++) this.tokens[i] = i;
      this.whole = false;
    }
    sortByRank(this.tokens, 0, this.size, values);
    out.set(this.tokens.subarray(0, this.size));
    return this.size;
  }

  /**
   * Finds where the cumulative weight in sampling order (weights `exp(-(max - v) / temperature)`)
   * crosses `fraction` of the total (`>=` when `inclusive`, else `>`). Afterwards `tokens[0, size)` holds the tokens of the buckets before the
   * crossing one (unsorted), `bucket` holds the crossing bucket in sampling order, and the return value
   * is the position in `bucket` of the crossing token. Tokens of later buckets are dropped.
   */
  private partitionAtMass(values: Float32Array, inclusive: boolean): number {
    const { tokens, bucket, mass, max, temperature, fraction } = this;
    const n = this.size;
    const whole = this.whole;
    mass.fill(0);
    if (whole) {
      for (let token = 0; token < n; token++) {
        const d = (max - values[token]) / temperature;
        const b = d * BUCKETS_PER_NAT;
        mass[b < LAST_BUCKET ? b | 0 : LAST_BUCKET] += Math.exp(-d);
      }
    } else {
      for (let j = 0; j < n; j++) {
        const d = (max - values[tokens[j]]) / temperature;
        const b = d * BUCKETS_PER_NAT;
        mass[b < LAST_BUCKET ? b | 0 : LAST_BUCKET] += Math.exp(-d);
      }
    }

    let total = 0;
    for (let b = 0; b < BUCKETS; b++) total += mass[b];
    const target = fraction * total;
    let crossing = -1;
    let before = 0;
    let lastNonEmpty = 0;
    let beforeLastNonEmpty = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const m = mass[b];
      if (m === 0) continue;
      if (inclusive ? before + m >= target : before + m > target) {
        crossing = b;
        break;
      }
      lastNonEmpty = b;
      beforeLastNonEmpty = before;
      before += m;
    }
    // Only rounding (u within an ulp of 1) can leave the strict target uncrossed: take the last bucket.
    if (crossing < 0) {
      crossing = lastNonEmpty;
      before = beforeLastNonEmpty;
    }

    let kept = 0;
    let inBucket = 0;
    for (let j = 0; j < n; j++) {
      const token = whole ? j : tokens[j];
      const b = ((max - values[token]) / temperature) * BUCKETS_PER_NAT;
      const index = b < LAST_BUCKET ? b | 0 : LAST_BUCKET;
      if (index < crossing) tokens[kept++] = token;
      else if (index === crossing) bucket[inBucket++] = token;
    }
    this.whole = false;
    this.size = kept;
    sortByRank(bucket, 0, inBucket, values);

    let cumulative = before;
    let lastPositive = 0;
    for (let q = 0; q < inBucket; q++) {
      const w = Math.exp(-(max - values[bucket[q]]) / temperature);
      cumulative += w;
      if (w > 0) lastPositive = q;
      if (inclusive ? cumulative >= target : cumulative > target) return q;
    }
    // Summing a bucket in sorted order can round below its pass-one mass: the cut is at its end.
    return lastPositive;
  }
}
