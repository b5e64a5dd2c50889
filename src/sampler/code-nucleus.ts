import type { LogitsView } from './logits-view.js';

/**
 * Top-p straight from a fixed-point row's codes (the hint: a histogram of codes turns the
 * softmax into at most 65536 exponentials of distinct codes). Codes order exactly like their values,
 * so the nucleus is every code above a cut code plus the lowest-id tokens at it: one counting pass,
 * one exponential per distinct code present, one pass collecting the survivors. Each token's weight is
 * the one a per-token pass computes (`exp(-(max - v) / t)` on the float32 value); only the order of
 * the sums differs. Scratch: 65536 counts and weights, allocated on first use.
 */
export class CodeNucleus {
  private counts = new Int32Array(0);
  private weights = new Float64Array(0);

  /**
   * Writes the nucleus of the view's current row (mass `topP` at `temperature`, at least one token)
   * into `tokens` (id order) and the survivors' values into `values[token]`; returns how many.
   */
  cut(view: LogitsView, topP: number, temperature: number, tokens: Int32Array, values: Float32Array): number {
    if (this.counts.length === 0) {
      this.counts = new Int32Array(65536);
      this.weights = new Float64Array(65536);
    }
    const { counts, weights } = this;
    const max = view.countCodesInto(counts);
    const { scale, offset } = view.encoding;
    const vmax = Math.fround((max + offset) * scale);
    let total = 0;
    let left = view.vocab;
    let min = max;
    for (let c = max; left > 0; c--) {
      const k = counts[c];
      if (k === 0) continue;
      const w = Math.exp(-((vmax - Math.fround((c + offset) * scale)) / temperature));
      weights[c] = w;
      total += k * w;
      left -= k;
      min = c;
    }
    const target = topP * total;
    let before = 0;
    let code = min;
    let ties = counts[min];
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
        code = c;
        ties = m;
        break;
      }
      before = cumulative;
    }
    counts.fill(0, min, max + 1);
    return view.collectAboveInto(code, ties, tokens, values);
  }
}
