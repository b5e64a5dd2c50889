/**
 * The sampler's WebAssembly SIMD passes at Llama-3.2-1B's vocabulary (128256) on uint16 codes and
 * float32 logits. Oracles: rank.ts's scalar selectTopK on the same row (the heap order the later sums
 * follow, so the draws are today's), and a naive float64 chain written in oracle.ts (full sort, top-k,
 * top-p at temperature 1, softmax at the temperature, inverse CDF over seedrandom's uniforms), drawn
 * for many seeds.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { LogitsView, Sampler } from '../../src/sampler/index.js';
import { selectTopK } from '../../src/sampler/rank.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { argmax, dequantizeRow, inverseCdf, naiveSurvivors, softmax, sortedTokens, testRng, uniforms } from './oracle.js';

const VOCAB = 128_256;
const DTYPES = ['UFIXED_POINT_16', 'FLOAT_32'] as const;

/** Rows as an LM head gives them (a spread of logits, a few far above), one of them with many ties. */
function rows(seed: string): number[][] {
  const rng = testRng(seed);
  return [0, 1, 2].map((r) => {
    const row = randomLogits(rng, VOCAB, 2.5, r === 2 ? 0.5 : 0);
    for (let j = 0; j < 6; j++) row[Math.floor(rng() * VOCAB)] = 8 + 6 * rng();
    return row;
  });
}

describe.each(DTYPES)('%s at vocab 128256', (dtype) => {
  const { view, data, encoding } = makeLogits(dtype, rows(`simd-path-${dtype}`));
  const values = [0, 1, 2].map((r) => dequantizeRow(dtype, data, r, VOCAB, encoding));
  const keys = (r: number) => data.subarray(r * VOCAB, (r + 1) * VOCAB) as Uint16Array | Float32Array;

  it('topKInto leaves the tokens of the scalar selectTopK, in its heap order, and the best of them', () => {
    const tokens = new Int32Array(VOCAB);
    const got = new Float32Array(VOCAB);
    for (let r = 0; r < 3; r++) {
      for (const k of [1, 40, 1000]) {
        const top = view.setRow(r).topKInto(k, tokens, got);
        const heap = new Int32Array(k);
        selectTopK(keys(r), 0, VOCAB, k, heap);
        expect(Array.from(tokens.subarray(0, k))).toEqual(Array.from(heap));
        expect(top).toBe(argmax(values[r]));
        for (const t of heap) expect(got[t]).toBe(values[r][t]);
      }
    }
  });

  it('argmax and dequantizeInto equal the scalar formulas', () => {
    const dst = new Float32Array(VOCAB);
    for (let r = 0; r < 3; r++) {
      expect(view.setRow(r).argmax()).toBe(argmax(values[r]));
      expect(view.dequantizeInto(dst)).toBe(argmax(values[r]));
      expect(Array.from(dst)).toEqual(values[r]);
    }
  });

  it('the default chain (top-k 40, top-p 0.95, temp 0.8) draws the naive chain\'s tokens for 40 seeds x 12 draws; greedy takes the argmax', () => {
    const survivors = values.map((v) => naiveSurvivors(v, { topK: 40, topP: 0.95, minP: 0 }));
    const probabilities = survivors.map((s, r) => softmax(values[r], s, 0.8));
    const seedRng = testRng(`simd-path-seeds-${dtype}`);
    for (let trial = 0; trial < 40; trial++) {
      const seed = Math.floor(seedRng() * 2 ** 32);
      const sampler = new Sampler(samplerParams({ seed, topK: 40, topP: 0.95, temp: 0.8 }), VOCAB);
      const u = uniforms(seed);
      for (let draw = 0; draw < 12; draw++) {
        const r = (trial + draw) % 3;
        expect(sampler.sample(view.setRow(r))).toBe(inverseCdf(probabilities[r], survivors[r], u()));
      }
    }
    const greedy = new Sampler(samplerParams({ temp: 0 }), VOCAB);
    for (let r = 0; r < 3; r++) expect(greedy.sample(view.setRow(r))).toBe(sortedTokens(values[r])[0]);
  });
});

describe('float32 rows the SIMD pass must refuse, at vocab 128256', () => {
  it('NaN, +Infinity or no finite value: the scalar path\'s errors, naming the row and token', () => {
    const data = new Float32Array(3 * VOCAB).fill(0.5);
    data[100_003] = NaN;
    data[100_010] = NaN;
    data[VOCAB + 77_777] = Infinity;
    data.fill(-Infinity, 2 * VOCAB);
    const view = new LogitsView(data, { dtype: 'FLOAT_32', vocab: VOCAB });
    const tokens = new Int32Array(40);
    const dst = new Float32Array(VOCAB);
    const expectations: [number, string][] = [
      [0, 'logits row 0 has NaN at token 100003'],
      [1, 'logits row 1 has Infinity at token 77777'],
      [2, 'logits row 2 has no finite value'],
    ];
    for (const [row, message] of expectations) {
      for (const call of [() => view.setRow(row).argmax(), () => view.setRow(row).topKInto(40, tokens, dst), () => view.setRow(row).dequantizeInto(dst)]) {
        expect(call).toThrow(InvalidArgumentError);
        expect(call).toThrow(message);
      }
    }
    // The view stays usable: a repaired row reads.
    data[100_003] = 1;
    data[100_010] = 2;
    expect(view.setRow(0).argmax()).toBe(100_010);
  });
});
