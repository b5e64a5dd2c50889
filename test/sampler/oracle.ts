/**
 * Independent reference formulas for the sampler tests: full sorts, plain arrays, no scratch reuse.
 * Written from Genie's semantics (docs/genie-behaviour.md#sampler-chain,
 * docs/genie-behaviour.md#logits-dequantization), not from the implementation.
 */
import seedrandom from 'seedrandom';
import type { Encoding } from '../../src/tensor/dtype.js';

export type OracleDtype = 'FLOAT_32' | 'FLOAT_16' | 'UFIXED_POINT_8' | 'UFIXED_POINT_16';

/** IEEE binary16 bits -> number, from the definition. */
export function halfToNumber(h: number): number {
  const sign = h >> 15 ? -1 : 1;
  const exponent = (h >> 10) & 31;
  const fraction = h & 1023;
  if (exponent === 0) return sign * fraction * Math.pow(2, -24);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * Math.pow(2, exponent - 15);
}

/** Row `row` of a `(rows, vocab)` logits buffer as float32-rounded numbers. */
export function dequantizeRow(
  dtype: OracleDtype,
  data: ArrayLike<number>,
  row: number,
  vocab: number,
  encoding?: Encoding,
): number[] {
  const out: number[] = [];
  for (let t = 0; t < vocab; t++) {
    const x = data[row * vocab + t];
    if (dtype === 'FLOAT_32') out.push(x);
    else if (dtype === 'FLOAT_16') out.push(halfToNumber(x));
    else out.push(Math.fround((x + encoding!.offset) * encoding!.scale));
  }
  return out;
}

export interface PenaltyConfig {
  penalizeLastN: number;
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
}

/** Genie's penalties over the last `penalizeLastN` tokens of `history` (oldest first), in float32. */
export function penalize(values: readonly number[], history: readonly number[], p: PenaltyConfig): number[] {
  const out = values.slice();
  if (p.penalizeLastN === 0) return out;
  const window = history.slice(Math.max(0, history.length - p.penalizeLastN));
  const counts = new Map<number, number>();
  for (const t of window) counts.set(t, (counts.get(t) ?? 0) + 1);
  for (const [t, count] of counts) {
    let v = out[t];
    v = v <= 0 ? v * p.repetitionPenalty : v / p.repetitionPenalty;
    v -= count * p.frequencyPenalty + (count > 0 ? p.presencePenalty : 0);
    out[t] = Math.fround(v);
  }
  return out;
}

/** Tokens in sampling order: value descending, token id ascending on ties. */
export function sortedTokens(values: readonly number[]): number[] {
  return values.map((_, t) => t).sort((a, b) => values[b] - values[a] || a - b);
}

export function argmax(values: readonly number[]): number {
  return sortedTokens(values)[0];
}

export interface FilterConfig {
  topK: number;
  topP: number;
  minP: number;
}

/** Genie's chain by full sort: top-k, then top-p at temperature 1 (>= p, at least 1), then min-p. */
export function naiveSurvivors(values: readonly number[], f: FilterConfig): number[] {
  let kept = sortedTokens(values);
  if (f.topK > 0) kept = kept.slice(0, f.topK);
  const max = values[kept[0]];
  if (f.topP < 1) {
    const z = kept.reduce((s, t) => s + Math.exp(values[t] - max), 0);
    let cumulative = 0;
    let n = 0;
    while (n < kept.length) {
      cumulative += Math.exp(values[kept[n]] - max) / z;
      n++;
      if (cumulative >= f.topP) break;
    }
    kept = kept.slice(0, n);
  }
  if (f.minP > 0) kept = kept.filter((t) => Math.exp(values[t] - max) >= f.minP);
  return kept;
}

/** Softmax at `temp` over `survivors` (in their order). */
export function softmax(values: readonly number[], survivors: readonly number[], temp: number): number[] {
  const max = values[survivors[0]];
  const w = survivors.map((t) => Math.exp((values[t] - max) / temp));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/** Inverse CDF: the first survivor (in sampling order) whose cumulative probability exceeds `u`. */
export function inverseCdf(probabilities: readonly number[], survivors: readonly number[], u: number): number {
  let cumulative = 0;
  for (let i = 0; i < survivors.length; i++) {
    cumulative += probabilities[i];
    if (cumulative > u) return survivors[i];
  }
  return survivors[survivors.length - 1];
}

/** The uniforms a sampler seeded with `seed` consumes, one per non-greedy draw: seedrandom's ARC4. */
export function uniforms(seed: number): () => number {
  return seedrandom(String(seed));
}

/** Chi-square critical value at significance 0.001 (Wilson-Hilferty). */
export function chiSquareCritical(df: number): number {
  const z = 3.0902;
  const a = 2 / (9 * df);
  return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
}

/** Deterministic pseudo-random source for test data. */
export function testRng(seed: string): () => number {
  return seedrandom(seed);
}
