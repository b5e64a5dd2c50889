/**
 * Top-p on float rows by bounds on binned masses (src/sampler/float-nucleus.ts) against a naive full
 * sort + float64 softmax: random and adversarial rows (ties, flat, one dominant token, -Infinity
 * entries, huge spreads), temperatures and masses. The kernel either returns exactly the naive
 * nucleus or declines (-1), and through the sampler the result always equals the naive one.
 */
import { describe, expect, it } from 'vitest';
import { Sampler } from '../../src/sampler/index.js';
import { FloatNucleus, boundNormalizer } from '../../src/sampler/float-nucleus.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { dequantizeRow, sortedTokens, testRng } from './oracle.js';

/** The nucleus by full sort: weights exp((v - max) / t), the shortest prefix whose share reaches p (at least one). */
function naiveTopP(values: readonly number[], p: number, t: number, order = sortedTokens(values)): number[] {
  const max = values[order[0]];
  const w = order.map((token) => Math.exp((values[token] - max) / t));
  const z = w.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  let n = 0;
  while (n < order.length) {
    cumulative += w[n] / z;
    n++;
    if (cumulative >= p) break;
  }
  return order.slice(0, n);
}

/** Runs the kernel on `values` (as float32); returns its nucleus sorted by id, or null when it declines. */
function kernelTopP(values: readonly number[], p: number, t: number): number[] | null {
  const row = Float32Array.from(values);
  let top = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[top]) top = i;
  const nucleus = new FloatNucleus();
  nucleus.fraction = p;
  nucleus.temperature = t;
  const tokens = new Int32Array(row.length);
  const n = nucleus.cut(row, row.length, top, tokens, new Int32Array(row.length));
  return n < 0 ? null : Array.from(tokens.subarray(0, n)).sort((a, b) => a - b);
}

const byId = (tokens: number[]) => tokens.slice().sort((a, b) => a - b);
const f32 = (xs: readonly number[]) => Array.from(Float32Array.from(xs));

/** An LM-head-like row: normal bulk with spread `sd`, a few large logits. */
function llmRow(rng: () => number, vocab: number, sd: number, peaks: number): number[] {
  const row = randomLogits(rng, vocab, sd);
  for (let k = 0; k < peaks; k++) row[Math.floor(rng() * vocab)] = 6 + 14 * rng();
  return f32(row);
}

const MASSES = [0.01, 0.3, 0.5, 0.8, 0.9, 0.95, 0.999, 1e-9];
const TEMPERATURES = [0.1, 0.7, 1, 2.5];

describe('float top-p by bounds on binned masses', () => {
  it('LM-like rows: the nucleus equals the naive full sort, and the bounds decide nearly always', () => {
    const rng = testRng('float-nucleus-llm');
    let decided = 0;
    let trials = 0;
    for (let trial = 0; trial < 160; trial++) {
      const vocab = [64, 1000, 5000, 20_000][trial % 4];
      const values = llmRow(rng, vocab, 1 + 2 * rng(), Math.floor(rng() * 10));
      const p = MASSES[Math.floor(rng() * MASSES.length)];
      const t = TEMPERATURES[Math.floor(rng() * TEMPERATURES.length)];
      const got = kernelTopP(values, p, t);
      trials++;
      if (got === null) continue;
      decided++;
      expect(got, `trial ${trial}: vocab ${vocab}, p ${p}, t ${t}`).toEqual(byId(naiveTopP(values, p, t)));
    }
    expect(decided).toBeGreaterThanOrEqual(trials * 0.9);
  });

  it('adversarial rows: ties, flat, one dominant token, -Infinity entries, huge spreads', () => {
    const rng = testRng('float-nucleus-adversarial');
    const rows: [string, number[]][] = [
      ['all equal', new Array<number>(500).fill(1.5)],
      ['two levels of ties', f32(Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? 2 : 1)))],
      ['rounded to a coarse step (many ties)', f32(randomLogits(rng, 3000, 2, 0.5))],
      ['flat (tiny spread)', f32(randomLogits(rng, 5000, 0.01))],
      ['one dominant token', f32(Array.from({ length: 2000 }, (_, i) => (i === 777 ? 80 : rng())))],
      ['-Infinity entries', f32(Array.from({ length: 1000 }, (_, i) => (i % 5 === 0 ? -Infinity : 3 * rng())))],
      ['all -Infinity but one', f32(Array.from({ length: 300 }, (_, i) => (i === 42 ? 0 : -Infinity)))],
      ['huge spread', f32(Array.from({ length: 3000 }, () => (rng() - 0.5) * 1e6))],
      ['huge magnitudes', f32(Array.from({ length: 3000 }, () => 1e30 + (rng() - 0.5) * 1e24))],
      ['denormal-sized differences', f32(Array.from({ length: 1000 }, (_, i) => 1e-40 * (i % 7)))],
      ['depths around the tail bin edge (48 nats)', f32(Array.from({ length: 2000 }, (_, i) => (i === 0 ? 48 : i % 2 ? 0.0001 * i : -0.0001 * i)))],
      ['a step every bin edge', f32(Array.from({ length: 3200 }, (_, i) => -i / 64))],
    ];
    for (const [name, values] of rows) {
      for (const p of MASSES) {
        for (const t of TEMPERATURES) {
          const got = kernelTopP(values, p, t);
          if (got !== null) expect(got, `${name}, p ${p}, t ${t}`).toEqual(byId(naiveTopP(values, p, t)));
        }
      }
    }
  });

  it('boundNormalizer: the bounds hold the float64 sum of every weight, within 1e-4 of it for LM-like rows', () => {
    const rng = testRng('float-nucleus-normalizer');
    const out = new Float64Array(3);
    for (let trial = 0; trial < 60; trial++) {
      const vocab = [50, 3000, 40_000][trial % 3];
      const t = TEMPERATURES[trial % TEMPERATURES.length];
      const values = trial % 5 === 4 ? f32(randomLogits(rng, vocab, 30, 0.5)) : llmRow(rng, vocab, 1 + 3 * rng(), 1 + Math.floor(rng() * 8));
      const row = Float32Array.from(values);
      const max = Math.max(...values);
      let z = 0;
      for (const v of values) z += Math.exp((v - max) / t);
      out[0] = t;
      boundNormalizer(row, vocab, values.indexOf(max), out);
      expect(out[1], `trial ${trial}`).toBeLessThanOrEqual(z);
      expect(out[2], `trial ${trial}`).toBeGreaterThanOrEqual(z);
      expect((out[2] - out[1]) / z, `trial ${trial}`).toBeLessThan(1e-4);
    }
  });

  it('declines a cut that falls exactly on a token boundary instead of guessing', () => {
    // Two equal tokens and p = 0.5: the first reaches the mass exactly; rounding decides, so the bounds must not.
    expect(kernelTopP([0, 0, -100], 0.5, 1)).toBeNull();
    // Four equal tokens and p = 0.75.
    expect(kernelTopP([3, 3, 3, 3], 0.75, 1)).toBeNull();
  });

  it('leaves p outside (0, 1), a temperature of 0 and a row without a finite best to the exact path', () => {
    expect(kernelTopP([1, 2, 3], 0, 1)).toBeNull();
    expect(kernelTopP([1, 2, 3], 1, 1)).toBeNull();
    expect(kernelTopP([1, 2, 3], 0.5, 0)).toBeNull();
    expect(kernelTopP([-Infinity, -Infinity], 0.5, 1)).toBeNull();
  });

  it.each(['FLOAT_32', 'FLOAT_16'] as const)('%s through the sampler at vocab 151936 and 128256: the survivors of the naive chain', (dtype) => {
    const rng = testRng(`float-nucleus-sampler-${dtype}`);
    const out = new Int32Array(151_936);
    for (const vocab of [151_936, 128_256]) {
      const shapes: [string, number[]][] = [
        ['LM-like', llmRow(rng, vocab, 2.5, 8)],
        ['flat', randomLogits(rng, vocab, 0.3)],
        ['coarse ties', randomLogits(rng, vocab, 2, 0.25)],
      ];
      for (const [name, logits] of shapes) {
        const { view, data } = makeLogits(dtype, [logits]);
        const values = dequantizeRow(dtype, data, 0, vocab);
        const order = sortedTokens(values);
        for (const topP of [0.05, 0.8, 0.95]) {
          const sampler = new Sampler(samplerParams({ topP, temp: 0.1, seed: 11 }), vocab);
          const n = sampler.survivorsInto(view, out.subarray(0, vocab));
          expect(Array.from(out.subarray(0, n)), `${name}, vocab ${vocab}, topP ${topP}`).toEqual(naiveTopP(values, topP, 1, order));
        }
      }
    }
  });

  it('a row whose best token is not at index 0 and -Infinity entries, through the sampler (every survivor finite)', () => {
    const vocab = 4096;
    const rng = testRng('float-nucleus-inf');
    const logits = Array.from({ length: vocab }, (_, i) => (i % 3 === 0 ? -Infinity : 4 * rng()));
    const { view } = makeLogits('FLOAT_32', [logits]);
    const out = new Int32Array(vocab);
    const sampler = new Sampler(samplerParams({ topP: 0.9, temp: 1 }), vocab);
    const n = sampler.survivorsInto(view, out);
    expect(Array.from(out.subarray(0, n))).toEqual(naiveTopP(f32(logits), 0.9, 1));
    for (let i = 0; i < 50; i++) expect(logits[sampler.sample(view)]).toBeGreaterThan(-Infinity);
  });
});
