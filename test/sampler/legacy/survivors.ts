import { selectTopK, sortByRank } from './rank.js';
import type { LogitsView } from '../../../src/sampler/logits-view.js';
import type { SeededRng } from '../../../src/sampler/rng.js';

/** The parameters the cuts read (a `SamplerParams` is one). */
export interface CutParams {
  readonly temp: number;
  readonly topP: number;
  readonly minP: number;
}

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
  private temperature = Number.NaN;
  private fraction = Number.NaN;
  private readonly uniform = new Float64Array(1);

  constructor(readonly vocab: number) {
    this.tokens = new Int32Array(vocab);
    this.bucket = new Int32Array(vocab);
  }

  /** Starts from the whole vocabulary. */
  keepAll(): void {
    this.whole = true;
    this.size = this.vocab;
  }

  /** Starts from the `k` best tokens (`0 < k < vocab`) of `values`. */
  keepTopK(values: Float32Array, k: number): void {
    selectTopK(values, 0, this.vocab, k, this.tokens);
    this.whole = false;
    this.size = k;
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
   * Nucleus: the smallest prefix whose softmax mass (temperature 1, over the current set) reaches
   * `params.topP`; at least one token. `top` is the set's best token.
   */
  keepTopP(values: Float32Array, top: number, params: CutParams): void {
    this.max = values[top];
    this.temperature = 1;
    this.fraction = params.topP;
    const cut = this.partitionAtMass(values, true);
    const { tokens, bucket } = this;
    let n = this.size;
    for (let q = 0; q <= cut; q++) tokens[n++] = bucket[q];
    this.size = n;
  }

  /** Min-p: keeps tokens whose probability is at least `params.minP` times the best one's (temperature 1). */
  keepMinP(values: Float32Array, top: number, params: CutParams): void {
    const max = values[top];
    const floor = Math.log(params.minP);
    const { tokens } = this;
    const n = this.size;
    let kept = 0;
    if (this.whole) {
      for (let token = 0; token < n; token++) if (values[token] - max >= floor) tokens[kept++] = token;
    } else {
      for (let j = 0; j < n; j++) {
        const token = tokens[j];
        if (values[token] - max >= floor) tokens[kept++] = token;
      }
    }
    this.whole = false;
    this.size = kept;
  }

  /**
   * Inverse CDF over the set in sampling order with weights `exp((v - max) / params.temp)`: the first
   * token whose cumulative weight exceeds one uniform from `rng` times the total. Consumes the set.
   */
  draw(values: Float32Array, top: number, params: CutParams, rng: SeededRng): number {
    this.max = values[top];
    this.temperature = params.temp;
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
