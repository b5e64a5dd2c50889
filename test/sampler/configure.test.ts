import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { Sampler, type SamplerParams, type SamplerUpdate } from '../../src/sampler/index.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { argmax, dequantizeRow, naiveSurvivors, testRng } from './oracle.js';

const VOCAB = 120;
const logits = makeLogits('UFIXED_POINT_16', [randomLogits(testRng('configure'), VOCAB, 2)]);
const values = dequantizeRow('UFIXED_POINT_16', logits.data, 0, VOCAB, logits.encoding);

function survivors(sampler: Sampler): number[] {
  const out = new Int32Array(VOCAB);
  return Array.from(out.subarray(0, sampler.survivorsInto(logits.view, out)));
}

describe('live reconfiguration', () => {
  it('any parameter can change between draws and the next draw uses it', () => {
    const sampler = new Sampler(samplerParams({ temp: 1 }), VOCAB);
    expect(survivors(sampler)).toHaveLength(VOCAB);
    sampler.configure({ topK: 7 });
    expect(survivors(sampler)).toEqual(naiveSurvivors(values, { topK: 7, topP: 1, minP: 0 }));
    sampler.configure({ topK: 0, topP: 0.5 });
    expect(survivors(sampler)).toEqual(naiveSurvivors(values, { topK: 0, topP: 0.5, minP: 0 }));
    sampler.configure({ topP: 1, minP: 0.3 });
    expect(survivors(sampler)).toEqual(naiveSurvivors(values, { topK: 0, topP: 1, minP: 0.3 }));
    sampler.configure({ temp: 0 });
    expect(sampler.params.greedy).toBe(true);
    expect(sampler.sample(logits.view)).toBe(argmax(values));
    sampler.configure({ temp: 0.5, topK: 1 });
    expect(sampler.params.greedy).toBe(true);
    sampler.configure({ topK: 2 });
    expect(sampler.params.greedy).toBe(false);
    expect(survivors(sampler)).toEqual(naiveSurvivors(values, { topK: 2, topP: 1, minP: 0.3 }));
  });

  it('topP 0 keeps the best token alone (Genie keeps at least one): every draw is the argmax', () => {
    const sampler = new Sampler(samplerParams({ temp: 1.5, topP: 0, seed: 9 }), VOCAB);
    expect(sampler.params.greedy).toBe(false);
    expect(survivors(sampler)).toEqual([argmax(values)]);
    expect(survivors(sampler)).toEqual(naiveSurvivors(values, { topK: 0, topP: 0, minP: 0 }));
    for (let i = 0; i < 20; i++) expect(sampler.sample(logits.view)).toBe(argmax(values));
  });

  it('the constructor checks that greedy agrees with its derivation and that every key is present', () => {
    const wrong = { ...samplerParams({ temp: 0.5 }), greedy: true };
    expect(() => new Sampler(wrong, VOCAB)).toThrow(InvalidArgumentError);
    expect(() => new Sampler(wrong, VOCAB)).toThrow(/sampler.greedy is derived \(temp <= 0 \|\| topK == 1\) and must be false for temp 0.5, topK 0; got true/);
    const { topP: _omitted, ...missing } = samplerParams();
    expect(() => new Sampler(missing as SamplerParams, VOCAB)).toThrow(/sampler.topP is required/);
    expect(() => new Sampler(samplerParams(), 0)).toThrow(/vocabSize must be a positive integer below 2\^31, got 0/);
    expect(() => new Sampler(samplerParams(), 2.5)).toThrow(InvalidArgumentError);
  });

  const invalid: [string, SamplerUpdate | Record<string, unknown>, RegExp][] = [
    ['negative temp', { temp: -0.1 }, /sampler.temp must be a finite number >= 0, got -0.1/],
    ['infinite temp', { temp: Infinity }, /sampler.temp must be a finite number >= 0, got Infinity/],
    ['fractional topK', { topK: 1.5 }, /sampler.topK must be an integer >= 0, got 1.5/],
    ['negative topK', { topK: -1 }, /sampler.topK must be an integer >= 0, got -1/],
    ['negative topP', { topP: -0.1 }, /sampler.topP must be in \[0, 1\], got -0.1/],
    ['topP above 1', { topP: 1.5 }, /sampler.topP must be in \[0, 1\], got 1.5/],
    ['minP 1', { minP: 1 }, /sampler.minP must be in \[0, 1\), got 1/],
    ['negative minP', { minP: -0.1 }, /sampler.minP must be in \[0, 1\), got -0.1/],
    ['fractional penalizeLastN', { penalizeLastN: 2.5 }, /sampler.penalizeLastN must be an integer >= 0, got 2.5/],
    ['repetitionPenalty 0', { repetitionPenalty: 0 }, /sampler.repetitionPenalty must be a finite number > 0, got 0/],
    ['NaN presencePenalty', { presencePenalty: NaN }, /sampler.presencePenalty must be a finite number, got NaN/],
    ['infinite frequencyPenalty', { frequencyPenalty: -Infinity }, /sampler.frequencyPenalty must be a finite number, got -Infinity/],
    ['negative seed', { seed: -1 }, /sampler.seed must be a uint32 \(integer in \[0, 4294967295\]\), got -1/],
    ['seed above uint32', { seed: 2 ** 32 }, /sampler.seed must be a uint32 \(integer in \[0, 4294967295\]\), got 4294967296/],
    ['unknown type', { type: 'lade' }, /sampler.type must be "basic" or "custom", got "lade"/],
    ['custom without a name', { type: 'custom' }, /sampler.callbackName is required for type "custom", got undefined/],
    ['custom with an unknown name', { type: 'custom', callbackName: 'nope' }, /sampler.callbackName "nope" is not registered \(registerSamplerCallback first\)/],
    ['greedy contradicting temp and topK', { greedy: true }, /sampler.greedy is derived \(temp <= 0 \|\| topK == 1\) and is false for temp 0.8, topK 20; got true \(set temp or topK instead\)/],
    ['greedy contradicting the update', { temp: 0, greedy: false }, /sampler.greedy is derived \(temp <= 0 \|\| topK == 1\) and is true for temp 0, topK 20; got false/],
    ['an array', [] as unknown as Record<string, unknown>, /sampler update must be an object, got an array/],
    ['a callback name for a basic sampler', { callbackName: 'x' }, /sampler.callbackName "x" applies only to type "custom"; the type is "basic"/],
    ['unknown key', { top_p: 0.5 }, /unknown sampler parameter "top_p"/],
  ];

  it.each(invalid)('%s: typed error naming the key and value; nothing changes, the RNG included', (_name, update, message) => {
    const sampler = new Sampler(samplerParams({ temp: 0.8, topK: 20, topP: 0.9, seed: 3 }), VOCAB);
    const twin = new Sampler(samplerParams({ temp: 0.8, topK: 20, topP: 0.9, seed: 3 }), VOCAB);
    sampler.sample(logits.view);
    twin.sample(logits.view);
    const before = sampler.params;
    const call = () => sampler.configure(update as SamplerUpdate);
    expect(call).toThrow(InvalidArgumentError);
    expect(call).toThrow(message);
    expect(sampler.params).toBe(before);
    for (let i = 0; i < 5; i++) expect(sampler.sample(logits.view)).toBe(twin.sample(logits.view));
  });

  it('the params read back are accepted whole (derived greedy included): nothing changes but the RNG restarts', () => {
    for (const start of [samplerParams({ temp: 0.8, topK: 20, seed: 9 }), samplerParams({ temp: 0, seed: 9 }), samplerParams({ temp: 0.5, topK: 1, seed: 9 })]) {
      const sampler = new Sampler(start, VOCAB);
      const fresh = new Sampler(start, VOCAB);
      sampler.sample(logits.view);
      const before = sampler.params;
      sampler.configure(before);
      expect(sampler.params).toEqual(before);
      // The seed key restarts the sequence: the next draws are a fresh sampler's.
      for (let i = 0; i < 5; i++) expect(sampler.sample(logits.view)).toBe(fresh.sample(logits.view));
    }
  });

  it('a sample with a view of another vocabulary size is an error; the sampler stays usable', () => {
    const sampler = new Sampler(samplerParams({ temp: 0 }), VOCAB);
    const other = makeLogits('FLOAT_32', [[1, 2, 3]]).view;
    expect(() => sampler.sample(other)).toThrow(InvalidArgumentError);
    expect(() => sampler.sample(other)).toThrow(/logits view vocab 3 does not match the sampler's vocabSize 120/);
    expect(() => sampler.survivorsInto(logits.view, new Int32Array(3))).toThrow(/survivorsInto out has length 3, needs at least vocabSize 120/);
    expect(sampler.sample(logits.view)).toBe(argmax(values));
  });
});
