/**
 * Penalties and logit bias as edits of the unread row (Candidates.editUnread): a top-k after them
 * ranks k + m codes instead of reading the whole row. Oracle: the same row as float32 values (its
 * exact dequantisation), which takes the path that reads the row first; the two must draw the same
 * tokens, step after step with the history growing, and fail with the same error. A spy proves the
 * fixed-point row was never read whole.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Candidates } from '../../src/sampler/candidates.js';
import { LogitsView, Sampler, TokenHistory, type ChainEntry } from '../../src/sampler/index.js';
import { samplerParams } from './fixtures.js';
import { testRng } from './oracle.js';

const ENCODING = { scale: 0.002, offset: -30000 };

/** Codes of a spread row, and the same row as float32 values. */
function twinRows(vocab: number, seed: number): { codes: Uint16Array; floats: Float32Array } {
  const rng = testRng(`unread-${seed}`);
  const codes = new Uint16Array(vocab);
  for (let i = 0; i < vocab; i++) codes[i] = 27000 + Math.floor(rng() * 6000) + (rng() < 0.001 ? 3000 : 0);
  // A few exact ties between tokens, where the lower id must win.
  for (let i = 0; i < 20; i++) codes[Math.floor(rng() * vocab)] = codes[Math.floor(rng() * vocab)];
  const floats = Float32Array.from(codes, (q) => (q + ENCODING.offset) * ENCODING.scale);
  return { codes, floats };
}

function views(vocab: number, seed: number): { coded: LogitsView; float: LogitsView } {
  const { codes, floats } = twinRows(vocab, seed);
  return {
    coded: new LogitsView(codes, { dtype: 'UFIXED_POINT_16', vocab, encoding: ENCODING }),
    float: new LogitsView(floats, { dtype: 'FLOAT_32', vocab }),
  };
}

/** The best tokens of a row, as a history would hold them after the model liked them: penalties then bite. */
function historyOfTop(codes: LogitsView, vocab: number, n: number, rng: () => number): TokenHistory {
  const history = new TokenHistory(256);
  const values = new Float32Array(vocab);
  codes.dequantizeInto(values);
  const order = Array.from({ length: vocab }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  for (let i = 0; i < n; i++) history.push(order[Math.floor(rng() * Math.min(60, vocab))]);
  return history;
}

const CHAINS: ReadonlyArray<[string, readonly ChainEntry[] | undefined]> = [
  ["Genie's chain (penalties, top-k, top-p, temperature)", undefined],
  ['logit bias, penalties, top-k, top-p', [{ type: 'logit-bias', bias: { 5: 3.5, 17: -2, 40: 40, 41: -1e9 } }, 'penalties', 'top-k', 'top-p', 'temperature']],
];

describe('edits of the unread row (penalties, logit bias) before a top-k', () => {
  for (const [name, chain] of CHAINS) {
    it(`${name}: the tokens of the row read first, step after step`, () => {
      for (const [vocab, seed, topK, penalties] of [
        [50_000, 1, 40, { penalizeLastN: 64, repetitionPenalty: 1.3, presencePenalty: 0.4, frequencyPenalty: 0.2 }],
        [50_000, 2, 1, { penalizeLastN: 16, repetitionPenalty: 3, presencePenalty: 0, frequencyPenalty: 0 }],
        [3000, 3, 100, { penalizeLastN: 200, repetitionPenalty: 1.1, presencePenalty: -0.5, frequencyPenalty: 0.05 }],
        [64, 4, 8, { penalizeLastN: 200, repetitionPenalty: 2, presencePenalty: 1, frequencyPenalty: 0 }],
      ] as const) {
        const { coded, float } = views(vocab, seed);
        const params = samplerParams({ seed: 7 + seed, topK, topP: 0.9, temp: 0.8, ...penalties });
        const fast = new Sampler(params, vocab, chain);
        const oracle = new Sampler(params, vocab, chain);
        const rng = testRng(`history-${seed}`);
        const history = historyOfTop(coded, vocab, 40, rng);
        const read = vi.spyOn(coded, 'dequantizeInto');
        for (let step = 0; step < 60; step++) {
          const token = fast.sample(coded, history);
          expect(token, `vocab ${vocab}, step ${step}`).toBe(oracle.sample(float, history));
          history.push(token);
        }
        expect(read.mock.calls.length, `vocab ${vocab}: row reads`).toBe(0);
      }
    });
  }

  it('a stage of the caller between them sees the edited logits, whatever it reads', () => {
    const vocab = 20_000;
    const { coded, float } = views(vocab, 7);
    const history = historyOfTop(coded, vocab, 24, testRng('probe-history'));
    const seen: Array<[number, number, number]> = [];
    // Reads the best token, the set's size and one penalised token's logit, then keeps the row as is.
    const probe = (into: Array<[number, number, number]>) => ({
      name: 'probe',
      apply: (c: Candidates) => {
        into.push([c.best(), c.size, c.logits[history.recent(0)]]);
      },
    });
    const params = samplerParams({ topK: 30, topP: 0.95, temp: 0.7, penalizeLastN: 24, repetitionPenalty: 1.5, presencePenalty: 0.3 });
    const expected: Array<[number, number, number]> = [];
    const fast = new Sampler(params, vocab, [{ type: 'logit-bias', bias: { 11: 2 } }, 'penalties', probe(seen), 'top-k', 'top-p', 'temperature']);
    const oracle = new Sampler(params, vocab, [{ type: 'logit-bias', bias: { 11: 2 } }, 'penalties', probe(expected), 'top-k', 'top-p', 'temperature']);
    for (let step = 0; step < 30; step++) {
      const token = fast.sample(coded, history);
      expect(token).toBe(oracle.sample(float, history));
      history.push(token);
    }
    expect(seen).toEqual(expected);
  });

  it('a greedy draw after penalties takes the best edited token, without reading the row', () => {
    const vocab = 20_000;
    const { coded, float } = views(vocab, 5);
    const params = samplerParams({ temp: 0, penalizeLastN: 32, repetitionPenalty: 5 });
    const fast = new Sampler(params, vocab);
    const oracle = new Sampler(params, vocab);
    const history = historyOfTop(coded, vocab, 32, testRng("greedy-history"));
    const read = vi.spyOn(coded, 'dequantizeInto');
    for (let step = 0; step < 40; step++) {
      const token = fast.sample(coded, history);
      expect(token).toBe(oracle.sample(float, history));
      history.push(token);
    }
    expect(read).not.toHaveBeenCalled();
  });

  it('a penalty that overflows float32 fails with the error of the row read first, and the sampler goes on', () => {
    const vocab = 1000;
    const codes = new Uint16Array(vocab).fill(100);
    codes[3] = 65535;
    codes[9] = 65535;
    const encoding = { scale: 5e33, offset: 0 };
    const coded = new LogitsView(codes, { dtype: 'UFIXED_POINT_16', vocab, encoding });
    const float = new LogitsView(Float32Array.from(codes, (q) => Math.fround(q * 5e33)), { dtype: 'FLOAT_32', vocab });
    const params = samplerParams({ topK: 10, temp: 1, penalizeLastN: 4, repetitionPenalty: 1e-3 });
    const history = new TokenHistory(8);
    history.pushAll([9, 3]);
    const failure = (sampler: Sampler, view: LogitsView) => {
      try {
        sampler.sample(view, history);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const fast = new Sampler(params, vocab);
    const expected = failure(new Sampler(params, vocab), float);
    expect(String(expected)).toMatch(/penalties turned the logit of token 3 into Infinity; check repetitionPenalty 0.001/);
    const got = failure(fast, coded);
    expect(got).toBeInstanceOf((expected as Error).constructor);
    expect((got as Error).message).toBe((expected as Error).message);
    // Nothing of the failed step is left over: with no history, the best code wins (token 3, the lower of the two).
    expect(new Sampler(samplerParams({ temp: 0 }), vocab).sample(coded)).toBe(3);
    expect(samplerParams({ temp: 0 }).temp).toBe(0);
  });
});
