/** `TokenHistory.snapshot` / `restore`: a restored history answers `recent`, `truncate` and `length` as the original. */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { TokenHistory } from '../../src/sampler/token-history.js';

describe('TokenHistory snapshot / restore', () => {
  it.each([[8, 5], [8, 20], [0, 4]])('capacity %d after %d tokens: the restored history equals the original', (capacity, count) => {
    const a = new TokenHistory(capacity);
    for (let i = 0; i < count; i++) a.push((i * 37) % 101);
    const state = a.snapshot();
    expect(state.length).toBe(count);
    expect(state.tokens).toHaveLength(Math.min(capacity, count));
    const b = new TokenHistory(capacity);
    b.push(999);
    b.restore(state);
    expect([b.length, b.retained]).toEqual([a.length, a.retained]);
    for (let back = 0; back < a.retained; back++) expect(b.recent(back)).toBe(a.recent(back));
    a.push(7);
    b.push(7);
    expect(b.snapshot()).toEqual(a.snapshot());
  });

  it('bad states throw and change nothing', () => {
    const h = new TokenHistory(4);
    h.pushAll([1, 2, 3]);
    const before = h.snapshot();
    expect(() => h.restore({ length: 1, tokens: [1, 2] })).toThrow(InvalidArgumentError);
    expect(() => h.restore({ length: 2, tokens: [1, -2] })).toThrow(InvalidArgumentError);
    expect(() => h.restore({ length: 2, tokens: 'ab' as unknown as number[] })).toThrow(InvalidArgumentError);
    expect(h.snapshot()).toEqual(before);
  });
});
