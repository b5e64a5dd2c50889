import { cutCodesSimd } from '../simd/logits.js';
import type { LogitsView } from './logits-view.js';

/** Nats below the best token so far within which the counting pass keeps token ids. */
const NEAR_NATS = 6;
/** Ids it keeps at most; a row with more near its best (or a deeper cut) is collected in a second pass. */
const NEAR_CAPACITY = 4096;
/** Nats below the best beyond which the counting pass leaves tokens out (they cannot change the total). */
const DEPTH_NATS = 60;
/** A quarter of a double's last place relative to it (2^-54): a smaller addend leaves it unchanged. */
const QUARTER_ULP = 2 ** -54;

/**
 * Top-p straight from a fixed-point row's codes (the hint: a histogram of codes turns the
 * softmax into at most 65536 weights of distinct codes). Codes order exactly like their values, so
 * the nucleus is every code above a cut code plus the lowest-id tokens at it.
 *
 * One pass counts the codes and keeps the ids of the tokens near the best so far: the survivors of a
 * nucleus that ends within `NEAR_NATS` of the best are among them, otherwise a second pass collects
 * them. The weights of the distinct codes come without an exponential each: `v(c)` is
 * `(c + offset) * scale` rounded to float32, so `exp(-(vmax - v(c)) / t)` is `exp(-j * scale / t)`
 * (j = max - c, two 256-entry tables) times `exp(-(rmax - r(c)) / t)` for the float32 roundings r, a
 * factor within a few 1e-6 of 1 taken by its Taylor series (error below 1e-16 relative), so each
 * weight is the per-token pass's `exp(-(max - v) / t)` to within rounding; only the order of the sums
 * differs. The count and the cut (weights, total, cumulative sums) run in WebAssembly
 * (src/simd/logits.ts), the cut in JavaScript only where the factor needs `Math.exp` (a temperature
 * near 0): in JavaScript they took 2-3x as long at a Qwen-sized vocabulary, and twice that again
 * when V8 compiled them less well.
 */
export class CodeNucleus {
  private counts = new Int32Array(0);
  private weights = new Float64Array(0);
  private readonly near = new Int32Array(NEAR_CAPACITY);
  /** The counting pass's largest code, number of near ids and number of tokens counted. */
  private readonly counted = new Int32Array(3);
  /** The cut code (-1: the mass stayed below the target) and how many of its tokens the nucleus takes. */
  private readonly found = new Int32Array(2);
  /** The cut's doubles, updated in place for the kernel. */
  private readonly operands = { offset: Number.NaN, scale: Number.NaN, rmax: Number.NaN, temperature: Number.NaN, fraction: Number.NaN };
  private readonly hi = new Float64Array(256);
  private readonly lo = new Float64Array(256);
  /** `scale / t` the tables hold. */
  private step = Number.NaN;
  // The doubles travel in fields, set before `cut`: as arguments of a call V8 does not inline they
  // would be boxed, one allocation per token.
  /** The share of the mass to reach (`0 <= fraction <= 1`). */
  fraction = Number.NaN;
  /** The temperature probabilities are taken at (`> 0`). */
  temperature = Number.NaN;

  /**
   * Writes the nucleus of the view's current row (mass `fraction` at `temperature`, at least one
   * token) into `tokens` (id order) and the survivors' values into `values[token]`; returns how many.
   */
  cut(view: LogitsView, tokens: Int32Array, values: Float32Array): number {
    const { temperature } = this;
    if (this.counts.length === 0) this.counts = new Int32Array(65536);
    const { counts, hi, lo, found } = this;
    const { scale, offset } = view.encoding;
    const step = scale / temperature;
    if (step !== this.step) {
      for (let i = 0; i < 256; i++) {
        lo[i] = Math.exp(-i * step);
        hi[i] = Math.exp(-i * 256 * step);
      }
      this.step = step;
    }
    const window = Math.ceil(NEAR_NATS / step);
    const depth = Math.ceil(DEPTH_NATS / step);
    view.countCodesInto(counts, window, depth, this.near, this.counted);
    const max = this.counted[0];
    const nearCount = this.counted[1];
    const vmax = Math.fround((max + offset) * scale);
    const cut = this.operands;
    cut.offset = offset;
    cut.scale = scale;
    cut.rmax = vmax - (max + offset) * scale;
    cut.temperature = temperature;
    cut.fraction = this.fraction;
    // Tokens the count left out (deeper than DEPTH_NATS) are never added: each weighs less than e^-60,
    // and 2^31 of them less than 2^-54 of a total of at least 1 (the best token's weight), so they could
    // not change it.
    const uncounted = view.vocab - this.counted[2];
    const floor = Math.max(0, max - depth);
    // A float32 rounding moves a value by at most 2^-24 of it (2^-150 below the normal range), so e,
    // the difference of two roundings over the temperature, stays below 1e-3 for every counted code when
    // this holds (with a factor 2 to spare): the kernel's Taylor series is then exact to rounding.
    const reach = Math.max(Math.abs(vmax), Math.abs((floor + offset) * scale));
    if (reach * 2 ** -22 + 2 ** -148 < 1e-3 * temperature) cutCodesSimd(counts, floor, max, this.counted[2], uncounted, cut, hi, lo, found);
    else this.cutWithExp(max, uncounted);
    const code = found[0];
    const ties = found[1];
    counts.fill(0, floor, max + 1);
    // The cumulative mass stayed below the target (rounding, p near 1): the nucleus is every token.
    if (code < 0) return view.pickAboveInto(null, view.vocab, -1, 0, tokens, values);
    // Every token at or above the cut is within `window` of the best, so among the near ids.
    if (nearCount <= NEAR_CAPACITY && code >= max - window) return view.pickAboveInto(this.near, nearCount, code, ties, tokens, values);
    return view.pickAboveInto(null, view.vocab, code, ties, tokens, values);
  }

  /**
   * The cut as the kernel computes it (src/simd/logits.ts cutCodesSimd), with `Math.exp` where the
   * Taylor series would not do (|e| >= 1e-3: a temperature near 0 or a huge scale), into `found`.
   */
  private cutWithExp(max: number, uncounted: number): void {
    if (this.weights.length === 0) this.weights = new Float64Array(65536);
    const { counts, weights, hi, lo, found } = this;
    const { offset, scale, rmax, temperature, fraction } = this.operands;
    let left = this.counted[2];
    let total = 0;
    let min = max;
    for (let c = max; left > 0; c--) {
      const k = counts[c];
      if (k === 0) continue;
      const j = max - c;
      const x = (c + offset) * scale;
      const e = (rmax - (Math.fround(x) - x)) / temperature;
      const w = hi[j >> 8] * lo[j & 255] * (e < 1e-3 && e > -1e-3 ? 1 - e * (1 - e * (0.5 - e / 6)) : Math.exp(-e));
      weights[c] = w;
      total += k * w;
      left -= k;
      min = c;
      // Codes further down weigh less than w: once the tokens left together add less than a quarter of
      // the total's last place, each further addition rounds back to the same total, and so does each
      // step of the cumulative sums below: the total is final (at a low temperature after a few hundred
      // codes instead of the row's whole range).
      if ((left + uncounted) * w < total * QUARTER_ULP) break;
    }
    const target = fraction * total;
    let before = 0;
    found[0] = -1;
    for (let c = max; c >= min; c--) {
      const k = counts[c];
      if (k === 0) continue;
      const w = weights[c];
      let cumulative = before;
      let m = 0;
      while (m < k && (m === 0 || cumulative < target)) {
        cumulative += w;
        m++;
      }
      if (cumulative >= target) {
        found[0] = c;
        found[1] = m;
        return;
      }
      before = cumulative;
    }
  }
}
