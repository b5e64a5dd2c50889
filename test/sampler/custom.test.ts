import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { registerSamplerCallback, Sampler, SamplerCallbackError, unregisterSamplerCallback } from '../../src/sampler/index.js';
import { DTYPES, makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { dequantizeRow, sortedTokens, testRng } from './oracle.js';

const VOCAB = 50;

describe('custom sampler callbacks', () => {
  it.each(DTYPES)('%s: the callback gets the dequantized float32 row in a reused buffer and its token is returned', (dtype) => {
    const { view, data, encoding } = makeLogits(dtype, [randomLogits(testRng(`custom-${dtype}`), VOCAB, 2), randomLogits(testRng('row2'), VOCAB, 2)]);
    const seen: { copy: number[]; buffer: Float32Array; vocab: number }[] = [];
    registerSamplerCallback(`third-best-${dtype}`, (logits, vocab) => {
      seen.push({ copy: Array.from(logits), buffer: logits, vocab });
      return sortedTokens(Array.from(logits))[2];
    });
    const sampler = new Sampler(samplerParams({ type: 'custom', callbackName: `third-best-${dtype}` }), VOCAB);
    for (const row of [0, 1]) {
      const expected = dequantizeRow(dtype, data, row, VOCAB, encoding);
      expect(sampler.sample(view.setRow(row))).toBe(sortedTokens(expected)[2]);
      expect(seen[row].copy).toEqual(expected);
      expect(seen[row].vocab).toBe(VOCAB);
    }
    expect(seen[0].buffer).toBe(seen[1].buffer);
  });

  it('switching to custom and back is live; custom draws consume no randomness', () => {
    registerSamplerCallback('always-7', () => 7);
    const { view } = makeLogits('FLOAT_32', [randomLogits(testRng('custom-switch'), VOCAB, 1)]);
    const sampler = new Sampler(samplerParams({ seed: 11 }), VOCAB);
    const reference = new Sampler(samplerParams({ seed: 11 }), VOCAB);
    sampler.configure({ type: 'custom', callbackName: 'always-7' });
    expect([sampler.sample(view), sampler.sample(view)]).toEqual([7, 7]);
    const inspect = () => sampler.survivorsInto(view, new Int32Array(VOCAB));
    expect(inspect).toThrow(InvalidArgumentError);
    expect(inspect).toThrow(/survivorsInto does not apply to a custom sampler \(its callback decides\)/);
    sampler.configure({ type: 'basic' });
    expect(sampler.params).not.toHaveProperty('callbackName');
    for (let i = 0; i < 5; i++) expect(sampler.sample(view)).toBe(reference.sample(view));
    expect(() => sampler.survivorsInto(view, new Int32Array(VOCAB))).not.toThrow();
  });

  it('a configured sampler keeps its callback after the name is unregistered; new configurations fail', () => {
    registerSamplerCallback('temporary', () => 3);
    const { view } = makeLogits('FLOAT_32', [randomLogits(testRng('custom-unregister'), VOCAB, 1)]);
    const sampler = new Sampler(samplerParams({ type: 'custom', callbackName: 'temporary' }), VOCAB);
    expect(unregisterSamplerCallback('temporary')).toBe(true);
    expect(sampler.sample(view)).toBe(3);
    expect(() => new Sampler(samplerParams({ type: 'custom', callbackName: 'temporary' }), VOCAB)).toThrow(/sampler.callbackName "temporary" is not registered/);
    expect(unregisterSamplerCallback('temporary')).toBe(false);
  });

  it('an unknown callback name is a typed error at configure time', () => {
    const make = () => new Sampler(samplerParams({ type: 'custom', callbackName: 'missing' }), VOCAB);
    expect(make).toThrow(InvalidArgumentError);
    expect(make).toThrow(/sampler.callbackName "missing" is not registered \(registerSamplerCallback first\)/);
  });

  it.each([-1, VOCAB, 2.5, NaN])('a returned token %s is a SamplerCallbackError naming the callback and value; the sampler still works', (bad) => {
    let answer = bad;
    registerSamplerCallback('unruly', () => answer);
    const { view } = makeLogits('UFIXED_POINT_8', [randomLogits(testRng('custom-bad'), VOCAB, 1)]);
    const sampler = new Sampler(samplerParams({ type: 'custom', callbackName: 'unruly' }), VOCAB);
    expect(() => sampler.sample(view)).toThrow(SamplerCallbackError);
    expect(() => sampler.sample(view)).toThrow(new RegExp(`sampler callback "unruly" returned ${String(bad)}; expected an integer token in \\[0, ${VOCAB}\\)`));
    answer = 4;
    expect(sampler.sample(view)).toBe(4);
  });

  it.each([new RangeError('no token for you'), 'a string'])('a callback that throws %s comes out as a SamplerCallbackError naming it, with the cause; the sampler still works', (thrown) => {
    let fail = true;
    registerSamplerCallback('thrower', () => {
      if (fail) throw thrown;
      return 5;
    });
    const { view } = makeLogits('FLOAT_32', [randomLogits(testRng('custom-throw'), VOCAB, 1)]);
    const sampler = new Sampler(samplerParams({ type: 'custom', callbackName: 'thrower' }), VOCAB);
    let caught: unknown;
    try {
      sampler.sample(view);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SamplerCallbackError);
    const message = thrown instanceof Error ? thrown.message : thrown;
    expect((caught as Error).message).toBe(`sampler callback "thrower" threw: ${message}`);
    expect((caught as Error).cause).toBe(thrown);
    fail = false;
    expect(sampler.sample(view)).toBe(5);
  });

  it('registration rejects an empty name or a non-function', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => registerSamplerCallback('', () => 0), /sampler callback name must be a non-empty string, got ""/],
      [() => registerSamplerCallback('x', 42 as never), /sampler callback "x" must be a function, got number/],
    ];
    for (const [call, message] of bad) {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    }
  });
});
