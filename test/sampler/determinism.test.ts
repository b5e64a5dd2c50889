import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { Sampler } from '../../src/sampler/index.js';
import { SeededRng } from '../../src/sampler/rng.js';
import { makeLogits, randomLogits, samplerParams } from './fixtures.js';
import { testRng } from './oracle.js';
import { drawSequence } from './sequence.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function scene(seed = 5) {
  const { view } = makeLogits('FLOAT_32', [randomLogits(testRng('determinism'), 300, 1.5)]);
  return { view, sampler: new Sampler(samplerParams({ seed, temp: 1, topP: 0.9 }), 300) };
}

function take(sampler: Sampler, view: ReturnType<typeof scene>['view'], n: number): number[] {
  return Array.from({ length: n }, () => sampler.sample(view));
}

describe('seeded determinism', () => {
  it('the RNG yields exactly seedrandom(String(seed)) for uint32 seeds', () => {
    const out = new Float64Array(1);
    for (const seed of [0, 1, 42, 2 ** 31, 2 ** 32 - 1]) {
      const reference = seedrandom(String(seed));
      const rng = new SeededRng(seed);
      for (let i = 0; i < 2000; i++) {
        rng.nextInto(out, 0);
        expect(out[0]).toBe(reference());
      }
    }
  });

  it('same seed and logits give the same tokens; another seed gives another sequence', () => {
    expect(drawSequence(42)).toEqual(drawSequence(42));
    expect(drawSequence(42)).not.toEqual(drawSequence(43));
  });

  it('a child process draws the same tokens', () => {
    const script = "import('./test/sampler/sequence.ts').then((m) => console.log(JSON.stringify(m.drawSequence(42))))";
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
    expect(JSON.parse(stdout)).toEqual(drawSequence(42));
  });

  it('getState/setState replays the continuation, also in another sampler', () => {
    const { view, sampler } = scene();
    take(sampler, view, 7);
    const state = sampler.getState();
    const continuation = take(sampler, view, 20);
    sampler.setState(state);
    expect(take(sampler, view, 20)).toEqual(continuation);
    const other = scene(999).sampler;
    other.setState(JSON.parse(JSON.stringify(state)));
    expect(take(other, view, 20)).toEqual(continuation);
  });

  it('reseed and configure({seed}) restart the sequence; other updates do not touch the RNG', () => {
    const { view, sampler } = scene(5);
    const first = take(sampler, view, 10);
    sampler.reseed(5);
    expect(take(sampler, view, 10)).toEqual(first);
    sampler.configure({ seed: 5 });
    const again = take(sampler, view, 5);
    expect(again).toEqual(first.slice(0, 5));
    sampler.configure({ topP: 0.9 });
    expect(take(sampler, view, 5)).toEqual(first.slice(5, 10));
  });

  it('reseed with a non-uint32 is a typed error and the sequence continues', () => {
    const { view, sampler } = scene(5);
    const reference = take(scene(5).sampler, view, 6);
    take(sampler, view, 3);
    for (const seed of [-1, 1.5, 2 ** 32]) {
      expect(() => sampler.reseed(seed)).toThrow(InvalidArgumentError);
      expect(() => sampler.reseed(seed)).toThrow(`sampler.seed must be a uint32 (integer in [0, 4294967295]), got ${seed}`);
    }
    expect(take(sampler, view, 3)).toEqual(reference.slice(3));
    expect(sampler.params.seed).toBe(5);
  });

  it('greedy draws consume no randomness', () => {
    const { view, sampler } = scene(5);
    const reference = take(scene(5).sampler, view, 5);
    sampler.configure({ temp: 0 });
    take(sampler, view, 3);
    sampler.configure({ temp: 1 });
    expect(take(sampler, view, 5)).toEqual(reference);
  });

  it('a malformed RNG state is rejected and the sequence continues untouched', () => {
    const { view, sampler } = scene(5);
    const reference = take(scene(5).sampler, view, 6);
    take(sampler, view, 3);
    const good = sampler.getState();
    const duplicate = [...good.S];
    duplicate[1] = duplicate[0];
    const bad: [unknown, RegExp][] = [
      [null, /rng state must be an object \{i, j, S\}, got null/],
      [{ ...good, i: 256 }, /rng state.i must be an integer in \[0, 255\], got 256/],
      [{ ...good, j: -1 }, /rng state.j must be an integer in \[0, 255\], got -1/],
      [{ ...good, S: good.S.slice(0, 10) }, /rng state.S must be an array of 256 entries, got length 10/],
      [{ ...good, S: duplicate }, /rng state.S must be a permutation of 0..255; entry 1 is/],
    ];
    for (const [state, message] of bad) {
      const call = () => sampler.setState(state as never);
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    }
    expect(take(sampler, view, 3)).toEqual(reference.slice(3));
  });
});
