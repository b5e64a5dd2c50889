import { describe, expect, it } from 'vitest';
import { selectTopK, sortByRank } from '../../src/sampler/rank.js';
import { sortedTokens, testRng } from './oracle.js';

describe('sortByRank', () => {
  it('matches a full comparator sort (value desc, id asc) for many sizes, with and without ties', () => {
    const rng = testRng('rank-sort');
    for (const n of [0, 1, 2, 3, 15, 16, 17, 40, 100, 257, 5000]) {
      for (const step of [0, 0.5, 4]) {
        const values = Float32Array.from({ length: n }, () => {
          const x = rng() * 8 - 4;
          return step > 0 ? Math.round(x / step) * step : x;
        });
        const expected = sortedTokens(Array.from(values));
        const shuffled = expected.slice().sort(() => rng() - 0.5);
        const tokens = Int32Array.from(shuffled);
        sortByRank(tokens, 0, n, values);
        expect(Array.from(tokens)).toEqual(expected);
      }
    }
  });

  it('sorts only the requested range', () => {
    const values = Float32Array.from([5, 4, 3, 2, 1, 0]);
    const tokens = Int32Array.from([5, 4, 3, 2, 1, 0]);
    sortByRank(tokens, 1, 4, values);
    expect(Array.from(tokens)).toEqual([5, 2, 3, 4, 1, 0]);
  });

  it('handles already sorted, reversed and all-equal inputs', () => {
    const n = 3000;
    const equal = new Float32Array(n);
    const ascending = Float32Array.from({ length: n }, (_, i) => i);
    for (const values of [equal, ascending]) {
      for (const order of [sortedTokens(Array.from(values)), sortedTokens(Array.from(values)).reverse()]) {
        const tokens = Int32Array.from(order);
        sortByRank(tokens, 0, n, values);
        expect(Array.from(tokens)).toEqual(sortedTokens(Array.from(values)));
      }
    }
  });
});

describe('selectTopK', () => {
  it('keeps exactly the k best tokens of float values and of raw codes, at any row offset', () => {
    const rng = testRng('rank-topk');
    for (let trial = 0; trial < 60; trial++) {
      const n = 1 + Math.floor(rng() * 700);
      const k = 1 + Math.floor(rng() * n);
      const from = Math.floor(rng() * 50);
      const codes = Uint16Array.from({ length: from + n }, () => Math.floor(rng() * (trial % 2 ? 20 : 60000)));
      const bytes = Uint8Array.from(codes, (c) => c & 255);
      const floats = Float32Array.from(codes, (c) => c / 7 - 3000);
      for (const keys of [codes, bytes, floats]) {
        const row = Array.from(keys.subarray(from, from + n), Number);
        const out = new Int32Array(n);
        selectTopK(keys, from, n, k, out);
        const got = Array.from(out.subarray(0, k)).sort((a, b) => a - b);
        expect(got).toEqual(sortedTokens(row).slice(0, k).sort((a, b) => a - b));
      }
    }
  });
});
