import { all, create } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { ropeAttentionFactor, ropeInvFreq, type RopeFrequencyOptions, type RopeScaling } from '../../src/rope/index.js';
import { hfDefaultInvFreq, hfLlama3InvFreq, hfLongropeParameters } from './hf-rope.js';

const big = create(all, { number: 'BigNumber', precision: 40 });

function expectRelClose(got: ArrayLike<number>, want: readonly number[], rel: number): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let j = 0; j < want.length; j++) {
    if (!(Math.abs(got[j] - want[j]) <= rel * Math.abs(want[j]))) bad.push(`j=${j}: ${got[j]} vs ${want[j]}`);
  }
  expect(bad).toEqual([]);
}

const LLAMA_3_2 = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } as const;
const LLAMA_3_1 = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } as const;

const ROPE_DIM_PHI = 48;
const shortFactor = Array.from({ length: ROPE_DIM_PHI }, (_, j) => 1 + 0.01 * j);
const longFactor = Array.from({ length: ROPE_DIM_PHI }, (_, j) => 1 + 0.5 * j);
const LONGROPE = { type: 'longrope', factor: 32, shortFactor, longFactor, originalMaxPositionEmbeddings: 4096 } as const;

describe('ropeInvFreq', () => {
  it("Genie's 1/theta^(j/rope_dim) is HF's 1/theta^(2j/head_dim) with rope_dim = head_dim/2, bit for bit", () => {
    for (const [ropeDim, theta] of [[64, 10000], [64, 1e6], [32, 500000], [48, 10000]]) {
      expect(Array.from(ropeInvFreq({ ropeDim, theta, contextLength: 128 }))).toEqual(hfDefaultInvFreq(2 * ropeDim, theta));
    }
  });

  it('default frequencies agree with 40-digit arithmetic', () => {
    const inv = ropeInvFreq({ ropeDim: 64, theta: 1e6, contextLength: 4096 });
    for (let j = 0; j < 64; j++) {
      const exact = big.number(big.evaluate('1 / theta ^ (j / 64)', { theta: big.bignumber(1e6), j: big.bignumber(j) })) as number;
      expect(Math.abs(inv[j] - exact)).toBeLessThanOrEqual(4e-16 * inv[j]);
    }
  });

  it('linear divides every frequency by the factor (HF divides positions)', () => {
    const inv = ropeInvFreq({ ropeDim: 64, theta: 10000, contextLength: 4096, scaling: { type: 'linear', factor: 4 } });
    expectRelClose(inv, hfDefaultInvFreq(128, 10000).map((f) => f / 4), 1e-15);
  });

  for (const [name, scaling, headDim] of [['Llama 3.2', LLAMA_3_2, 64], ['Llama 3.1', LLAMA_3_1, 128]] as const) {
    it(`llama3 (${name} config) matches HF and exercises all three bands`, () => {
      const inv = ropeInvFreq({ ropeDim: headDim / 2, theta: 500000, contextLength: 4096, scaling });
      expectRelClose(inv, hfLlama3InvFreq(headDim, 500000, scaling), 1e-14);
      const base = hfDefaultInvFreq(headDim, 500000);
      const kept = base.filter((f, j) => inv[j] === f).length;
      const divided = base.filter((f, j) => Math.abs(inv[j] - f / scaling.factor) <= 1e-15 * f).length;
      expect(kept).toBeGreaterThan(0);
      expect(divided).toBeGreaterThan(0);
      expect(kept + divided).toBeLessThan(headDim / 2); // some are smoothed
    });
  }

  it('longrope uses the short factors up to the original context and the long ones beyond', () => {
    const opts = (contextLength: number): RopeFrequencyOptions => ({ ropeDim: ROPE_DIM_PHI, theta: 10000, contextLength, scaling: LONGROPE });
    for (const contextLength of [1024, 4096, 4097, 131072]) {
      const hf = hfLongropeParameters(2 * ROPE_DIM_PHI, 10000, contextLength, LONGROPE);
      expectRelClose(ropeInvFreq(opts(contextLength)), hf.invFreq, 1e-15);
      expect(ropeAttentionFactor(opts(contextLength))).toBeCloseTo(hf.attentionFactor, 15);
    }
    expect(ropeInvFreq(opts(4096))[10]).not.toBeCloseTo(ropeInvFreq(opts(4097))[10], 6);
  });

  it('attention factor is sqrt(1 + ln(factor)/ln(original)) for longrope and 1 otherwise', () => {
    const at = (scaling: RopeScaling) => ropeAttentionFactor({ ropeDim: ROPE_DIM_PHI, theta: 10000, contextLength: 8192, scaling });
    expect(at(LONGROPE)).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 15);
    expect(at({ ...LONGROPE, factor: 1 })).toBe(1);
    expect(at({ type: 'default' })).toBe(1);
    expect(at({ type: 'linear', factor: 2 })).toBe(1);
    expect(at({ ...LLAMA_3_1 })).toBe(1);
  });
});

describe('ropeInvFreq bad input', () => {
  const ok: RopeFrequencyOptions = { ropeDim: 48, theta: 10000, contextLength: 8192 };
  const cases: Array<[string, RopeFrequencyOptions, RegExp]> = [
    ['ropeDim 0', { ...ok, ropeDim: 0 }, /ropeDim must be a positive integer, got 0/],
    ['ropeDim 1.5', { ...ok, ropeDim: 1.5 }, /ropeDim must be a positive integer, got 1.5/],
    ['theta 0', { ...ok, theta: 0 }, /theta must be a finite number > 0, got 0/],
    ['theta NaN', { ...ok, theta: NaN }, /theta must be a finite number > 0, got NaN/],
    ['contextLength -1', { ...ok, contextLength: -1 }, /contextLength must be a positive integer, got -1/],
    ['unknown type', { ...ok, scaling: { type: 'yarn' } as unknown as RopeScaling }, /scaling.type must be one of default, linear, llama3, longrope, got "yarn"/],
    ['linear factor 0', { ...ok, scaling: { type: 'linear', factor: 0 } }, /scaling.factor must be a finite number > 0, got 0/],
    ['llama3 high <= low', { ...ok, scaling: { ...LLAMA_3_1, highFreqFactor: 1 } }, /scaling.highFreqFactor \(1\) must be greater than scaling.lowFreqFactor \(1\)/],
    ['llama3 lowFreqFactor -1', { ...ok, scaling: { ...LLAMA_3_1, lowFreqFactor: -1 } }, /scaling.lowFreqFactor must be a finite number > 0, got -1/],
    ['llama3 orig 0', { ...ok, scaling: { ...LLAMA_3_1, originalMaxPositionEmbeddings: 0 } }, /scaling.originalMaxPositionEmbeddings must be a positive integer, got 0/],
    ['longrope factor 0.5', { ...ok, scaling: { ...LONGROPE, factor: 0.5 } }, /scaling.factor must be a finite number >= 1 for longrope, got 0.5/],
    ['longrope short length', { ...ok, scaling: { ...LONGROPE, shortFactor: shortFactor.slice(1) } }, /scaling.shortFactor has length 47, expected ropeDim = 48/],
    ['longrope long value', { ...ok, scaling: { ...LONGROPE, longFactor: longFactor.map((f, j) => (j === 3 ? 0 : f)) } }, /scaling.longFactor\[3\] must be a finite number > 0, got 0/],
    ['longrope missing factors', { ...ok, scaling: { ...LONGROPE, longFactor: undefined as unknown as number[] } }, /scaling.longFactor must be an array of 48 numbers, got undefined/],
    ['longrope orig 1', { ...ok, scaling: { ...LONGROPE, originalMaxPositionEmbeddings: 1 } }, /scaling.originalMaxPositionEmbeddings must be >= 2 for longrope/],
  ];
  for (const [name, options, message] of cases) {
    it(`${name}: InvalidArgumentError naming the key and value`, () => {
      expect(() => ropeInvFreq(options)).toThrow(InvalidArgumentError);
      expect(() => ropeInvFreq(options)).toThrow(message);
      expect(() => ropeAttentionFactor(options)).toThrow(message);
      expect(ropeInvFreq(ok)).toHaveLength(48);
    });
  }
});
