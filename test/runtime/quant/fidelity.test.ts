/**
 * What quantization costs, measured on the demo model (defaults: 2 layers, hidden 64, AR 1/32, CL
 * 512): the --quant htp and --quant fp16 bundles against the float bundle of the same seed, teacher
 * forced with the float model's greedy tokens, over a short prompt, a multi-chunk prompt and two
 * turns (the scripts and bundles of bench/fidelity.ts). Targets (issue 5): per-step logits SQNR >=
 * 20 dB and top-1 agreement >= 90% on the steps where the float top-1 margin exceeds two logits
 * quantization steps; float16 near-identical.
 */
import { join } from 'node:path';
import { evaluate, norm } from 'mathjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fidelityScripts, openFidelityEngines, type FidelityEngines } from '../../../bench/fidelity.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { writeDemoBundle } from '../../../src/demo/index.js';
import { openEngine, type Engine } from '../../../src/runtime/engine/index.js';
import { logitsStep, sqnrDb, teacherForcedFidelity, type FidelityTurn } from '../../../src/runtime/quant/index.js';
import { LogitsView } from '../../../src/sampler/logits-view.js';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/tensor/fp16.js';
import { derivedConfig, tempDir, TINY } from './fixtures.js';

const root = tempDir('quant-fidelity');
let engines: FidelityEngines;
let float: Engine;
let htp: Engine;
let fp16: Engine;
let cases: Record<string, FidelityTurn[]>;

beforeAll(async () => {
  engines = await openFidelityEngines(root);
  ({ float, htp, fp16 } = engines);
  cases = await fidelityScripts();
}, 60_000);

afterAll(async () => {
  await engines?.dispose();
});

describe('teacher-forced fidelity of the quantized demo bundles', () => {
  it('uses a short, a multi-chunk (over AR 32) and a two-turn script of 64 steps each', () => {
    expect(cases.short[0].prompt.length).toBeLessThan(32);
    expect(cases['multi-chunk'][0].prompt.length).toBeGreaterThan(32);
    expect(cases['multi-turn']).toHaveLength(2);
  });

  for (const name of ['short', 'multi-chunk', 'multi-turn']) {
    it(`${name}: htp >= 20 dB per step and >= 90% top-1 agreement on decisive steps; fp16 near-identical`, async () => {
      const [h, f] = await teacherForcedFidelity(float, [htp, fp16], cases[name], engines.eos);
      for (const report of [h, f]) {
        expect(report.steps).toBe(64);
        expect(report.ties).toBe(report.steps - report.decisiveSteps);
      }
      expect(h.minSqnrDb).toBeGreaterThanOrEqual(20);
      expect(h.decisiveSteps).toBeGreaterThanOrEqual(48);
      expect(h.decisiveAgreements / h.decisiveSteps).toBeGreaterThanOrEqual(0.9);
      expect(f.minSqnrDb).toBeGreaterThanOrEqual(50);
      expect(f.decisiveAgreements).toBe(f.decisiveSteps);
      expect(f.decisiveSteps).toBeGreaterThanOrEqual(56);
    });
  }

  it('finds a model identical to another engine of the same bundle: infinite SQNR, every step agreeing', async () => {
    const tiny = await writeDemoBundle(join(root, 'tiny'), TINY);
    const [a, b] = await Promise.all([0, 1].map(async () => openEngine(await derivedConfig(tiny))));
    try {
      const [same] = await teacherForcedFidelity(a, [b], [{ prompt: [1, 2, 3], steps: 3 }, { prompt: [4], steps: 2 }], engines.eos);
      expect(same.sqnrDb).toEqual([Infinity, Infinity, Infinity, Infinity, Infinity]);
      expect([same.steps, same.agreements, same.decisiveAgreements]).toEqual([5, 5, same.decisiveSteps]);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('rejects bad scripts and engine lists before running anything', async () => {
    const bad: Array<[string, () => Promise<unknown>, string]> = [
      ['no turns', () => teacherForcedFidelity(float, [htp], [], engines.eos), 'turns must not be empty'],
      ['no candidates', () => teacherForcedFidelity(float, [], [{ prompt: [1], steps: 1 }], engines.eos), 'candidates must not be empty'],
      ['an empty prompt', () => teacherForcedFidelity(float, [htp], [{ prompt: [1], steps: 1 }, { prompt: [], steps: 1 }], engines.eos), 'turns[1].prompt is empty'],
      ['zero steps', () => teacherForcedFidelity(float, [htp], [{ prompt: [1], steps: 0 }], engines.eos), 'turns[0].steps must be a positive integer, got 0'],
      ['the reference as candidate', () => teacherForcedFidelity(float, [htp, float], [{ prompt: [1], steps: 1 }], engines.eos), 'candidates[1] is an engine already compared'],
      ['a repeated candidate', () => teacherForcedFidelity(float, [htp, htp], [{ prompt: [1], steps: 1 }], engines.eos), 'candidates[1] is an engine already compared'],
    ];
    const before = [float.nValid, htp.nValid];
    for (const [what, call, message] of bad) {
      await expect(call(), what).rejects.toThrow(InvalidArgumentError);
      await expect(call(), what).rejects.toThrow(message);
    }
    expect([float.nValid, htp.nValid]).toEqual(before);
  });
});

describe('fidelity measures', () => {
  it('sqnrDb is 10 log10(|ref|^2 / |ref - candidate|^2)', () => {
    const ref = Array.from({ length: 50 }, (_, i) => Math.sin(i) * 3);
    const cand = ref.map((x, i) => x + 0.01 * Math.cos(7 * i));
    const diff = ref.map((x, i) => x - cand[i]);
    const expected = evaluate('10 * log10(a^2 / b^2)', { a: norm(ref), b: norm(diff) }) as number;
    expect(sqnrDb(ref, cand)).toBeCloseTo(expected, 10);
    expect(sqnrDb(ref, ref)).toBe(Infinity);
    expect(() => sqnrDb([1, 2], [1])).toThrow('reference has 2 values but candidate has 1');
  });

  it('logitsStep is the encoding scale for codes and the float16 spacing next to the value for float16', () => {
    const u16 = new LogitsView(new Uint16Array(4), { dtype: 'UFIXED_POINT_16', vocab: 4, encoding: { scale: 0.003, offset: -100 } });
    expect(logitsStep(u16, 123)).toBe(0.003);
    const f16 = new LogitsView(new Uint16Array(4), { dtype: 'FLOAT_16', vocab: 4 });
    for (const x of [0.3, 1.5, -7.25, 100, 3e-6]) {
      const bits = float32ToFloat16(Math.abs(x));
      expect(logitsStep(f16, x), String(x)).toBe(float16ToFloat32(bits + 1) - float16ToFloat32(bits));
    }
    const f32 = new LogitsView(new Float32Array(4), { dtype: 'FLOAT_32', vocab: 4 });
    expect(logitsStep(f32, 1.5)).toBe(2 ** -23);
  });
});
