import { describe, expect, it } from 'vitest';
import { Sampler, TokenHistory } from '../../src/sampler/index.js';
import { DTYPES, makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { dequantizeRow, inverseCdf, naiveSurvivors, penalize, softmax, testRng, uniforms } from './oracle.js';

interface Trial {
  topK: number;
  topP: number;
  minP: number;
  temp: number;
  penalties: boolean;
}

function randomTrial(rng: () => number, vocab: number): Trial {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
  return {
    topK: pick([0, 0, 2, 5, 17, vocab - 1, vocab, vocab + 5]),
    topP: pick([1, 1, 0.05, 0.5, 0.8, 0.95, 0.999]),
    minP: pick([0, 0, 0, 0.01, 0.2]),
    temp: pick([0.1, 0.7, 1, 2.5]),
    penalties: rng() < 0.4,
  };
}

describe('survivor sets equal a naive full-sort implementation', () => {
  it.each(DTYPES)('%s: random logits (with ties), random chains and penalties, many seeds', (dtype) => {
    const rng = testRng(`survivors-${dtype}`);
    const vocab = 300;
    const out = new Int32Array(vocab);
    for (let trial = 0; trial < 120; trial++) {
      const t = randomTrial(rng, vocab);
      const step = trial % 3 === 0 ? 0.25 : 0;
      const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 1 + rng() * 4, step)]);
      const penalties = t.penalties
        ? { penalizeLastN: 8, repetitionPenalty: 1.5, presencePenalty: 0.4, frequencyPenalty: 0.3 }
        : { penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 };
      const prompt = Array.from({ length: 12 }, () => Math.floor(rng() * 20));
      const history = new TokenHistory(16);
      history.pushAll(prompt);
      const sampler = new Sampler(samplerParams({ topK: t.topK, topP: t.topP, minP: t.minP, temp: t.temp, ...penalties }), vocab);

      const values = penalize(dequantizeRow(dtype, data, 0, vocab, encoding), prompt, penalties);
      const expected = sampler.params.greedy ? naiveSurvivors(values, { topK: 1, topP: 1, minP: 0 }) : naiveSurvivors(values, t);
      const before = data.slice();
      const n = sampler.survivorsInto(view, out, history);
      expect(Array.from(out.subarray(0, n))).toEqual(expected);
      expect(expected).toContain(sampler.sample(view, history));
      expect(data).toEqual(before); // penalties work on scratch, never on the engine's buffer
    }
  });

  it.each(DTYPES)('%s: every draw is the inverse CDF of the survivors softmax at the next seeded uniform', (dtype) => {
    const rng = testRng(`draws-${dtype}`);
    const vocab = 200;
    for (let trial = 0; trial < 30; trial++) {
      const t = randomTrial(rng, vocab);
      if (t.topK === 1) t.topK = 0;
      const seed = Math.floor(rng() * 2 ** 32);
      const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 2, trial % 2 ? 0.5 : 0)]);
      const sampler = new Sampler(samplerParams({ seed, topK: t.topK, topP: t.topP, minP: t.minP, temp: t.temp }), vocab);
      const values = dequantizeRow(dtype, data, 0, vocab, encoding);
      const survivors = naiveSurvivors(values, t);
      const probabilities = softmax(values, survivors, t.temp);
      const u = uniforms(seed);
      for (let draw = 0; draw < 25; draw++) expect(sampler.sample(view)).toBe(inverseCdf(probabilities, survivors, u()));
    }
  });

  it('uint16 codes at temperatures near 0 (code weights with an exponential each, not a Taylor series) and above: the naive nucleus', () => {
    const rng = testRng('survivors-cold');
    const vocab = 3000;
    const out = new Int32Array(vocab);
    for (let trial = 0; trial < 24; trial++) {
      const temp = [0.0001, 0.0005, 0.002, 0.01, 0.3, 1.5][trial % 6];
      const topP = [0.5, 0.9, 0.999, 0.99999][trial % 4];
      // Logits on a grid of two codes (many ties) or spread out.
      const { view, data, encoding } = makeLogits('UFIXED_POINT_16', [randomLogits(rng, vocab, 3, trial % 2 ? 0.001 : 0)]);
      const scaled = dequantizeRow('UFIXED_POINT_16', data, 0, vocab, encoding).map((v) => v / temp);
      const sampler = new Sampler(samplerParams({ temp, topP }), vocab, ['temperature', 'top-p']);
      expect(Array.from(out.subarray(0, sampler.survivorsInto(view, out)))).toEqual(naiveSurvivors(scaled, { topK: 0, topP, minP: 0 }));
    }
  });

  it('Qwen-sized vocabulary: top-p alone, no filter at all, and a flat distribution with thousands of survivors', () => {
    const rng = testRng('survivors-large');
    const vocab = 151_936;
    const peaked = randomLogits(rng, vocab, 2.5);
    for (let k = 0; k < 6; k++) peaked[Math.floor(rng() * vocab)] = 10 + 4 * rng();
    const flat = randomLogits(rng, vocab, 0.3);
    const out = new Int32Array(vocab);
    const cases = [
      { logits: peaked, topP: 0.8, temp: 0.1 },
      { logits: peaked, topP: 1, temp: 1 },
      { logits: flat, topP: 0.05, temp: 1 },
    ];
    for (const [i, c] of cases.entries()) {
      const { view, data, encoding } = makeLogits('UFIXED_POINT_16', [c.logits]);
      const values = dequantizeRow('UFIXED_POINT_16', data, 0, vocab, encoding);
      const survivors = naiveSurvivors(values, { topK: 0, topP: c.topP, minP: 0 });
      const sampler = new Sampler(samplerParams({ seed: 7 + i, topP: c.topP, temp: c.temp }), vocab);
      if (c.topP < 1) {
        const n = sampler.survivorsInto(view, out);
        expect(Array.from(out.subarray(0, n))).toEqual(survivors);
      }
      const probabilities = softmax(values, survivors, c.temp);
      const u = uniforms(7 + i);
      for (let draw = 0; draw < 5; draw++) expect(sampler.sample(view)).toBe(inverseCdf(probabilities, survivors, u()));
    }
  });
});
