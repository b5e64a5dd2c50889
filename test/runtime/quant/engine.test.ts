/**
 * The runtime loop over quantized IO, end to end on demo bundles: what the Engine writes into each
 * uint16/uint8/float16 input (mask, cos/sin, KV clear slots, LUT rows and their EOS padding) is
 * checked against formulas written here, and the logits path (greedy on raw codes, dequantized rows
 * for sampling and onLogits) through a Dialog.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReferenceBackend } from '../../../src/backends/reference/index.js';
import { runCommand } from '../../../src/cli/commands/run.js';
import type { CliIO } from '../../../src/cli/io.js';
import type { TensorSpec } from '../../../src/graphs/spec.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import type { Engine } from '../../../src/runtime/engine/index.js';
import type { Encoding } from '../../../src/tensor/dtype.js';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/tensor/fp16.js';
import {
  derivedConfig, oracleDequantize, specsByName, spiedEngine, tempDir, TINY, type Execution, type SpyBackend,
} from './fixtures.js';

const root = tempDir('quant-engine');
const PROMPT = [9707, 11, 1879, 0, 151644, 872];
const CL = TINY.cl;
const HEAD_DIM = TINY.hidden / TINY.heads;
const ROPE_DIM = HEAD_DIM / 2;
const THETA = 1_000_000;

let htpIds: DemoBundle;
let htpEmbeds: DemoBundle;
let fp16Embeds: DemoBundle;

beforeAll(async () => {
  htpIds = await writeDemoBundle(join(root, 'htp-ids'), { ...TINY, quant: 'htp' });
  htpEmbeds = await writeDemoBundle(join(root, 'htp-embeds'), { ...TINY, quant: 'htp', input: 'embeds' });
  fp16Embeds = await writeDemoBundle(join(root, 'fp16-embeds'), { ...TINY, quant: 'fp16', input: 'embeds' });
});

interface Step {
  /** Executions of the step's parts, in order. */
  readonly parts: Execution[];
  readonly ar: number;
  readonly nValid: number;
  readonly nNew: number;
}

/** Groups the spy's executions into steps (a step starts at a part `_1_of_N`). */
function steps(spy: SpyBackend, schedule: ReadonlyArray<[nValid: number, nNew: number]>): Step[] {
  const groups: Execution[][] = [];
  for (const e of spy.executions) {
    if (/_1_of_\d+$/.test(e.graph.name)) groups.push([]);
    groups[groups.length - 1].push(e);
  }
  expect(groups).toHaveLength(schedule.length);
  return groups.map((parts, i) => ({ parts, ar: Number(/ar(\d+)_/.exec(parts[0].graph.name)![1]), nValid: schedule[i][0], nNew: schedule[i][1] }));
}

function input(step: Step, name: string): { spec: TensorSpec; values: number[] } {
  for (const e of step.parts) {
    const spec = e.graph.inputs.find((t) => t.name === name);
    if (spec !== undefined) return { spec, values: e.tensors.get(name)! };
  }
  throw new Error(`no input ${name}`);
}

function output(step: Step, name: string): { spec: TensorSpec; values: number[] } {
  for (const e of step.parts) {
    const spec = e.graph.outputs.find((t) => t.name === name);
    if (spec !== undefined) return { spec, values: e.tensors.get(name)! };
  }
  throw new Error(`no output ${name}`);
}

/** Genie's SMART_MASK concat rule, written out: row i < nNew sees [0, nValid) and CL-AR .. CL-AR+i. */
function attends(step: Step, row: number, col: number): boolean {
  if (row >= step.nNew) return false;
  return col < step.nValid || (col >= CL - step.ar && col <= CL - step.ar + row);
}

const angle = (position: number, j: number): number => position * THETA ** (-j / ROPE_DIM);

/** Prefill PROMPT (AR-4 chunks of 4 and 2), then decode one token: three steps. */
async function runPrompt(engine: Engine): Promise<void> {
  await engine.prefill(PROMPT);
  await engine.decode(42);
}
const SCHEDULE: Array<[number, number]> = [[0, 4], [4, 2], [6, 1]];

describe('uint16 mask, cos/sin and uint8 KV through the Engine (htp bundle)', () => {
  let engine: Engine;
  let spy: SpyBackend;
  let run: Step[];

  beforeAll(async () => {
    ({ engine, spy } = await spiedEngine(htpIds));
    await runPrompt(engine);
    run = steps(spy, SCHEDULE);
  });
  afterAll(async () => engine.dispose());

  it('writes attend = 65535 and masked = 0, which the mask encoding reads as 0 and -50', () => {
    for (const step of run) {
      const { spec, values } = input(step, 'attention_mask');
      expect(spec.dtype).toBe('UFIXED_POINT_16');
      for (let r = 0; r < step.ar; r++) {
        for (let c = 0; c < CL; c++) expect(values[r * CL + c]).toBe(attends(step, r, c) ? 65535 : 0);
      }
      expect(oracleDequantize(65535, spec.encoding!)).toBe(0);
      expect(oracleDequantize(0, spec.encoding!)).toBeCloseTo(-50, 6);
    }
  });

  it('writes cos/sin rows truncated as Genie does (never above the true value, less than one step below)', () => {
    for (const step of run) {
      for (const [name, fn] of [['position_ids_cos', Math.cos], ['position_ids_sin', Math.sin]] as const) {
        const { spec, values } = input(step, name);
        const e = spec.encoding!;
        for (let r = 0; r < step.ar; r++) {
          const position = r < step.nNew ? step.nValid + r : 0;
          for (let j = 0; j < ROPE_DIM; j++) {
            const truth = fn(angle(position, j));
            const code = values[r * ROPE_DIM + j];
            expect(code).toBe(Math.min(65535, Math.max(0, Math.trunc(truth / e.scale - e.offset))));
            const error = truth - oracleDequantize(code, e);
            expect(error).toBeGreaterThanOrEqual(-1e-12);
            expect(error).toBeLessThan(e.scale);
          }
        }
      }
    }
  });

  it('keeps KV-in slots past n_valid at the clear value 128 (= 0.0) and copies KV-out codes in unchanged', () => {
    for (const layer of [0, 1]) {
      const keyOut = run.slice(0, 2).map((step) => output(step, `past_key_${layer}_out`));
      const valueOut = run.slice(0, 2).map((step) => output(step, `past_value_${layer}_out`));
      for (const step of run) {
        const key = input(step, `past_key_${layer}_in`);
        const value = input(step, `past_value_${layer}_in`);
        expect(key.spec.encoding).toEqual({ scale: key.spec.encoding!.scale, offset: -128 });
        expect(oracleDequantize(128, key.spec.encoding!)).toBe(0);
        const past = CL - step.ar;
        // key [kvHeads=1, headDim, past], value [kvHeads=1, past, headDim]
        for (let slot = 0; slot < past; slot++) {
          for (let d = 0; d < HEAD_DIM; d++) {
            const k = key.values[d * past + slot];
            const v = value.values[slot * HEAD_DIM + d];
            if (slot >= step.nValid) {
              expect([k, v]).toEqual([128, 128]);
              continue;
            }
            // Slot s came from step 0 (rows 0..3, AR 4) or step 1 (rows 0..1, AR 4).
            const [from, row] = slot < 4 ? [0, slot] : [1, slot - 4];
            expect(k).toBe(keyOut[from].values[d * 4 + row]);
            expect(v).toBe(valueOut[from].values[row * HEAD_DIM + d]);
          }
        }
      }
    }
  });

  it('clears rewound slots back to 128', async () => {
    engine.rewind(2);
    spy.executions.length = 0;
    await engine.decode(7);
    const [step] = steps(spy, [[2, 1]]);
    const key = input(step, 'past_key_0_in');
    const past = CL - 1;
    for (let slot = 2; slot < past; slot++) expect(key.values[slot]).toBe(128);
    expect(key.values.slice(0, 2).some((k) => k !== 128)).toBe(true);
  });

  it('dequantizes the logits row of the last real token from its uint16 codes', async () => {
    engine.reset();
    spy.executions.length = 0;
    const view = (await engine.prefill(PROMPT.slice(0, 3)))!;
    const logits = output(steps(spy, [[0, 3]])[0], 'logits');
    const vocab = engine.vocabSize;
    const row = new Float32Array(vocab);
    view.dequantizeInto(row);
    for (let v = 0; v < vocab; v += 997) expect(row[v]).toBe(Math.fround(oracleDequantize(logits.values[2 * vocab + v], logits.spec.encoding!)));
  });
});

/** `q_in = round(s_l/s_i * q_l + (s_l/s_i * o_l - o_i))`, half away from zero, clamped to uint16. */
function oracleRequantize(q: number, lut: Encoding, target: Encoding): number {
  const ratio = lut.scale / target.scale;
  const y = ratio * q + (ratio * lut.offset - target.offset);
  return Math.min(65535, Math.max(0, Math.sign(y) * Math.round(Math.abs(y))));
}

describe('LUT rows in the embedding input (embeds bundles)', () => {
  it('requantizes uint16 LUT rows into input_embeds\' own encoding, padding with the EOS row', async () => {
    const { engine, spy, config } = await spiedEngine(htpEmbeds);
    try {
      const lutEncoding = config.embedding!.quantParam!;
      const lut = new Uint16Array(new Uint8Array(readFileSync(config.embedding!.lutPath!)).buffer);
      await engine.prefill(PROMPT);
      const [, second] = steps(spy, [[0, 4], [4, 2]]);
      const { spec, values } = input(second, 'input_embeds');
      expect(config.embedding!.datatype).toBe('ufixed16');
      expect(spec.dtype).toBe('UFIXED_POINT_16');
      expect(spec.encoding).not.toEqual(lutEncoding);
      const eos = config.primaryEos;
      const rows = [PROMPT[4], PROMPT[5], eos, eos];
      rows.forEach((token, r) => {
        for (let i = 0; i < TINY.hidden; i++) {
          expect(values[r * TINY.hidden + i]).toBe(oracleRequantize(lut[token * TINY.hidden + i], lutEncoding, spec.encoding!));
        }
      });
    } finally {
      await engine.dispose();
    }
  });

  it('converts float32 LUT rows to float16 for a float16 input, and writes float16 mask, cos/sin and KV', async () => {
    const { engine, spy, config } = await spiedEngine(fp16Embeds);
    try {
      const lut = new Float32Array(new Uint8Array(readFileSync(config.embedding!.lutPath!)).buffer);
      await engine.prefill(PROMPT.slice(0, 2));
      const [step] = steps(spy, [[0, 2]]);
      const embeds = input(step, 'input_embeds');
      expect(embeds.spec.dtype).toBe('FLOAT_16');
      [PROMPT[0], PROMPT[1], config.primaryEos, config.primaryEos].forEach((token, r) => {
        for (let i = 0; i < TINY.hidden; i++) expect(embeds.values[r * TINY.hidden + i]).toBe(float32ToFloat16(lut[token * TINY.hidden + i]));
      });
      const mask = input(step, 'attention_mask').values;
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < CL; c++) expect(float16ToFloat32(mask[r * CL + c])).toBe(attends(step, r, c) ? 0 : float16ToFloat32(float32ToFloat16(-1000)));
      }
      const cos = input(step, 'position_ids_cos').values;
      expect(cos.map(float16ToFloat32)).toEqual(
        Array.from({ length: 4 * ROPE_DIM }, (_, k) => float16ToFloat32(float32ToFloat16(Math.cos(angle(k < 2 * ROPE_DIM ? (k / ROPE_DIM) | 0 : 0, k % ROPE_DIM))))),
      );
      expect(new Set(input(step, 'past_key_0_in').values)).toEqual(new Set([0]));
    } finally {
      await engine.dispose();
    }
  });
});

describe('greedy decoding and onLogits on uint16 logits (Dialog)', () => {
  it('picks the lowest-index maximum of the raw codes, and reports rows that are exactly dequantized codes', async () => {
    for (const bundle of [htpIds, htpEmbeds]) {
      await using dialog = await Dialog.create(bundle.configPath);
      dialog.configureSampler({ temp: 0 });
      const e = (await specsOf(bundle)).get('logits')!.encoding!;
      const tokens: number[] = [];
      const generator = dialog.tokenQuery(PROMPT, {
        maxTokens: 6,
        onLogits: (row, token) => {
          let best = 0;
          let offGrid = 0;
          for (let v = 0; v < row.length; v++) {
            const code = Math.round(row[v] / e.scale - e.offset);
            if (row[v] !== Math.fround(oracleDequantize(code, e))) offGrid++;
            if (row[v] > row[best]) best = v;
          }
          expect(offGrid).toBe(0);
          expect(token).toBe(best);
          tokens.push(token);
        },
      });
      for await (const _ of generator);
      expect(tokens.length).toBeGreaterThan(1);
    }
  });
});

describe('genie-ts run --dump-logits on a uint16-logits bundle', () => {
  it('writes one dequantized row per sampled token, each on the logits grid, whose argmax is the greedy token', async () => {
    const tokens = join(root, 'prompt.tok');
    const dump = join(root, 'logits.bin');
    writeFileSync(tokens, PROMPT.slice(0, 4).join(' '));
    let stdout = '';
    const io: CliIO = { stdout: (text) => void (stdout += text), stderr: () => {}, isTTY: false };
    const code = await runCommand(['-c', htpIds.configPath, '-tok', tokens, '-n', '3', '--temp', '0', '--json', '--dump-logits', dump], io);
    expect(code).toBe(0);
    const generated: number[] = JSON.parse(stdout).generatedTokens;
    const e = (await specsOf(htpIds)).get('logits')!.encoding!;
    const rows = new Float32Array(new Uint8Array(readFileSync(dump)).buffer);
    const vocab = 151936;
    expect(rows.length).toBe(generated.length * vocab);
    generated.forEach((token, r) => {
      let best = 0;
      let offGrid = 0;
      for (let v = 0; v < vocab; v++) {
        const x = rows[r * vocab + v];
        if (x !== Math.fround(oracleDequantize(Math.round(x / e.scale - e.offset), e))) offGrid++;
        if (x > rows[r * vocab + best]) best = v;
      }
      expect([offGrid, best]).toEqual([0, token]);
    });
  });
});

describe('sampling on uint16 logits (Dialog, the demo config\'s temp 0.8 / top-k 40 / top-p 0.95)', () => {
  it('draws every token from the 40 best of its dequantized row, reproducibly for the seed', async () => {
    const draw = async (): Promise<number[]> => {
      await using dialog = await Dialog.create(htpIds.configPath);
      const tokens: number[] = [];
      const generator = dialog.tokenQuery(PROMPT, {
        maxTokens: 5,
        onLogits: (row, token) => {
          let above = 0;
          for (let v = 0; v < row.length; v++) if (row[v] > row[token]) above++;
          expect(above).toBeLessThan(40);
          tokens.push(token);
        },
      });
      for await (const _ of generator);
      return tokens;
    };
    const first = await draw();
    expect(first.length).toBeGreaterThan(1);
    expect(await draw()).toEqual(first);
  });
});

async function specsOf(bundle: DemoBundle): Promise<Map<string, TensorSpec>> {
  const backend = await openReferenceBackend((await derivedConfig(bundle)).ctxBins);
  const specs = specsByName(backend.graphs);
  await backend.dispose();
  return specs;
}
