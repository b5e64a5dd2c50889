/**
 * Calibration and the encodings derived from it: ranges recorded from a float model's run equal the
 * min/max of every IO value the graphs saw (a spy's snapshots), and each encoding has the properties
 * its policy promises (0.0 exact, range covered, KV symmetric and shared by _in/_out, fixed mask and
 * cos/sin ranges).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendDisposedError, openReferenceBackend, splitQwen2Checkpoint } from '../../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { EmbeddingTable } from '../../../src/runtime/embeddings/index.js';
import { Engine, type EngineOptions } from '../../../src/runtime/engine/index.js';
import {
  calibrateIoRanges, DEFAULT_CALIBRATION_MARGIN, float16IoTypes, htpIoTypes, MASK_FLOAT_RANGE, rangeEncoding, symmetricEncoding,
  TensorRanges,
} from '../../../src/runtime/quant/index.js';
import { writeParts } from '../../backends/reference/fixtures.js';
import { randomWeights, tinyConfig } from '../../backends/reference/qwen2-oracle.js';
import { oracleDequantize, SpyBackend, tempDir } from './fixtures.js';

const dir = tempDir('quant-calibration');
const config = tinyConfig({ numHiddenLayers: 2, vocabSize: 300 });
const weights = randomWeights(config, 'calibration');
const CL = 24;
const OPTIONS: EngineOptions = { contextSize: CL, padToken: 0, eosToken: 1, rope: { theta: config.ropeTheta, scaling: { type: 'default' } } };
const PROMPTS = [[3, 14, 15, 92, 65, 35, 89, 79, 32], [2, 71]];
const DECODE = 4;

async function floatBackend(name: string, inputKind: 'ids' | 'embeds' = 'ids', splits = 2) {
  const parts = splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: CL, splits, inputKind, embeddingPart: inputKind === 'ids' && splits === 3 });
  mkdirSync(join(dir, name), { recursive: true });
  return openReferenceBackend(await writeParts(join(dir, name), 'm', parts));
}

describe('calibrateIoRanges', () => {
  it('records the min/max of every float IO tensor over every execution of the run', async () => {
    const ranges = await calibrateIoRanges(await floatBackend('cal'), OPTIONS, { prompts: PROMPTS, decodeSteps: DECODE });

    // The same run, snapshotting every execution's IO.
    const spy = new SpyBackend(await floatBackend('spy'));
    const engine = Engine.create(spy, OPTIONS);
    const row = new Float32Array(engine.vocabSize);
    for (const prompt of PROMPTS) {
      engine.reset();
      let view = (await engine.prefill(prompt))!;
      for (let s = 0; s < DECODE; s++) view = await engine.decode(view.dequantizeInto(row));
    }
    await engine.dispose();
    const expected = new Map<string, { min: number; max: number }>();
    for (const e of spy.executions) {
      for (const t of [...e.graph.inputs, ...e.graph.outputs]) {
        if (t.dtype !== 'FLOAT_32') continue;
        const values = e.tensors.get(t.name)!;
        const r = expected.get(t.name) ?? { min: Infinity, max: -Infinity };
        for (const x of values) {
          r.min = Math.min(r.min, x);
          r.max = Math.max(r.max, x);
        }
        expected.set(t.name, r);
      }
    }
    expect(new Set(ranges.names())).toEqual(new Set(expected.keys()));
    for (const [name, r] of expected) expect(ranges.get(name), name).toEqual(r);
    expect(ranges.get('attention_mask')).toEqual({ min: -1000, max: 0 });
    expect(ranges.get('input_ids')).toBeUndefined();
  });

  it('adds the whole embedding table to the tensors fed with raw embedding rows', async () => {
    const table = weights.get('model.embed_tokens.weight')!.data;
    const [lo, hi] = [Math.min(...table), Math.max(...table)];
    const embeds = await calibrateIoRanges(await floatBackend('cal-embeds', 'embeds'), {
      ...OPTIONS,
      embeddings: EmbeddingTable.fromRows(
        { nVocab: config.vocabSize, size: config.hiddenSize, dtype: 'FLOAT_32' }, table,
      ),
    }, { prompts: PROMPTS, decodeSteps: 1, embeddingTable: table });
    expect(embeds.get('input_embeds')).toEqual({ min: lo, max: hi });
    const gather = await calibrateIoRanges(await floatBackend('cal-gather', 'ids', 3), OPTIONS, { prompts: PROMPTS, decodeSteps: 1, embeddingTable: table });
    expect(gather.get('_model_embed_tokens_Gather_Gather_output_0')).toEqual({ min: lo, max: hi });
  });

  it('stops decoding a prompt when the context is full, and goes on with the next prompt', async () => {
    const spy = new SpyBackend(await floatBackend('full'));
    const ranges = await calibrateIoRanges(spy, OPTIONS, { prompts: [[1, 2, 3], [4]], decodeSteps: 100 });
    // Concat AR-1 holds CL - 1 = 23 entries: 3 + 20 decodes, then 1 + 22; each step runs 2 parts.
    const steps = spy.executions.filter((e) => e.graph.name.endsWith('_1_of_2')).map((e) => e.graph.name);
    expect(steps).toEqual(['prompt_ar4_cl24_1_of_2', ...Array(20).fill('token_ar1_cl24_1_of_2'), 'token_ar1_cl24_1_of_2', ...Array(22).fill('token_ar1_cl24_1_of_2')]);
    expect(ranges.get('logits')).toBeDefined();
  });

  it('rejects a bad run before executing anything, and disposes the backend either way', async () => {
    const cases: Array<[string, Parameters<typeof calibrateIoRanges>[2], string]> = [
      ['no prompts', { prompts: [], decodeSteps: 1 }, 'calibration prompts must not be empty'],
      ['an empty prompt', { prompts: [[1], []], decodeSteps: 1 }, 'calibration prompts[1] has 0 tokens, expected 1..24 (the context size)'],
      ['a long prompt', { prompts: [Array(25).fill(1)], decodeSteps: 1 }, 'calibration prompts[0] has 25 tokens, expected 1..24 (the context size)'],
      ['negative steps', { prompts: [[1]], decodeSteps: -1 }, 'decodeSteps must be a non-negative integer, got -1'],
    ];
    for (const [what, run, message] of cases) {
      const backend = await floatBackend(`bad-${what.replace(/\W/g, '')}`);
      await expect(calibrateIoRanges(backend, OPTIONS, run), what).rejects.toThrow(InvalidArgumentError);
      expect(() => backend.allocate(1)).toThrow(BackendDisposedError);
      const again = await floatBackend(`bad2-${what.replace(/\W/g, '')}`);
      await expect(calibrateIoRanges(again, OPTIONS, run)).rejects.toThrow(message);
    }
  });

  it('needs a float32 model', async () => {
    const parts = splitQwen2Checkpoint({
      config, weights, arSet: [1, 4], cl: CL, splits: 2, inputKind: 'ids', tensorTypes: { logits: { dtype: 'FLOAT_16' } },
    });
    mkdirSync(join(dir, 'fp16'), { recursive: true });
    const backend = await openReferenceBackend(await writeParts(join(dir, 'fp16'), 'm', parts));
    await expect(calibrateIoRanges(backend, OPTIONS, { prompts: [[1]], decodeSteps: 0 })).rejects.toThrow(
      'calibration needs a float32 model: tensor "logits" of graph "token_ar1_cl24_2_of_2" is FLOAT_16',
    );
  });
});

describe('TensorRanges', () => {
  it('widens per name and rejects a non-finite value without recording anything', () => {
    const ranges = new TensorRanges();
    ranges.observe('a', [1, -2, 3]);
    ranges.observe('a', [5, 0, -9], 2);
    ranges.observe('b', new Float32Array([0.5]));
    expect(() => ranges.observe('a', [100, NaN])).toThrow(InvalidArgumentError);
    expect(() => ranges.observe('a', [100, Infinity])).toThrow('tensor "a"[1] is Infinity: a calibration run must stay finite');
    expect(() => ranges.observe('a', [1], 2)).toThrow('count must be an integer in [0, 1], got 2');
    expect(ranges.get('a')).toEqual({ min: -2, max: 5 });
    expect(ranges.names()).toEqual(['a', 'b']);
  });
});

describe('encodings', () => {
  const covers = (e: { scale: number; offset: number }, bits: number, lo: number, hi: number): void => {
    expect(Number.isInteger(e.offset)).toBe(true);
    expect(oracleDequantize(-e.offset, e)).toBe(0);
    expect(oracleDequantize(0, e)).toBeLessThanOrEqual(lo + e.scale / 2);
    expect(oracleDequantize(2 ** bits - 1, e)).toBeGreaterThanOrEqual(hi - e.scale / 2);
    expect(e.scale).toBe(Math.fround((hi - lo) / (2 ** bits - 1)));
  };

  it('rangeEncoding covers [min, max] extended to 0, with 0.0 on a code and a float32 scale', () => {
    covers(rangeEncoding({ min: -3.3, max: 7.1 }, 'UFIXED_POINT_16'), 16, -3.3, 7.1);
    covers(rangeEncoding({ min: -0.2, max: 0.9 }, 'UFIXED_POINT_8'), 8, -0.2, 0.9);
    covers(rangeEncoding({ min: 2, max: 5 }, 'UFIXED_POINT_16'), 16, 0, 5);
    covers(rangeEncoding({ min: -5, max: -2 }, 'UFIXED_POINT_16'), 16, -5, 0);
    expect(rangeEncoding({ min: 0, max: 0 }, 'UFIXED_POINT_16')).toEqual({ scale: Math.fround(1 / 65535), offset: 0 });
  });

  it('the mask encoding reads code 65535 as 0 and code 0 as -50; cos/sin cover [-1, 1]', () => {
    const mask = rangeEncoding(MASK_FLOAT_RANGE, 'UFIXED_POINT_16');
    expect(mask.offset).toBe(-65535);
    expect(oracleDequantize(65535, mask)).toBe(0);
    expect(oracleDequantize(0, mask)).toBeCloseTo(-50, 6);
  });

  it('symmetricEncoding puts 0.0 on code 128 and +-maxAbs on codes 255 and 1', () => {
    const e = symmetricEncoding(4.2, 'UFIXED_POINT_8');
    expect(e.offset).toBe(-128);
    expect(oracleDequantize(128, e)).toBe(0);
    expect(e.scale).toBe(Math.fround(4.2 / 127));
    expect(oracleDequantize(255, e)).toBeCloseTo(4.2, 6);
    expect(oracleDequantize(1, e)).toBeCloseTo(-4.2, 6);
  });

  it('htpIoTypes: KV uint8 shared by _in/_out, fixed mask and cos/sin, uint16 elsewhere from the range plus the margin', async () => {
    const backend = await floatBackend('types');
    const graphs = backend.graphs;
    const ranges = await calibrateIoRanges(backend, OPTIONS, { prompts: PROMPTS, decodeSteps: DECODE });
    const types = htpIoTypes(graphs, ranges);
    const m = DEFAULT_CALIBRATION_MARGIN;
    expect(types.input_ids).toBeUndefined();
    expect(types.attention_mask).toEqual({ dtype: 'UFIXED_POINT_16', encoding: rangeEncoding(MASK_FLOAT_RANGE, 'UFIXED_POINT_16') });
    for (const name of ['position_ids_cos', 'position_ids_sin']) {
      expect(types[name]).toEqual({ dtype: 'UFIXED_POINT_16', encoding: rangeEncoding({ min: -1, max: 1 }, 'UFIXED_POINT_16') });
    }
    for (const region of ['past_key_0', 'past_value_0', 'past_key_1', 'past_value_1']) {
      const inRange = ranges.get(`${region}_in`)!;
      const outRange = ranges.get(`${region}_out`)!;
      const maxAbs = Math.max(-inRange.min, inRange.max, -outRange.min, outRange.max);
      expect(types[`${region}_in`]).toEqual(types[`${region}_out`]);
      expect(types[`${region}_in`]).toEqual({ dtype: 'UFIXED_POINT_8', encoding: { scale: Math.fround((maxAbs * (1 + m)) / 127), offset: -128 } });
    }
    for (const name of ['logits', '_model_layers_0_Add_1_output_0']) {
      const { min, max } = ranges.get(name)!;
      const e = types[name].encoding!;
      expect(types[name].dtype).toBe('UFIXED_POINT_16');
      covers(e, 16, min - m * (max - min), max + m * (max - min));
    }
    const tight = htpIoTypes(graphs, ranges, { margin: 0 }).logits.encoding!;
    covers(tight, 16, ranges.get('logits')!.min, ranges.get('logits')!.max);

    expect(() => htpIoTypes(graphs, new TensorRanges())).toThrow(InvalidArgumentError);
    expect(() => htpIoTypes(graphs, new TensorRanges())).toThrow(/tensor "[^"]+" has no calibrated range \(the calibration never ran it\)/);
    expect(() => htpIoTypes(graphs, ranges, { margin: -0.1 })).toThrow('margin must be a finite number >= 0, got -0.1');

    const fp16 = float16IoTypes(graphs);
    expect(Object.keys(fp16).sort()).toEqual(Object.keys(types).sort());
    for (const type of Object.values(fp16)) expect(type).toEqual({ dtype: 'FLOAT_16' });
  });
});
