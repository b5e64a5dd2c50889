import { sortByRank } from './rank.js';

/** Bins per nat of depth `d = (max - v) / temperature`: bin `b` holds the tokens with `d` in `[b, b + 1) / 64`. */
const BINS_PER_NAT = 64;
/** The tail bin: every token at least 48 nats below the best (a weight below e^-48 each). */
const TAIL = 48 * BINS_PER_NAT;
/** `exp(-b / 64)`: the weight at each bin's upper edge (the tail's is its bound). */
const EDGE = Float64Array.from({ length: TAIL + 1 }, (_, b) => Math.exp(-b / BINS_PER_NAT));
/** `1 - exp(-1/64)`: the relative drop of the weight across one bin. */
const DROP = 1 - Math.exp(-1 / BINS_PER_NAT);
/**
 * How far a bin's bounds are widened: the computed depth of a token is within a few ulps of the one a
 * naive softmax takes (a relative weight error below 48 * 4.4e-16).
 */
const WIDEN = 1e-13;
/** The rounding of a float64 sum, per term, relative to the total (with margin). */
const ULP = 2.3e-16;
/** Bins near the best whose token ids the binning pass keeps (6 nats): the cut usually falls among them. */
const NEAR_BINS = 6 * BINS_PER_NAT;
/** Near ids kept at most; with more (a flat row), a second pass collects the bins around the cut. */
const NEAR_CAPACITY = 4096;

// The bins are module constants, shared by every nucleus (`cut` runs to its end without yielding):
// V8 compiles the binning loop over constant arrays faster than over arrays read from fields (it then
// knows their storage and lengths). Each phase is its own function so that feedback missing in a rare
// branch (a deoptimization) never throws the hot loop back to the interpreter.
const count = new Int32Array(TAIL + 1);
/** Per bin below the tail: the sum over its tokens of the position within it, in [0, 1). */
const within = new Float64Array(TAIL);
const lo = new Float64Array(TAIL + 1);
const hi = new Float64Array(TAIL + 1);
const near = new Int32Array(NEAR_CAPACITY);
/** Bounds of the total mass: [lower, upper]; then of the mass before and after the ranked bins. */
const sums = new Float64Array(6);
const Z_LO = 0;
const Z_HI = 1;
const IN_LO = 2;
const IN_HI = 3;
const OUT_LO = 4;
const OUT_HI = 5;
/** The bins whose tokens are ranked exactly, [first, last]; then the tokens before them and in them. */
const range = new Int32Array(2);
const split = new Int32Array(2);
/**
 * The row's best value, the bins per nat at its temperature, the temperature and the mass to reach:
 * doubles passed as arguments are boxed (allocated) whenever V8 does not inline the call.
 */
const row = new Float64Array(4);
const MAX = 0;
const SCALE = 1;
const T = 2;
const P = 3;

/**
 * Top-p over float logits without an exponential per token (the "find an approach that works
 * for float logits too"): one pass bins the tokens by depth below the best, keeping per bin the count
 * and the sum of the positions within it. Convexity bounds each bin's softmax mass from those two
 * numbers alone: at least `count * exp(-mean depth)` (Jensen), at most the chord between the bin's
 * edges at the mean; at 1/64 nat per bin the two are within 3e-5 of each other. Bounds on every
 * bin's mass bound where the cumulative mass in sampling order reaches `topP` of the total; only the
 * tokens of the bins where it can fall get exact weights, sorted into sampling order, and the cut is
 * taken where the bounds prove the naive full-sort softmax takes it. The first binning sums positions
 * only within 6 nats of the best (deep bins are bounded by their edges, 1.6% apart), which decides an
 * LM head's usual row; when it cannot, a second binning sums them everywhere. When that cannot either
 * (the cut within rounding of a token boundary, or too much mass left uncertain), `cut` says so and the
 * caller computes every weight.
 */
export class FloatNucleus {
  /** The share of the mass to reach (`0 < fraction < 1`), set before `cut`. */
  fraction = Number.NaN;
  /** The temperature probabilities are taken at (`> 0`), set before `cut`. */
  temperature = Number.NaN;

  /**
   * The nucleus of the whole vocabulary `values[0, vocab)` whose best token is `top`: writes its
   * tokens into `tokens` (in no particular order) and returns how many, or returns -1 when the bounds
   * cannot decide it (`tokens` and `bucket` are scratch).
   */
  cut(values: Float32Array, vocab: number, top: number, tokens: Int32Array, bucket: Int32Array): number {
    const max = values[top];
    const t = this.temperature;
    const p = this.fraction;
    if (!(p > 0 && p < 1) || !(t > 0 && t < Infinity) || !Number.isFinite(max)) return -1;
    row[MAX] = max;
    row[SCALE] = BINS_PER_NAT / t;
    row[T] = t;
    row[P] = p;
    // First the cheap binning (positions summed near the best only); the full one when that cannot decide.
    const n = decide(values, vocab, tokens, bucket, binRow(values, vocab, NEAR_BINS), NEAR_BINS);
    return n >= 0 ? n : decide(values, vocab, tokens, bucket, binRow(values, vocab, TAIL), TAIL);
  }
}

/** The nucleus from the bins just counted (positions summed below bin `summed`), or -1. */
function decide(values: Float32Array, vocab: number, tokens: Int32Array, bucket: Int32Array, nearCount: number, summed: number): number {
  boundBins(summed);
  findRange();
  const end = range[1] === TAIL ? Infinity : range[1] + 1;
  // Every token of a bin below NEAR_BINS is in `near` unless it overflowed.
  if (end <= NEAR_BINS && nearCount <= NEAR_CAPACITY) splitTokens(near, nearCount, values, range[0], end, tokens, bucket);
  else splitRow(values, vocab, range[0], end, tokens, bucket);
  return closeNucleus(values, tokens, bucket);
}

/**
 * Bounds of the softmax normaliser `sum exp((v - max) / temperature)` over `values[0, vocab)`, `max`
 * being `values[top]` (their largest) and the temperature `out[0]` on entry, from the same binning as
 * `FloatNucleus.cut`, without an exponential per token: writes `[lower, upper]` into `out[1, 3)`.
 */
export function boundNormalizer(values: Float32Array, vocab: number, top: number, out: Float64Array): void {
  row[MAX] = values[top];
  row[SCALE] = BINS_PER_NAT / out[0];
  binRow(values, vocab, TAIL);
  boundBins(TAIL);
  const rounding = ULP * (TAIL + 8);
  out[1] = sums[Z_LO] * (1 - rounding);
  out[2] = sums[Z_HI] * (1 + rounding);
}

/**
 * Counts the tokens per bin, sums their positions within it below bin `summed` (`NEAR_BINS`: the
 * deep bulk only counted, a third cheaper per token), keeps the ids of the near ones; returns how many
 * are near.
 */
function binRow(values: Float32Array, vocab: number, summed: number): number {
  const max = row[MAX];
  const scale = row[SCALE];
  count.fill(0);
  within.fill(0);
  let nearCount = 0;
  for (let token = 0; token < vocab; token++) {
    const x = (max - values[token]) * scale;
    if (x < summed) {
      const b = x | 0;
      count[b]++;
      within[b] += x - b;
      if (x < NEAR_BINS) {
        if (nearCount < NEAR_CAPACITY) near[nearCount] = token;
        nearCount++;
      }
    } else count[x < TAIL ? x | 0 : TAIL]++;
  }
  return nearCount;
}

/**
 * Each bin's mass bounds: Jensen below (exp(-delta) bounded by its Taylor series cut after an odd
 * term), the chord above; from bin `summed` on (no position sums) its edges; the tail's between 0 and
 * e^-48 per token. Sums them into Z's bounds.
 */
function boundBins(summed: number): void {
  let zLo = 0;
  let zHi = 0;
  for (let b = 0; b < TAIL; b++) {
    const c = count[b];
    if (c === 0) continue;
    if (b >= summed) {
      lo[b] = c * EDGE[b + 1] * (1 - WIDEN);
      hi[b] = c * EDGE[b] * (1 + WIDEN);
      zLo += lo[b];
      zHi += hi[b];
      continue;
    }
    const f = Math.min(1, within[b] / c);
    const delta = f / BINS_PER_NAT;
    const edge = c * EDGE[b];
    lo[b] = edge * (1 - delta * (1 - delta * (0.5 - delta / 6))) * (1 - WIDEN);
    hi[b] = edge * (1 - f * DROP) * (1 + WIDEN);
    zLo += lo[b];
    zHi += hi[b];
  }
  lo[TAIL] = 0;
  hi[TAIL] = count[TAIL] * EDGE[TAIL] * (1 + WIDEN);
  sums[Z_LO] = zLo;
  sums[Z_HI] = zHi + hi[TAIL];
}

/**
 * The bins the cut can be in. It lies in the last bin b whose mass before it is below p * Z:
 * C_b < p * Z  <=>  (1 - p) * C_b < p * (Z - C_b). The range starts at the last bin where that is
 * provably true before the first where it is not, and ends before the first where it is provably false.
 * Also sums the bounds of the mass before the range and after it.
 */
function findRange(): void {
  const p = row[P];
  const zLo = sums[Z_LO];
  const zHi = sums[Z_HI];
  const slack = zHi * ULP * (TAIL + 8);
  let before = -1;
  let first = -1;
  let last = -1;
  let cLo = 0;
  let cHi = 0;
  for (let b = 0; b <= TAIL; b++) {
    if (count[b] === 0) continue;
    if (first < 0) {
      if ((1 - p) * cHi < p * (zLo - cLo) - slack) before = b;
      else first = before < 0 ? b : before;
    }
    if (first >= 0) {
      if ((1 - p) * cLo > p * (zHi - cHi) + slack) break;
      last = b;
    }
    cLo += lo[b];
    cHi += hi[b];
  }
  if (first < 0) first = before;
  if (last < first) last = first;
  range[0] = first;
  range[1] = last;
  let inLo = 0;
  let inHi = 0;
  for (let b = 0; b < first; b++) {
    if (count[b] === 0) continue;
    inLo += lo[b];
    inHi += hi[b];
  }
  let outLo = 0;
  let outHi = 0;
  for (let b = last + 1; b <= TAIL; b++) {
    if (count[b] === 0) continue;
    outLo += lo[b];
    outHi += hi[b];
  }
  sums[IN_LO] = inLo;
  sums[IN_HI] = inHi;
  sums[OUT_LO] = outLo;
  sums[OUT_HI] = outHi;
}

/** The tokens of bins before `first` into `tokens`, those of bins `first` to `end - 1` into `bucket` (counts in `split`). */
function splitTokens(
  ids: Int32Array, n: number, values: Float32Array, first: number, end: number, tokens: Int32Array, bucket: Int32Array,
): void {
  const max = row[MAX];
  const scale = row[SCALE];
  let kept = 0;
  let ranked = 0;
  for (let i = 0; i < n; i++) {
    const token = ids[i];
    const x = (max - values[token]) * scale;
    if (x < first) tokens[kept++] = token;
    else if (x < end) bucket[ranked++] = token;
  }
  split[0] = kept;
  split[1] = ranked;
}

/** `splitTokens` over the whole row. */
function splitRow(values: Float32Array, vocab: number, first: number, end: number, tokens: Int32Array, bucket: Int32Array): void {
  const max = row[MAX];
  const scale = row[SCALE];
  let kept = 0;
  let ranked = 0;
  for (let token = 0; token < vocab; token++) {
    const x = (max - values[token]) * scale;
    if (x < first) tokens[kept++] = token;
    else if (x < end) bucket[ranked++] = token;
  }
  split[0] = kept;
  split[1] = ranked;
}

/**
 * Ranks the bucket and walks it: token q closes the nucleus when the mass up to it, S, provably
 * reaches p * Z, `(1 - p) * S >= p * (Z - S)`, Z - S being the bucket after q and the bins after it.
 * Appends the bucket up to q to `tokens` and returns the nucleus size, or -1 when undecided.
 */
function closeNucleus(values: Float32Array, tokens: Int32Array, bucket: Int32Array): number {
  const max = row[MAX];
  const t = row[T];
  const p = row[P];
  let kept = split[0];
  const n = split[1];
  sortByRank(bucket, 0, n, values);
  let mass = 0;
  for (let q = 0; q < n; q++) mass += Math.exp(-(max - values[bucket[q]]) / t);
  const slack = sums[Z_HI] * ULP * (TAIL + 8 + 2 * n);
  const inLo = sums[IN_LO];
  const inHi = sums[IN_HI];
  const outLo = sums[OUT_LO];
  const outHi = sums[OUT_HI];
  let cumulative = 0;
  for (let q = 0; q < n; q++) {
    cumulative += Math.exp(-(max - values[bucket[q]]) / t);
    const after = Math.max(0, mass - cumulative);
    if ((1 - p) * (inLo + cumulative) > p * (outHi + after) + slack) {
      for (let k = 0; k <= q; k++) tokens[kept++] = bucket[k];
      return kept;
    }
    if (!((1 - p) * (inHi + cumulative) < p * (outLo + after) - slack)) return -1;
  }
  return -1;
}
