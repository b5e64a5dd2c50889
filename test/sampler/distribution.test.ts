import { describe, expect, it } from 'vitest';
import { Sampler, TokenHistory } from '../../src/sampler/index.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { chiSquareCritical, dequantizeRow, naiveSurvivors, penalize, softmax, testRng, type OracleDtype } from './oracle.js';

const DRAWS = 20_000;

interface Case {
  name: string;
  dtype: OracleDtype;
  vocab: number;
  temp: number;
  topK: number;
  topP: number;
  minP: number;
  penalties?: boolean;
}

const cases: Case[] = [
  { name: 'top-k 10, temp 1', dtype: 'FLOAT_32', vocab: 500, temp: 1, topK: 10, topP: 1, minP: 0 },
  { name: 'top-p 0.9, temp 0.7', dtype: 'UFIXED_POINT_16', vocab: 500, temp: 0.7, topK: 0, topP: 0.9, minP: 0 },
  { name: 'top-k 30 + top-p 0.95 + temp 1.3', dtype: 'FLOAT_16', vocab: 500, temp: 1.3, topK: 30, topP: 0.95, minP: 0 },
  { name: 'min-p 0.05, temp 1.5', dtype: 'UFIXED_POINT_8', vocab: 300, temp: 1.5, topK: 0, topP: 1, minP: 0.05 },
  { name: 'no filter, temp 1, small vocab', dtype: 'FLOAT_32', vocab: 24, temp: 1, topK: 0, topP: 1, minP: 0 },
  { name: 'penalties + top-p 0.8', dtype: 'UFIXED_POINT_16', vocab: 200, temp: 1, topK: 0, topP: 0.8, minP: 0, penalties: true },
];

describe('draw frequencies follow the softmax of the surviving set', () => {
  it.each(cases)('$name ($dtype): chi-square over 20k draws below the 0.001 critical value, nothing outside the set', (c) => {
    const rng = testRng(`distribution-${c.name}`);
    const logits = randomLogits(rng, c.vocab, 1.2);
    const { view, data, encoding } = makeLogits(c.dtype, [logits]);
    const penalties = c.penalties
      ? { penalizeLastN: 16, repetitionPenalty: 1.3, presencePenalty: 0.2, frequencyPenalty: 0.1 }
      : { penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 };
    const prompt = Array.from({ length: 16 }, (_, i) => (i * 7) % c.vocab);
    const history = new TokenHistory(16);
    history.pushAll(prompt);

    const values = penalize(dequantizeRow(c.dtype, data, 0, c.vocab, encoding), prompt, penalties);
    const survivors = naiveSurvivors(values, c);
    const probabilities = softmax(values, survivors, c.temp);
    expect(survivors.length).toBeGreaterThan(3);

    const sampler = new Sampler(samplerParams({ seed: 99, temp: c.temp, topK: c.topK, topP: c.topP, minP: c.minP, ...penalties }), c.vocab);
    const counts = new Map<number, number>();
    for (let i = 0; i < DRAWS; i++) {
      const t = sampler.sample(view, history);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    const allowed = new Set(survivors);
    for (const t of counts.keys()) expect(allowed.has(t)).toBe(true);

    // Pool the expected-count < 5 tail into one cell, as the chi-square test requires.
    let chi2 = 0;
    let cells = 0;
    let tailExpected = 0;
    let tailObserved = 0;
    survivors.forEach((t, i) => {
      const expected = probabilities[i] * DRAWS;
      const observed = counts.get(t) ?? 0;
      if (expected < 5) {
        tailExpected += expected;
        tailObserved += observed;
        return;
      }
      chi2 += (observed - expected) ** 2 / expected;
      cells++;
    });
    if (tailExpected > 0) {
      chi2 += (tailObserved - tailExpected) ** 2 / tailExpected;
      cells++;
    }
    expect(cells).toBeGreaterThan(2);
    expect(chi2).toBeLessThan(chiSquareCritical(cells - 1));
  });
});
