import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  ContextLimitError, discoverModelLayout, ExecutionPlanner, type ModelLayout, type PlanStep,
} from '../../src/graphs/index.js';
import { bundle, type BundleOptions } from './fixtures.js';

const layoutOf = (opts: BundleOptions): ModelLayout => discoverModelLayout(bundle({ splits: 2, layers: 2, ...opts }).graphs);
const plannerOf = (opts: BundleOptions): ExecutionPlanner => new ExecutionPlanner(layoutOf(opts));
const brief = (steps: readonly PlanStep[]) =>
  steps.map((s) => ({ variant: s.variant.id, nPast: s.nPast, nValid: s.nValid, nProcess: s.nProcess, start: s.start }));

describe('ExecutionPlanner: Genie strategy', () => {
  const planner = plannerOf({ ars: [1, 128], cls: [4096] });

  it('prefills 300 tokens with AR {1,128} as 128 + 128 + 44', () => {
    expect(brief(planner.plan(0, 300))).toEqual([
      { variant: 'ar128_cl4096', nPast: 0, nValid: 0, nProcess: 128, start: 0 },
      { variant: 'ar128_cl4096', nPast: 128, nValid: 128, nProcess: 128, start: 128 },
      { variant: 'ar128_cl4096', nPast: 256, nValid: 256, nProcess: 44, start: 256 },
    ]);
  });

  it('decodes on AR-1', () => {
    expect(brief(planner.plan(300, 1))).toEqual([{ variant: 'ar1_cl4096', nPast: 300, nValid: 300, nProcess: 1, start: 0 }]);
    expect(planner.decodeVariant(300).id).toBe('ar1_cl4096');
  });

  it('decodes on AR-32 with 1 valid token when only {32,128} exist', () => {
    const p = plannerOf({ ars: [32, 128] });
    expect(brief(p.plan(300, 1))).toEqual([{ variant: 'ar32_cl4096', nPast: 300, nValid: 300, nProcess: 1, start: 0 }]);
    expect(p.decodeVariant(300).id).toBe('ar32_cl4096');
    expect(brief(p.plan(0, 20))).toEqual([{ variant: 'ar32_cl4096', nPast: 0, nValid: 0, nProcess: 20, start: 0 }]);
  });

  it('keeps the chosen AR for the whole query (130 tokens with {1,32,128}: 128 + 2 on AR-128)', () => {
    const p = plannerOf({ ars: [1, 32, 128] });
    expect(brief(p.plan(0, 130)).map((s) => [s.variant, s.nProcess])).toEqual([['ar128_cl4096', 128], ['ar128_cl4096', 2]]);
    expect(brief(p.plan(0, 100)).map((s) => [s.variant, s.nProcess])).toEqual([['ar128_cl4096', 100]]);
    expect(brief(p.plan(0, 20)).map((s) => [s.variant, s.nProcess])).toEqual([['ar32_cl4096', 20]]);
  });

  it('bumps to a larger CL mid-way when the next chunk no longer fits KV-in (concat: CL - AR)', () => {
    const p = plannerOf({ ars: [1, 128], cls: [1024, 2048] });
    // CL 1024, AR 128: KV-in holds 896; 700 + 128 fits, 828 + 128 does not.
    expect(brief(p.plan(700, 300))).toEqual([
      { variant: 'ar128_cl1024', nPast: 700, nValid: 700, nProcess: 128, start: 0 },
      { variant: 'ar128_cl2048', nPast: 828, nValid: 828, nProcess: 128, start: 128 },
      { variant: 'ar128_cl2048', nPast: 956, nValid: 956, nProcess: 44, start: 256 },
    ]);
    // Starts at the smallest CL >= nValid; a short query that fits stays there.
    expect(brief(p.plan(500, 300)).map((s) => s.variant)).toEqual(['ar128_cl1024', 'ar128_cl1024', 'ar128_cl1024']);
    expect(brief(p.plan(1500, 10)).map((s) => s.variant)).toEqual(['ar128_cl2048']);
    // Decode moves up once KV-in of AR-1 at CL 1024 (1023 entries) is full.
    expect(p.decodeVariant(1022).id).toBe('ar1_cl1024');
    expect(p.decodeVariant(1023).id).toBe('ar1_cl2048');
  });

  it('appends a final logits step when the chunk variant is prefill-only', () => {
    const p = plannerOf({ ars: [1, 128], prefillOnlyArs: [128] });
    expect(brief(p.plan(0, 300))).toEqual([
      { variant: 'ar128_cl4096', nPast: 0, nValid: 0, nProcess: 128, start: 0 },
      { variant: 'ar128_cl4096', nPast: 128, nValid: 128, nProcess: 128, start: 128 },
      { variant: 'ar128_cl4096', nPast: 256, nValid: 256, nProcess: 43, start: 256 },
      { variant: 'ar1_cl4096', nPast: 299, nValid: 299, nProcess: 1, start: 299 },
    ]);
    expect(brief(p.plan(0, 129)).map((s) => [s.variant, s.nProcess])).toEqual([['ar128_cl4096', 128], ['ar1_cl4096', 1]]);
  });

  it('falls back to a smaller AR when the preferred one no longer fits the largest CL', () => {
    const steps = planner.plan(3900, 150);
    expect(steps).toHaveLength(150);
    expect(new Set(steps.map((s) => s.variant.id))).toEqual(new Set(['ar1_cl4096']));
  });

  it('uses the whole CL in scatter models (KV-in past dim == CL)', () => {
    const p = plannerOf({ ars: [1, 128], mode: 'scatter' });
    expect(brief(p.plan(4000, 96))).toEqual([{ variant: 'ar128_cl4096', nPast: 4000, nValid: 4000, nProcess: 96, start: 0 }]);
  });

  it('numbers positions from nPast when it differs from nValid', () => {
    expect(brief(planner.plan(10, 130, 90)).map((s) => [s.nPast, s.nValid])).toEqual([[90, 10], [218, 138]]);
  });
});

describe('ExecutionPlanner: refusals', () => {
  it('throws ContextLimitError when nValid + nTokens exceeds the largest CL, and stays usable', () => {
    const p = plannerOf({ ars: [1, 128], cls: [2048, 4096] });
    expect(() => p.plan(4000, 97)).toThrow(ContextLimitError);
    expect(() => p.plan(4000, 97)).toThrow('nValid + nTokens = 4000 + 97 = 4097 exceeds the largest context length in the binaries (CL 4096)');
    expect(() => p.decodeVariant(4096)).toThrow(ContextLimitError);
    expect(() => p.decodeVariant(4096)).toThrow(/4096 \+ 1 = 4097 exceeds/);
    expect(brief(p.plan(0, 300)).map((s) => s.nProcess)).toEqual([128, 128, 44]);
  });

  it('throws ContextLimitError when no variant\'s KV-in can take the tokens', () => {
    const p = plannerOf({ ars: [32, 128] });
    // 4080 + 10 <= 4096, but AR-32 keeps only CL - 32 = 4064 entries in KV-in.
    expect(() => p.plan(4080, 10)).toThrow(ContextLimitError);
    expect(() => p.plan(4080, 10)).toThrow(/no variant can take 10 more token\(s\) after 4080 cached entries/);
    expect(() => p.decodeVariant(4064)).toThrow(/no variant can take 1 more token\(s\) after 4064 cached entries/);
    expect(p.decodeVariant(4063).id).toBe('ar32_cl4096');
  });

  it('rejects bad counts with InvalidArgumentError naming the argument, and stays usable', () => {
    const p = plannerOf({});
    const cases: [() => unknown, RegExp][] = [
      [() => p.plan(-1, 5), /nValid must be an integer >= 0, got -1/],
      [() => p.plan(1.5, 5), /nValid must be an integer >= 0, got 1.5/],
      [() => p.plan(0, 0), /nTokens must be an integer >= 1, got 0/],
      [() => p.plan(0, Number.NaN), /nTokens must be an integer >= 1, got NaN/],
      [() => p.plan(0, 5, -3), /nPast must be an integer >= 0, got -3/],
      [() => p.decodeVariant(-2), /nValid must be an integer >= 0, got -2/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    }
    expect(brief(p.plan(0, 300)).map((s) => s.nProcess)).toEqual([128, 128, 44]);
  });

  it('rejects a layout without variants', () => {
    expect(() => new ExecutionPlanner({ variants: [] })).toThrow(InvalidArgumentError);
    expect(() => new ExecutionPlanner({ variants: [] })).toThrow(/layout.variants must list at least one variant/);
  });
});

describe('ExecutionPlanner: invariants over random queries', () => {
  const layouts: [string, BundleOptions][] = [
    ['concat {1,128} CL 4096', { ars: [1, 128] }],
    ['concat {32,128} CL 4096', { ars: [32, 128] }],
    ['concat {1,32,128} CL {1024,2048,4096}', { ars: [1, 32, 128], cls: [1024, 2048, 4096] }],
    ['prefill-only 128 {1,128} CL {1024,4096}', { ars: [1, 128], cls: [1024, 4096], prefillOnlyArs: [128] }],
    ['scatter {1,64} CL {512,1024}', { ars: [1, 64], cls: [512, 1024], mode: 'scatter' }],
  ];

  for (const [label, opts] of layouts) {
    it(label, () => {
      const layout = layoutOf(opts);
      const planner = new ExecutionPlanner({ variants: [...layout.variants].reverse() });
      const maxPast = Math.max(...layout.variants.map((v) => v.pastDim));
      const maxLogitsPast = Math.max(...layout.variants.filter((v) => v.hasLogits).map((v) => v.pastDim));
      const rng = seedrandom(label);
      const max = layout.maxContextLength;
      for (let trial = 0; trial < 400; trial++) {
        const nValid = Math.floor(rng() * max);
        const nTokens = 1 + Math.floor(rng() * (trial % 2 === 0 ? 8 : max));
        const nPast = nValid + Math.floor(rng() * 3);
        const total = nValid + nTokens;
        // Feasible iff the last token's KV fits some variant and the last token some logits variant.
        const feasible = total <= maxPast && total <= maxLogitsPast;
        if (!feasible) {
          expect(() => planner.plan(nValid, nTokens, nPast)).toThrow(ContextLimitError);
          continue;
        }
        const steps = planner.plan(nValid, nTokens, nPast);
        let start = 0;
        let cl = 0;
        for (const s of steps) {
          expect(s.start).toBe(start);
          expect(s.nValid).toBe(nValid + start);
          expect(s.nPast).toBe(nPast + start);
          expect(s.nProcess).toBeGreaterThanOrEqual(1);
          expect(s.nProcess).toBeLessThanOrEqual(s.variant.ar);
          expect(s.nValid + s.nProcess).toBeLessThanOrEqual(s.variant.pastDim);
          expect(s.variant.cl).toBeGreaterThanOrEqual(cl);
          // Bump only when needed: the same AR at any smaller CL (not below the previous step's) would not fit.
          for (const v of layout.variants) {
            if (v.ar === s.variant.ar && v.cl < s.variant.cl && v.cl >= Math.max(cl, nValid)) {
              expect(s.nValid + s.nProcess).toBeGreaterThan(v.pastDim);
            }
          }
          cl = s.variant.cl;
          start += s.nProcess;
        }
        expect(start).toBe(nTokens);
        expect(steps.at(-1)!.variant.hasLogits).toBe(true);
      }
    });
  }

  it('decodeVariant(n) (and decodeVariantIfAny(n)) is the variant of plan(n, 1) for every n', () => {
    for (const [, opts] of layouts) {
      const layout = layoutOf(opts);
      const planner = new ExecutionPlanner(layout);
      for (let n = 0; n <= layout.maxContextLength; n++) {
        let planned: string | undefined;
        try {
          planned = planner.plan(n, 1).at(-1)!.variant.id;
        } catch (error) {
          expect(error).toBeInstanceOf(ContextLimitError);
          expect(() => planner.decodeVariant(n)).toThrow(ContextLimitError);
          expect(planner.decodeVariantIfAny(n)).toBeUndefined();
          continue;
        }
        expect(planner.decodeVariant(n).id).toBe(planned);
        expect(planner.decodeVariantIfAny(n)?.id).toBe(planned);
      }
      // Where decodeVariant rejects the argument, the engine's look ahead gets no variant.
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(planner.decodeVariantIfAny(bad)).toBeUndefined();
    }
  });
});
