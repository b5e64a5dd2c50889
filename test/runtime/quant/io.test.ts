/**
 * The reference executor's quantized and float16 IO, graph by graph: a graph whose IO is fixed point
 * or float16 must behave exactly like the float32 graph fed the dequantized inputs, with its outputs
 * quantized (round half away from zero, clamped) or rounded to float16. Oracles: the float32 graph of
 * the same weights, and quantization formulas written in the test.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { openReferenceBackend, splitQwen2Checkpoint, type Qwen2Config } from '../../../src/backends/reference/index.js';
import type { TensorType } from '../../../src/backends/reference/split.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import type { FloatTensor } from '../../../src/formats/index.js';
import type { TensorSpec } from '../../../src/graphs/spec.js';
import { Engine } from '../../../src/runtime/engine/index.js';
import { calibrateIoRanges, htpIoTypes, MASK_FLOAT_RANGE, rangeEncoding, symmetricEncoding } from '../../../src/runtime/quant/index.js';
import type { Encoding } from '../../../src/tensor/dtype.js';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/tensor/fp16.js';
import { writeParts } from '../../backends/reference/fixtures.js';
import { randomWeights, tinyConfig } from '../../backends/reference/qwen2-oracle.js';
import seedrandom from 'seedrandom';
import { elements, oracleDequantize, oracleQuantize, tempDir } from './fixtures.js';

const dir = tempDir('quant-io');
const config: Qwen2Config = tinyConfig({ numHiddenLayers: 2, vocabSize: 500 });
const weights: Map<string, FloatTensor> = randomWeights(config, 'quant-io');
const CL = 16;

const u16 = (e: Encoding): TensorType => ({ dtype: 'UFIXED_POINT_16', encoding: e });
const HIDDEN_ENC = rangeEncoding({ min: -20, max: 20 }, 'UFIXED_POINT_16');
const KV_ENC = symmetricEncoding(6, 'UFIXED_POINT_8');
const KV_NAMES = [0, 1].flatMap((l) => [`past_key_${l}`, `past_value_${l}`]);
const HANDOFF = '_model_layers_0_Add_1_output_0';

/** Every float IO tensor quantized (KV-in uint8, the rest uint16) except the KV outputs. */
const QUANT_EXCEPT_KV_OUT: Record<string, TensorType> = {
  attention_mask: u16(rangeEncoding(MASK_FLOAT_RANGE, 'UFIXED_POINT_16')),
  position_ids_cos: u16(rangeEncoding({ min: -1, max: 1 }, 'UFIXED_POINT_16')),
  position_ids_sin: u16(rangeEncoding({ min: -1, max: 1 }, 'UFIXED_POINT_16')),
  [HANDOFF]: u16(HIDDEN_ENC),
  logits: u16(rangeEncoding({ min: -30, max: 25 }, 'UFIXED_POINT_16')),
  ...Object.fromEntries(KV_NAMES.map((n) => [`${n}_in`, { dtype: 'UFIXED_POINT_8', encoding: KV_ENC } as TensorType])),
};
const QUANT_ALL: Record<string, TensorType> = {
  ...QUANT_EXCEPT_KV_OUT,
  ...Object.fromEntries(KV_NAMES.map((n) => [`${n}_out`, { dtype: 'UFIXED_POINT_8', encoding: KV_ENC } as TensorType])),
};
const FP16_EXCEPT_KV_OUT: Record<string, TensorType> = Object.fromEntries(
  Object.keys(QUANT_EXCEPT_KV_OUT).map((name) => [name, { dtype: 'FLOAT_16' } as TensorType]),
);

async function open(name: string, tensorTypes: Record<string, TensorType>, arSet = [1, 4]): Promise<GraphBackend> {
  const parts = splitQwen2Checkpoint({ config, weights, arSet, cl: CL, splits: 2, inputKind: 'ids', tensorTypes });
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  return openReferenceBackend(await writeParts(sub, 'm', parts));
}

/** One buffer per tensor name (sized for the largest graph), bound to every graph. */
function bindAll(backend: GraphBackend): Map<string, Uint8Array> {
  const sizes = new Map<string, number>();
  for (const g of backend.graphs) {
    for (const t of [...g.inputs, ...g.outputs]) sizes.set(t.name, Math.max(sizes.get(t.name) ?? 0, elements(t) * 4));
  }
  const buffers = new Map([...sizes].map(([name, bytes]) => [name, backend.allocate(bytes)]));
  for (const g of backend.graphs) backend.bind(g.name, buffers);
  return buffers;
}

type Numbers = Float32Array | Uint16Array | Uint8Array | Int32Array;
function view(spec: TensorSpec, bytes: Uint8Array): Numbers {
  const n = elements(spec);
  switch (spec.dtype) {
    case 'FLOAT_32': return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    case 'INT_32': return new Int32Array(bytes.buffer, bytes.byteOffset, n);
    case 'UFIXED_POINT_8': return new Uint8Array(bytes.buffer, bytes.byteOffset, n);
    default: return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  }
}

interface Pair {
  readonly typed: GraphBackend;
  readonly float: GraphBackend;
  readonly typedBuffers: Map<string, Uint8Array>;
  readonly floatBuffers: Map<string, Uint8Array>;
}

/**
 * Random inputs for graph `name` of the typed backend (codes, float16 bits or token ids), the same
 * values (dequantized / widened) in the float backend; runs both.
 */
async function runBoth(pair: Pair, name: string, seed: string): Promise<void> {
  const random = seedrandom(seed);
  const spec = pair.typed.graphs.find((g) => g.name === name)!;
  const floatSpec = pair.float.graphs.find((g) => g.name === name)!;
  for (const t of spec.inputs) {
    const typed = view(t, pair.typedBuffers.get(t.name)!);
    const float = view(floatSpec.inputs.find((f) => f.name === t.name)!, pair.floatBuffers.get(t.name)!);
    for (let i = 0; i < typed.length; i++) {
      if (t.dtype === 'INT_32') {
        typed[i] = float[i] = Math.floor(random() * config.vocabSize);
      } else if (t.dtype === 'FLOAT_16') {
        typed[i] = float32ToFloat16((random() - 0.5) * 4);
        float[i] = float16ToFloat32(typed[i]);
      } else if (t.dtype === 'FLOAT_32') {
        typed[i] = float[i] = (random() - 0.5) * 4;
      } else {
        const max = t.dtype === 'UFIXED_POINT_8' ? 255 : 65535;
        // Mask codes are Genie's two values; others anywhere in the code range.
        typed[i] = t.name === 'attention_mask' ? (random() < 0.5 ? 0 : max) : Math.floor(random() * (max + 1));
        float[i] = oracleDequantize(typed[i], t.encoding!);
      }
    }
  }
  await pair.typed.execute(name);
  await pair.float.execute(name);
}

/** Number of output elements whose typed value differs from `expected(float value)`. */
function mismatches(pair: Pair, graph: string, tensor: string, expected: (x: number, spec: TensorSpec) => number): number {
  const spec = pair.typed.graphs.find((g) => g.name === graph)!.outputs.find((t) => t.name === tensor)!;
  const floatSpec = pair.float.graphs.find((g) => g.name === graph)!.outputs.find((t) => t.name === tensor)!;
  const typed = view(spec, pair.typedBuffers.get(tensor)!);
  const float = view(floatSpec, pair.floatBuffers.get(tensor)!);
  let bad = 0;
  for (let i = 0; i < typed.length; i++) if (typed[i] !== expected(float[i], spec)) bad++;
  return bad;
}

const bitsOf = (spec: TensorSpec): number => (spec.dtype === 'UFIXED_POINT_8' ? 8 : 16);
const quantized = (x: number, spec: TensorSpec): number => oracleQuantize(x, spec.encoding!, bitsOf(spec));
const same = (x: number): number => x;

async function pairOf(name: string, types: Record<string, TensorType>): Promise<Pair> {
  const typed = await open(name, types);
  const float = await open(`${name}-float`, {});
  return { typed, float, typedBuffers: bindAll(typed), floatBuffers: bindAll(float) };
}

describe('fixed-point IO: inputs dequantized, outputs quantized', () => {
  let exact: Pair;
  let full: Pair;
  beforeAll(async () => {
    exact = await pairOf('quant-except-kv-out', QUANT_EXCEPT_KV_OUT);
    full = await pairOf('quant-all', QUANT_ALL);
  });
  afterAll(async () => {
    for (const b of [exact.typed, exact.float, full.typed, full.float]) await b.dispose();
  });

  for (const graph of ['token_ar1_cl16_1_of_2', 'prompt_ar4_cl16_1_of_2', 'token_ar1_cl16_2_of_2', 'prompt_ar4_cl16_2_of_2']) {
    it(`${graph}: every quantized output is the quantized float output; float KV outputs are bit-identical`, async () => {
      await runBoth(exact, graph, graph);
      const spec = exact.typed.graphs.find((g) => g.name === graph)!;
      for (const t of spec.outputs) {
        expect(mismatches(exact, graph, t.name, t.dtype === 'FLOAT_32' ? same : quantized), t.name).toBe(0);
      }
      const quantOut = spec.outputs.find((t) => t.dtype === 'UFIXED_POINT_16')!;
      // The outputs are not degenerate: most of them have codes of their own.
      const codes = view(quantOut, exact.typedBuffers.get(quantOut.name)!);
      expect(new Set(codes).size).toBeGreaterThan(codes.length / 2);
    });
  }

  it('uint8 KV outputs are the quantized new keys/values; attention then uses those rounded values', async () => {
    const graph = 'prompt_ar4_cl16_2_of_2';
    await runBoth(full, graph, 'full');
    for (const t of ['past_key_1_out', 'past_value_1_out']) expect(mismatches(full, graph, t, quantized), t).toBe(0);
    // Logits differ from the float graph's only by the KV rounding: a few codes, not more.
    const spec = full.typed.graphs.find((g) => g.name === graph)!.outputs.find((t) => t.name === 'logits')!;
    const typed = view(spec, full.typedBuffers.get('logits')!);
    const float = view(full.float.graphs.find((g) => g.name === graph)!.outputs[0], full.floatBuffers.get('logits')!);
    let worst = 0;
    for (let i = 0; i < typed.length; i++) worst = Math.max(worst, Math.abs(oracleDequantize(typed[i], spec.encoding!) - float[i]));
    expect(worst).toBeGreaterThan(spec.encoding!.scale);
    expect(worst).toBeLessThan(0.5);
  });
});

describe('float16 IO: inputs widened, outputs rounded to nearest even', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await pairOf('fp16-except-kv-out', FP16_EXCEPT_KV_OUT);
  });
  afterAll(async () => {
    await pair.typed.dispose();
    await pair.float.dispose();
  });

  for (const graph of ['prompt_ar4_cl16_1_of_2', 'prompt_ar4_cl16_2_of_2']) {
    it(`${graph}: float16 outputs are the float outputs rounded to float16`, async () => {
      await runBoth(pair, graph, `fp16-${graph}`);
      for (const t of pair.typed.graphs.find((g) => g.name === graph)!.outputs) {
        const expected = t.dtype === 'FLOAT_16' ? (x: number) => float32ToFloat16(x) : same;
        expect(mismatches(pair, graph, t.name, expected), t.name).toBe(0);
      }
    });
  }
});

describe('calibrated uint8 KV is invariant to prefill chunking', () => {
  it('AR-4 chunks and AR-1 steps give logits within one code (attention sees the stored KV values either way)', async () => {
    const float = await open('calibration-float', {}, [1, 4]);
    const options = { contextSize: CL, padToken: 0, eosToken: 0, rope: { theta: config.ropeTheta, scaling: { type: 'default' as const } } };
    const graphs = float.graphs;
    const ranges = await calibrateIoRanges(float, options, { prompts: [[5, 17, 230, 9, 41, 77, 3, 120], [400, 2]], decodeSteps: 5 });
    const types = htpIoTypes(graphs, ranges);
    const chunked = Engine.create(await open('htp-ar1-ar4', types, [1, 4]), options);
    const stepwise = Engine.create(await open('htp-ar1', types, [1]), options);
    try {
      const prompt = [11, 250, 37, 480, 6, 92, 310];
      const a = new Float32Array(config.vocabSize);
      const b = new Float32Array(config.vocabSize);
      const scale = types.logits.encoding!.scale;
      let worst = 0;
      const compare = (): void => {
        chunked.logits.dequantizeInto(a);
        stepwise.logits.dequantizeInto(b);
        for (let v = 0; v < a.length; v++) worst = Math.max(worst, Math.abs(a[v] - b[v]) / scale);
      };
      await chunked.prefill(prompt);
      await stepwise.prefill(prompt);
      compare();
      for (const token of [13, 99, 451]) {
        await chunked.decode(token);
        await stepwise.decode(token);
        compare();
      }
      expect(worst).toBeLessThanOrEqual(1 + 1e-9);
    } finally {
      await chunked.dispose();
      await stepwise.dispose();
    }
  });
});

describe('splitQwen2Checkpoint tensorTypes errors', () => {
  const split = (tensorTypes: Record<string, TensorType>) => () =>
    splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: CL, splits: 2, inputKind: 'ids', tensorTypes });
  const cases: Array<[string, Record<string, TensorType>, string]> = [
    ['an unknown tensor', { attention_maks: { dtype: 'FLOAT_16' } }, 'splitQwen2Checkpoint: tensorTypes names "attention_maks", which is not a float-valued IO tensor of these graphs'],
    ['token ids', { input_ids: { dtype: 'FLOAT_16' } }, 'splitQwen2Checkpoint: tensorTypes names "input_ids", which is not a float-valued IO tensor of these graphs'],
    ['an integer dtype', { logits: { dtype: 'INT_16' } }, 'splitQwen2Checkpoint: tensorTypes["logits"]: dtype INT_16 is not supported for float-valued tensors'],
    ['fixed point without encoding', { logits: { dtype: 'UFIXED_POINT_16' } }, 'splitQwen2Checkpoint: tensorTypes["logits"]: dtype UFIXED_POINT_16 needs an encoding {scale, offset}'],
    ['a zero scale', { logits: u16({ scale: 0, offset: 0 }) }, 'splitQwen2Checkpoint: tensorTypes["logits"].encoding {"scale":0,"offset":0} needs a finite scale > 0 and an integer offset'],
    ['a fractional offset', { logits: u16({ scale: 1, offset: 0.5 }) }, 'splitQwen2Checkpoint: tensorTypes["logits"].encoding {"scale":1,"offset":0.5} needs a finite scale > 0 and an integer offset'],
  ];
  for (const [what, types, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(split(types)).toThrow(InvalidArgumentError);
      expect(split(types)).toThrow(message);
      expect(split({ logits: u16(HIDDEN_ENC) })()).toHaveLength(2);
    });
  }

  it('gives a listed tensor the same type in every graph, leaving the others FLOAT_32', () => {
    const parts = split({ [HANDOFF]: u16(HIDDEN_ENC) })();
    const seen = parts.flatMap((p) => p.metadata.graphs.flatMap((g) => [...g.inputs, ...g.outputs]));
    for (const t of seen) {
      if (t.name === HANDOFF) expect(t).toMatchObject({ dtype: 'UFIXED_POINT_16', encoding: HIDDEN_ENC });
      else expect(t.encoding).toBeUndefined();
    }
    expect(seen.filter((t) => t.name === HANDOFF)).toHaveLength(4);
  });
});
