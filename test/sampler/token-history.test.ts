import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { TokenHistory } from '../../src/sampler/index.js';
import { testRng } from './oracle.js';

/** The newest `retained` tokens, newest first, read through the public API. */
function recentTokens(h: TokenHistory): number[] {
  return Array.from({ length: h.retained }, (_, back) => h.recent(back));
}

describe('TokenHistory', () => {
  it('keeps the last `capacity` tokens of a plain-array model through pushes, truncations and resets', () => {
    const rng = testRng('history-model');
    for (const capacity of [0, 1, 3, 8, 50]) {
      const h = new TokenHistory(capacity);
      let sequence: number[] = [];
      let oldestKept = 0; // the ring cannot bring back tokens evicted before a rewind
      for (let step = 0; step < 400; step++) {
        const r = rng();
        if (r < 0.6) {
          const t = Math.floor(rng() * 1000);
          h.push(t);
          sequence.push(t);
        } else if (r < 0.75) {
          const prompt = Array.from({ length: Math.floor(rng() * 12) }, () => Math.floor(rng() * 1000));
          h.pushAll(prompt);
          sequence.push(...prompt);
        } else if (r < 0.95) {
          const n = Math.floor(rng() * (sequence.length + 1));
          h.truncate(n);
          sequence = sequence.slice(0, n);
        } else {
          h.reset();
          sequence = [];
          oldestKept = 0;
        }
        oldestKept = Math.max(oldestKept, sequence.length - capacity);
        oldestKept = Math.min(oldestKept, sequence.length);
        expect(h.length).toBe(sequence.length);
        expect(recentTokens(h)).toEqual(sequence.slice(oldestKept).reverse());
      }
    }
  });

  it('a rewind deeper than the ring leaves only what is still held', () => {
    const h = new TokenHistory(3);
    h.pushAll([1, 2, 3, 4, 5]);
    h.truncate(4);
    expect(recentTokens(h)).toEqual([4, 3]);
    h.truncate(1);
    expect(h.retained).toBe(0);
    h.push(9);
    expect(recentTokens(h)).toEqual([9]);
    expect(h.length).toBe(2);
  });

  it('reserve grows the ring and keeps the retained tokens in order', () => {
    const h = new TokenHistory(4);
    h.pushAll([1, 2, 3, 4, 5, 6]);
    h.reserve(10);
    expect(h.capacity).toBe(10);
    expect(recentTokens(h)).toEqual([6, 5, 4, 3]);
    h.pushAll([7, 8, 9, 10, 11, 12, 13]);
    expect(recentTokens(h)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4]);
    h.reserve(2);
    expect(h.capacity).toBe(10);
  });

  it('bad input throws a typed error naming the value and changes nothing', () => {
    const h = new TokenHistory(4);
    h.pushAll([1, 2]);
    const bad: [() => unknown, RegExp][] = [
      [() => new TokenHistory(-1), /history capacity must be an integer in \[0, 2\^31\), got -1/],
      [() => new TokenHistory(1.5), /history capacity must be an integer in \[0, 2\^31\), got 1.5/],
      [() => h.push(-1), /token must be an integer token id >= 0, got -1/],
      [() => h.push(2.5), /token must be an integer token id >= 0, got 2.5/],
      [() => h.pushAll([3, 4, NaN]), /tokens\[2\] must be an integer token id >= 0, got NaN/],
      [() => h.truncate(3), /truncate length must be an integer in \[0, 2\], got 3/],
      [() => h.recent(2), /recent\(back\) needs an integer in \[0, 2\), got 2/],
      [() => h.reserve(-4), /history capacity must be an integer in \[0, 2\^31\), got -4/],
      [() => new TokenHistory(4, { bounded: 'yes' as never }), /history options must be an object whose "bounded" is a boolean, got bounded yes/],
      [() => new TokenHistory(4, null as never), /history options must be an object whose "bounded" is a boolean, got null/],
    ];
    for (const [call, message] of bad) {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    }
    expect(h.length).toBe(2);
    expect(recentTokens(h)).toEqual([2, 1]);
    h.push(3);
    expect(recentTokens(h)).toEqual([3, 2, 1]);
  });
});
