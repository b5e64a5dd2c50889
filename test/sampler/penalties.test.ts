import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { LogitsView, Sampler, TokenHistory } from '../../src/sampler/index.js';
import { applyPenalties } from '../../src/sampler/penalties.js';
import { DTYPES, makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { argmax, dequantizeRow, penalize, testRng } from './oracle.js';

function historyOf(tokens: number[], capacity = 64): TokenHistory {
  const h = new TokenHistory(capacity);
  h.pushAll(tokens);
  return h;
}

describe('penalties (Genie sampler-utils.hpp)', () => {
  it('match the hand formulas: repetition by sign, then count * frequency + presence', () => {
    // Tokens 0..5; window (last 6 of the history) holds 1 x3, 2 x1, 4 x2; token 5 only before the window.
    const values = Float32Array.from([1.5, 2, -1, 0.5, 0, 3]);
    const history = historyOf([5, 1, 2, 1, 4, 1, 4]);
    const counts = new Int32Array(6);
    const params = { repetitionPenalty: 2, presencePenalty: 0.25, frequencyPenalty: 0.125 };
    const top = applyPenalties(values, 5, history, 6, params, counts);
    expect(Array.from(values)).toEqual([
      1.5, // not in the window
      2 / 2 - (3 * 0.125 + 0.25), // positive: divided
      -1 * 2 - (1 * 0.125 + 0.25), // negative: multiplied
      0.5,
      0 * 2 - (2 * 0.125 + 0.25), // zero counts as "<= 0"
      3, // token 5 fell out of the window
    ]);
    expect(top).toBe(5);
    expect(Array.from(counts)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('recompute the argmax when the best token is penalised or a penalised token rises', () => {
    const counts = new Int32Array(4);
    const lowered = Float32Array.from([1, 3, 2.5, 0]);
    expect(applyPenalties(lowered, 1, historyOf([1]), 1, { repetitionPenalty: 2, presencePenalty: 0, frequencyPenalty: 0 }, counts)).toBe(2);
    const raised = Float32Array.from([1, 3, 2.5, 0]); // -> [1, 3, 2.5, 3.5]
    expect(applyPenalties(raised, 1, historyOf([3]), 1, { repetitionPenalty: 1, presencePenalty: -3.5, frequencyPenalty: 0 }, counts)).toBe(3);
    const above = Float32Array.from([1, 3, 2.5, 0]); // -> [5, 3, 2.5, 4]
    expect(applyPenalties(above, 1, historyOf([3, 0]), 2, { repetitionPenalty: 1, presencePenalty: -4, frequencyPenalty: 0 }, counts)).toBe(0);
    const tie = Float32Array.from([1, 3, 2.5, 0]); // -> [1, 3, 2.5, 3]: the lower index wins the tie
    expect(applyPenalties(tie, 1, historyOf([3]), 1, { repetitionPenalty: 1, presencePenalty: -3, frequencyPenalty: 0 }, counts)).toBe(1);
  });

  it.each(DTYPES)('%s: greedy with penalties is the argmax of the penalised values; the engine buffer is untouched', (dtype) => {
    const rng = testRng(`greedy-penalties-${dtype}`);
    const vocab = 64;
    for (let trial = 0; trial < 40; trial++) {
      const { view, data, encoding } = makeLogits(dtype, [randomLogits(rng, vocab, 2, trial % 2 ? 0.5 : 0)]);
      const before = data.slice();
      const tokens = Array.from({ length: 20 }, () => Math.floor(rng() * vocab));
      const penalties = { penalizeLastN: 1 + Math.floor(rng() * 20), repetitionPenalty: 0.5 + 2 * rng(), presencePenalty: rng() - 0.3, frequencyPenalty: rng() * 0.5 };
      const sampler = new Sampler(samplerParams({ temp: 0, ...penalties }), vocab);
      const expected = argmax(penalize(dequantizeRow(dtype, data, 0, vocab, encoding), tokens, penalties));
      expect(sampler.sample(view, historyOf(tokens, 20))).toBe(expected);
      expect(data).toEqual(before);
    }
  });

  it('apply to the prompt tokens too, and only within the last penalizeLastN', () => {
    const vocab = 4;
    const view = new LogitsView(Float32Array.from([2, 1.9, 1.8, 0]), { dtype: 'FLOAT_32', vocab });
    const sampler = new Sampler(samplerParams({ temp: 0, penalizeLastN: 2, repetitionPenalty: 10 }), vocab);
    const history = historyOf([0]); // the prompt
    expect(sampler.sample(view, history)).toBe(1);
    history.push(1);
    expect(sampler.sample(view, history)).toBe(2);
    history.push(3); // token 0 leaves the 2-token window
    expect(sampler.sample(view, history)).toBe(0);
    expect(sampler.sample(view)).toBe(0); // no history, no penalties
    sampler.configure({ penalizeLastN: 0 });
    expect(sampler.sample(view, historyOf([0, 1, 2]))).toBe(0);
  });

  it('a history token outside the vocabulary is an error that leaves the sampler clean', () => {
    const vocab = 4;
    const view = new LogitsView(Float32Array.from([2, 1, 0, 0]), { dtype: 'FLOAT_32', vocab });
    const sampler = new Sampler(samplerParams({ temp: 0, penalizeLastN: 4, repetitionPenalty: 10 }), vocab);
    const bad = historyOf([0, 1, 7]);
    expect(() => sampler.sample(view, bad)).toThrow(InvalidArgumentError);
    expect(() => sampler.sample(view, bad)).toThrow(/history token 7 \(0 before the newest\) is outside the vocabulary \[0, 4\)/);
    // Counting scratch was not touched: penalties on a good history are exact.
    const good = historyOf([2]);
    const values = Float32Array.from([2, 1, 0, 0]);
    expect(sampler.sample(view, good)).toBe(0);
    expect(applyPenalties(values, 0, good, 1, sampler.params, new Int32Array(4))).toBe(0);
    expect(values[2]).toBe(0);
  });

  it('a history that dropped tokens of the window is an error naming both sizes; one smaller than penalizeLastN that kept them all is not', () => {
    const vocab = 4;
    const view = new LogitsView(Float32Array.from([2, 1, 0.5, 0]), { dtype: 'FLOAT_32', vocab });
    const sampler = new Sampler(samplerParams({ temp: 0, penalizeLastN: 8, repetitionPenalty: 10 }), vocab);
    // 3 tokens in a ring of 4: the window is those 3 (0 and 1 penalised, 2 wins).
    expect(sampler.sample(view, historyOf([0, 1, 1], 4))).toBe(2);
    // 6 tokens in a ring of 4: the window needs all 6, two are gone.
    const lossy = historyOf([0, 1, 3, 3, 3, 3], 4);
    expect(() => sampler.sample(view, lossy)).toThrow(InvalidArgumentError);
    expect(() => sampler.sample(view, lossy)).toThrow(
      /the penalty window needs the last 6 tokens but the history holds 4 \(capacity 4, penalizeLastN 8\); call history.reserve\(8\) before pushing/,
    );
    // Without the lost 0 and 1 in the window, token 0 would win: the error keeps a wrong draw from happening.
    const complete = historyOf([0, 1, 3, 3, 3, 3], 8);
    expect(sampler.sample(view, complete)).toBe(2);
  });

  it('a penalty that overflows float32 is an error naming the token', () => {
    const view = new LogitsView(Float32Array.from([3e38, 1]), { dtype: 'FLOAT_32', vocab: 2 });
    const sampler = new Sampler(samplerParams({ temp: 0, penalizeLastN: 1, repetitionPenalty: 1e-3 }), 2);
    expect(() => sampler.sample(view, historyOf([0]))).toThrow(InvalidArgumentError);
    expect(() => sampler.sample(view, historyOf([0]))).toThrow(/penalties turned the logit of token 0 into Infinity; check repetitionPenalty 0.001/);
    expect(sampler.sample(view, historyOf([1]))).toBe(0);
  });
});
