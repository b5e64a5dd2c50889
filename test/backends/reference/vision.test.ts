import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  CtxBinError,
  erf,
  loadCtxBinProgram,
  loadHfVision,
  openReferenceBackend,
  visionCtxBinParts,
  writeHfVision,
  writeReferenceCtxBin,
  splitQwen2Checkpoint,
  type ReferenceCtxBinPart,
} from '../../../src/backends/reference/index.js';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { NotSupportedError } from '../../../src/errors.js';
import { writeSafetensors } from '../../../src/formats/index.js';
import { float32ToBfloat16, bfloat16ToFloat32 } from '../../../src/tensor/bf16.js';
import { dequantize, quantize } from '../../../src/tensor/quant.js';
import { exactError } from '../../expect-error.js';
import { tempDir, writeRawSafetensors } from './fixtures.js';
import { gaussian, randomWeights, tinyConfig } from './qwen2-oracle.js';
import {
  erfBySimpson, maxAbsDiffRows, projectorForward, randomPixels, randomVisionCheckpoint, tinyVisionModel, toNhwc, towerForward,
} from './vision-oracle.js';

const dir = tempDir('vision');
const model = tinyVisionModel();
const checkpoint = randomVisionCheckpoint(model, 'vision-test');
const pixels = randomPixels(model, 'pixels');
const ROWS = 24;

let fileCount = 0;
async function writeParts(parts: readonly ReferenceCtxBinPart[]): Promise<string[]> {
  const paths: string[] = [];
  for (const part of parts) {
    const path = join(dir, `part-${fileCount++}.safetensors`);
    await writeReferenceCtxBin(path, part);
    paths.push(path);
  }
  return paths;
}

/** Runs every graph of `backend` in order on shared buffers (one per tensor name); returns the buffers. */
async function runAll(backend: GraphBackend, inputs: Record<string, Uint8Array>): Promise<Map<string, Uint8Array>> {
  const buffers = new Map<string, Uint8Array>();
  for (const graph of backend.graphs) {
    for (const t of [...graph.inputs, ...graph.outputs]) {
      if (!buffers.has(t.name)) {
        const bytes = backend.allocate(t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'FLOAT_32' ? 4 : t.dtype.endsWith('16') ? 2 : 1));
        buffers.set(t.name, bytes);
      }
    }
  }
  for (const [name, bytes] of Object.entries(inputs)) buffers.get(name)!.set(bytes);
  for (const graph of backend.graphs) backend.bind(graph.name, buffers);
  for (const graph of backend.graphs) await backend.execute(graph.name);
  return buffers;
}

const f32 = (bytes: Uint8Array): Float32Array => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const bytesOf = (a: Float32Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('erf', () => {
  it('matches numerical integration to 1e-13 over [-6, 6] and has the right limits', () => {
    for (let x = -6; x <= 6; x += 0.0625) {
      expect(Math.abs(erf(x) - erfBySimpson(x, 6000)), `erf(${x})`).toBeLessThan(1e-13);
    }
    expect(erf(0)).toBe(0);
    expect(erf(40)).toBe(1);
    expect(erf(-40)).toBe(-1);
    expect(erf(-0.3)).toBe(-erf(0.3));
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });
});

describe('reference vision executor against a float64 forward', () => {
  const features = towerForward(checkpoint, pixels);
  const projected = projectorForward(checkpoint, features);

  it('fused (vision+projector, NCHW): rows within 1e-4 of the oracle', async () => {
    const backend = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'fused' })));
    expect(backend.graphs.map((g) => g.name)).toEqual(['image_encoder']);
    expect(backend.graphs[0].inputs).toEqual([{ name: 'pixel_values', dtype: 'FLOAT_32', shape: [1, 3, 32, 48] }]);
    expect(backend.graphs[0].outputs).toEqual([{ name: 'image_features', dtype: 'FLOAT_32', shape: [1, ROWS, 24] }]);
    const out = await runAll(backend, { pixel_values: bytesOf(pixels) });
    expect(maxAbsDiffRows(projected, f32(out.get('image_features')!))).toBeLessThan(1e-4);
    await backend.dispose();
  });

  it('separate (encoder, then projector): the handoff is the tower features, the output the projected rows', async () => {
    const parts = visionCtxBinParts({ checkpoint, split: 'separate' });
    expect(parts.map((p) => p.metadata.graphs.map((g) => [g.name, g.kind]))).toEqual([[['image_encoder', 'vision']], [['image_projector', 'projector']]]);
    expect([...parts[1].tensors.keys()]).toEqual(['model.mm_projector.0.weight', 'model.mm_projector.0.bias', 'model.mm_projector.2.weight', 'model.mm_projector.2.bias']);
    expect([...parts[0].tensors.keys()].every((n) => n.startsWith('model.vision_tower.'))).toBe(true);
    const backend = await openReferenceBackend(await writeParts(parts));
    const out = await runAll(backend, { pixel_values: bytesOf(pixels) });
    expect(maxAbsDiffRows(features, f32(out.get('image_features')!))).toBeLessThan(1e-4);
    expect(maxAbsDiffRows(projected, f32(out.get('vision_embedding')!))).toBeLessThan(1e-4);
    await backend.dispose();
  });

  it('fused and separate give identical rows, on disk and from bytes', async () => {
    const fused = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'fused' })));
    const separate = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'separate' })));
    const a = (await runAll(fused, { pixel_values: bytesOf(pixels) })).get('image_features')!;
    const b = (await runAll(separate, { pixel_values: bytesOf(pixels) })).get('vision_embedding')!;
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    await fused.dispose();
    await separate.dispose();
  });

  it('NHWC pixel_values give the same rows as NCHW', async () => {
    const nchw = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'fused' })));
    const nhwc = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'fused', pixelLayout: 'NHWC' })));
    expect(nhwc.graphs[0].inputs[0].shape).toEqual([1, 32, 48, 3]);
    const a = (await runAll(nchw, { pixel_values: bytesOf(pixels) })).get('image_features')!;
    const b = (await runAll(nhwc, { pixel_values: bytesOf(toNhwc(pixels, 3, 32, 48)) })).get('image_features')!;
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    await nchw.dispose();
    await nhwc.dispose();
  });

  it('declared extra encoder inputs are accepted and not read', async () => {
    const extraInputs = [
      { name: 'position_ids_cos', dtype: 'FLOAT_32' as const, shape: [ROWS, 4] },
      { name: 'position_ids_sin', dtype: 'FLOAT_32' as const, shape: [ROWS, 4] },
      { name: 'full_attention_mask', dtype: 'FLOAT_32' as const, shape: [1, 1, ROWS, ROWS] },
      { name: 'window_attention_mask', dtype: 'UFIXED_POINT_16' as const, shape: [1, 1, ROWS, ROWS], encoding: { scale: 0.001, offset: -50000 } },
    ];
    const backend = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'fused', extraInputs })));
    expect(backend.graphs[0].inputs.map((t) => t.name)).toEqual(['pixel_values', 'position_ids_cos', 'position_ids_sin', 'full_attention_mask', 'window_attention_mask']);
    const noise = new Uint8Array(ROWS * ROWS * 4).fill(0x7f);
    const out = await runAll(backend, { pixel_values: bytesOf(pixels), full_attention_mask: noise });
    expect(maxAbsDiffRows(projected, f32(out.get('image_features')!))).toBeLessThan(1e-4);
    await backend.dispose();
  });

  it('quantized IO (uint16 pixels and rows, as HTP exports): output within half a code of the oracle on the dequantized pixels', async () => {
    const pixelEnc = { scale: 1 / 65535, offset: 0 };
    const outEnc = { scale: Math.fround(12 / 65535), offset: -32768 };
    const parts = visionCtxBinParts({
      checkpoint,
      split: 'fused',
      tensorTypes: { pixel_values: { dtype: 'UFIXED_POINT_16', encoding: pixelEnc }, image_features: { dtype: 'UFIXED_POINT_16', encoding: outEnc } },
    });
    const backend = await openReferenceBackend(await writeParts(parts));
    const codes = Uint16Array.from(pixels, (v) => quantize(v, pixelEnc, 'UFIXED_POINT_16'));
    const out = await runAll(backend, { pixel_values: bytesOf(codes) });
    const expected = projectorForward(checkpoint, towerForward(checkpoint, Array.from(codes, (q) => dequantize(q, pixelEnc))));
    const got = new Uint16Array(out.get('image_features')!.buffer, 0, ROWS * 24);
    expect(maxAbsDiffRows(expected, Array.from(got, (q) => dequantize(q, outEnc)))).toBeLessThan(outEnc.scale / 2 + 1e-4);
    await backend.dispose();
  });

  it('uint8 NHWC pixels (raw 0..255 codes, scale 1/255) give the float graph\'s rows on the dequantized image', async () => {
    const enc = { scale: Math.fround(1 / 255), offset: 0 };
    const quantized = await openReferenceBackend(
      await writeParts(visionCtxBinParts({ checkpoint, split: 'fused', pixelLayout: 'NHWC', tensorTypes: { pixel_values: { dtype: 'UFIXED_POINT_8', encoding: enc } } })),
    );
    const float = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint, split: 'fused', pixelLayout: 'NHWC' })));
    const codes = Uint8Array.from(toNhwc(pixels, 3, 32, 48), (v) => quantize(v, enc, 'UFIXED_POINT_8'));
    const a = (await runAll(quantized, { pixel_values: codes })).get('image_features')!;
    const b = (await runAll(float, { pixel_values: bytesOf(Float32Array.from(codes, (q) => dequantize(q, enc))) })).get('image_features')!;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    await quantized.dispose();
    await float.dispose();
  });

  it('runs from bytes (the simulated provider path) exactly as from a file', async () => {
    const [path] = await writeParts(visionCtxBinParts({ checkpoint, split: 'fused' }));
    const program = loadCtxBinProgram(new Uint8Array(readFileSync(path)), 'vision bytes');
    const input = new Uint8Array(pixels.byteLength);
    input.set(bytesOf(pixels));
    const output = new Uint8Array(ROWS * 24 * 4);
    program.bind('image_encoder', new Map([['pixel_values', input], ['image_features', output]])).run();
    const backend = await openReferenceBackend([path]);
    const viaFile = (await runAll(backend, { pixel_values: bytesOf(pixels) })).get('image_features')!;
    expect(Buffer.from(output).equals(Buffer.from(viaFile))).toBe(true);
    await backend.dispose();
  });
});

describe('a real-shaped FastVLM projector checkpoint', () => {
  /** FastVLM's config.json shape (tiny dims): no vision_config, the tower named by mm_vision_tower. */
  const MM_HIDDEN = 48;
  const HIDDEN = 20;

  async function writeFastVlmCheckpoint(folder: string, sharded: boolean): Promise<Map<string, { shape: number[]; values: number[] }>> {
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, 'config.json'),
      JSON.stringify({
        architectures: ['LlavaQwen2ForCausalLM'],
        model_type: 'llava_qwen2',
        hidden_size: HIDDEN,
        num_hidden_layers: 1,
        vocab_size: 10,
        mm_hidden_size: MM_HIDDEN,
        mm_projector_type: 'mlp2x_gelu',
        mm_vision_tower: 'mobileclip_l_1024',
        mm_patch_merge_type: 'flat',
        image_aspect_ratio: 'pad',
        torch_dtype: 'bfloat16',
      }),
    );
    const g = gaussian('fastvlm-projector');
    const tensors = new Map<string, { shape: number[]; values: number[] }>();
    const add = (name: string, shape: number[], std: number): void => {
      const n = shape.reduce((a, b) => a * b, 1);
      // Values as bf16 would hold them.
      tensors.set(name, { shape, values: Array.from({ length: n }, () => bfloat16ToFloat32(float32ToBfloat16(std * g()))) });
    };
    add('model.embed_tokens.weight', [10, HIDDEN], 1);
    add('model.mm_projector.0.weight', [HIDDEN, MM_HIDDEN], 1 / Math.sqrt(MM_HIDDEN));
    add('model.mm_projector.0.bias', [HIDDEN], 0.1);
    add('model.mm_projector.2.weight', [HIDDEN, HIDDEN], 1 / Math.sqrt(HIDDEN));
    add('model.mm_projector.2.bias', [HIDDEN], 0.1);
    const bf16File = async (file: string, names: string[]): Promise<void> => {
      const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
      const chunks: number[] = [];
      for (const name of names) {
        const { shape, values } = tensors.get(name)!;
        header[name] = { dtype: 'BF16', shape, data_offsets: [chunks.length * 2, (chunks.length + values.length) * 2] };
        for (const v of values) chunks.push(float32ToBfloat16(v));
      }
      await writeRawSafetensors(join(folder, file), header, bytesOf(Uint16Array.from(chunks)));
    };
    const names = [...tensors.keys()];
    if (!sharded) {
      await bf16File('model.safetensors', names);
    } else {
      await bf16File('model-00001-of-00002.safetensors', names.slice(0, 3));
      await bf16File('model-00002-of-00002.safetensors', names.slice(3));
      const weightMap = Object.fromEntries(names.map((n, i) => [n, i < 3 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']));
      writeFileSync(join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    }
    return tensors;
  }

  for (const sharded of [false, true]) {
    it(`loads only model.mm_projector.* (${sharded ? 'sharded' : 'one file'}, BF16) and runs as a projector graph matching a float64 matmul`, async () => {
      const folder = join(dir, `fastvlm-${sharded}`);
      const tensors = await writeFastVlmCheckpoint(folder, sharded);
      const loaded = await loadHfVision(folder);
      expect(loaded.model).toEqual({ architecture: 'vision', projector: { type: 'mlp2x_gelu', inputSize: MM_HIDDEN, hidden: HIDDEN } });
      expect([...loaded.weights.keys()]).toEqual(['model.mm_projector.0.weight', 'model.mm_projector.0.bias', 'model.mm_projector.2.weight', 'model.mm_projector.2.bias']);
      expect(Array.from(loaded.weights.get('model.mm_projector.0.weight')!.data)).toEqual(tensors.get('model.mm_projector.0.weight')!.values);

      const rows = 5;
      const backend = await openReferenceBackend(await writeParts(visionCtxBinParts({ checkpoint: loaded, split: 'fused', rows })));
      expect(backend.graphs.map((g) => [g.name, g.inputs.map((t) => [t.name, t.shape]), g.outputs.map((t) => [t.name, t.shape])])).toEqual([
        ['image_projector', [['image_features', [1, rows, MM_HIDDEN]]], [['vision_embedding', [1, rows, HIDDEN]]]],
      ]);
      const g = gaussian('features');
      const features = Float32Array.from({ length: rows * MM_HIDDEN }, () => g());
      const out = f32((await runAll(backend, { image_features: bytesOf(features) })).get('vision_embedding')!);
      // Oracle: y = W2 gelu(W1 x + b1) + b2 from the values written, float64.
      const w = (name: string): number[] => tensors.get(name)!.values;
      const expected: number[][] = [];
      for (let r = 0; r < rows; r++) {
        const h = Array.from({ length: HIDDEN }, (_, o) => {
          let s = w('model.mm_projector.0.bias')[o];
          for (let i = 0; i < MM_HIDDEN; i++) s += w('model.mm_projector.0.weight')[o * MM_HIDDEN + i] * features[r * MM_HIDDEN + i];
          return 0.5 * s * (1 + erfBySimpson(s / Math.SQRT2));
        });
        expected.push(Array.from({ length: HIDDEN }, (_, o) => {
          let s = w('model.mm_projector.2.bias')[o];
          for (let i = 0; i < HIDDEN; i++) s += w('model.mm_projector.2.weight')[o * HIDDEN + i] * h[i];
          return s;
        }));
      }
      expect(maxAbsDiffRows(expected, out)).toBeLessThan(1e-4);
      await backend.dispose();
    });
  }

  it('names an unsupported projector type and a missing projector weight', async () => {
    const folder = join(dir, 'fastvlm-bad');
    await writeFastVlmCheckpoint(folder, false);
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...config, mm_projector_type: 'linear' }));
    await expect(loadHfVision(folder)).rejects.toThrow(
      exactError(NotSupportedError, `"${join(folder, 'config.json')}": key mm_projector_type "linear" is not supported (only "mlp2x_gelu", FastVLM's)`),
    );
    writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
    await writeSafetensors(join(folder, 'model.safetensors'), new Map([['model.mm_projector.0.weight', { shape: [HIDDEN, MM_HIDDEN], data: new Float32Array(HIDDEN * MM_HIDDEN) }]]));
    await expect(loadHfVision(folder)).rejects.toThrow(
      exactError(CheckpointError, `checkpoint "${folder}": missing weight "model.mm_projector.0.bias" (not in "${join(folder, 'model.safetensors')}")`),
    );
  });
});

describe('HF vision checkpoint round trip', () => {
  it('writeHfVision then loadHfVision gives the same model and weights', async () => {
    const folder = join(dir, 'hf-roundtrip');
    await writeHfVision(folder, checkpoint);
    const loaded = await loadHfVision(folder);
    expect(loaded.model).toEqual(model);
    expect([...loaded.weights.keys()]).toEqual([...checkpoint.weights.keys()]);
    for (const [name, t] of checkpoint.weights) expect(loaded.weights.get(name)!.data).toEqual(t.data);
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ mm_projector_type: 'mlp2x_gelu', mm_hidden_size: 32, hidden_size: 24 });
    expect(config.vision_config).toMatchObject({ model_type: 'genie-ts-vit', image_size: [32, 48], patch_size: 8, num_channels: 3 });
  });

  it('rejects a vision_config whose hidden size is not mm_hidden_size', async () => {
    const folder = join(dir, 'hf-mismatch');
    await writeHfVision(folder, checkpoint);
    const path = join(folder, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...config, mm_hidden_size: 16 }));
    await expect(loadHfVision(folder)).rejects.toThrow(
      exactError(CheckpointError, `"${path}": the vision model it describes is invalid: key projector.inputSize: projector.inputSize must be the tower's hidden size`),
    );
  });
});

describe('vision ctx-bin metadata errors name the file and key', () => {
  type Json = Record<string, any>;
  const part = visionCtxBinParts({ checkpoint, split: 'fused' })[0];
  const separate = visionCtxBinParts({ checkpoint, split: 'separate' });

  async function writeEdited(name: string, edit: (meta: Json) => void, source: ReferenceCtxBinPart = part): Promise<string> {
    const meta = JSON.parse(JSON.stringify(source.metadata)) as Json;
    edit(meta);
    const path = join(dir, `meta-${name}.safetensors`);
    await writeSafetensors(path, source.tensors, { 'genie-ts': JSON.stringify(meta) });
    return path;
  }

  const cases: Array<[string, (m: Json) => void, string, ReferenceCtxBinPart?]> = [
    ['version 1', (m) => (m.version = 1), 'key model.architecture: "vision" needs version 2 or later, this file says version 1'],
    ['version 4', (m) => (m.version = 4), 'key version: 4 is not supported (this build reads versions 1, 2 and 3)'],
    ['architecture', (m) => (m.model.architecture = 'siglip'), 'key model.architecture: expected one of "qwen2", "vision", found "siglip"'],
    ['decoder kind', (m) => (m.graphs[0].kind = 'decoder'), 'key graphs[0].kind: Invalid option: expected one of "vision"|"projector"|"vision+projector"'],
    ['no tower', (m) => delete m.model.tower, 'key graphs[0] ("image_encoder"): kind "vision+projector" runs the vision tower, but the model has none (model.tower)'],
    ['tower width', (m) => (m.model.projector.inputSize = 16), "key model.projector.inputSize: projector.inputSize must be the tower's hidden size"],
    ['image size', (m) => (m.model.tower.imageSize = [30, 48]), 'key model.tower.imageSize: imageSize must be a multiple of patchSize in both dims'],
    ['layers', (m) => (m.graphs[0].layers = [0, 1]), 'key graphs[0] ("image_encoder"): layers: [0,1] must be [0, 2] for kind "vision+projector" (a vision graph runs the whole tower)'],
    ['pixel shape', (m) => (m.graphs[0].inputs[0].shape = [1, 3, 48, 48]), 'key graphs[0] ("image_encoder"): inputs: tensor "pixel_values" [1,3,48,48] must be [1,3,32,48] (NCHW) or [1,32,48,3] (NHWC)'],
    ['missing pixels', (m) => (m.graphs[0].inputs[0].name = 'position_ids_sin'), 'key graphs[0] ("image_encoder"): inputs: missing tensor "pixel_values"'],
    ['unsupported input', (m) => m.graphs[0].inputs.push({ name: 'image_grid_thw', dtype: 'INT_32', shape: [1, 3] }), 'key graphs[0] ("image_encoder"): inputs: unexpected tensor "image_grid_thw" (an image encoder takes only pixel_values, position_ids_sin, position_ids_cos, full_attention_mask, window_attention_mask)'],
    ['integer pixels', (m) => (m.graphs[0].inputs[0].dtype = 'INT_32'), 'key graphs[0] ("image_encoder"): inputs: tensor "pixel_values": dtype INT_32 is not supported for float-valued tensors (supported: FLOAT_32, FLOAT_16, UFIXED_POINT_8, UFIXED_POINT_16, UFIXED_POINT_32, SFIXED_POINT_8, SFIXED_POINT_16, SFIXED_POINT_32)'],
    ['output name', (m) => (m.graphs[0].outputs[0].name = 'hidden_states'), 'key graphs[0] ("image_encoder"): outputs: tensor "hidden_states" is not named as an image encoder\'s output (image_features*, vision_embedding*)'],
    ['output width', (m) => (m.graphs[0].outputs[0].shape = [1, ROWS, 32]), 'key graphs[0] ("image_encoder"): outputs: tensor "image_features" [1,24,32] must be [1,24,24] or [24,24]'],
    ['two outputs', (m) => m.graphs[0].outputs.push({ name: 'vision_embedding', dtype: 'FLOAT_32', shape: [ROWS, 24] }), 'key graphs[0] ("image_encoder"): outputs: expected exactly one tensor, found 2'],
    ['projector input name', (m) => (m.graphs[0].inputs[0].name = 'hidden'), 'key graphs[0] ("image_projector"): inputs: tensor "hidden" is not named as image features (image_features*, vision_embedding*)', separate[1]],
    ['projector input width', (m) => (m.graphs[0].inputs[0].shape = [1, ROWS, 24]), 'key graphs[0] ("image_projector"): inputs: tensor "image_features" [1,24,24] must be [1,N,32] or [N,32]', separate[1]],
    ['projector rows', (m) => (m.graphs[0].outputs[0].shape = [1, 12, 24]), 'key graphs[0] ("image_projector"): outputs: tensor "vision_embedding" [1,12,24] must be [1,24,24] or [24,24]', separate[1]],
  ];
  for (const [what, edit, message, source] of cases) {
    it(`bad ${what}`, async () => {
      const path = await writeEdited(what.replace(/\W+/g, '-'), edit, source);
      await expect(openReferenceBackend([path])).rejects.toThrow(exactError(CtxBinError, `reference ctx-bin "${path}": ${message}`));
    });
  }

  it('vision ctx-bins are written as version 2; a decoder ctx-bin stays version 1 and reads as version 2 too', async () => {
    expect(part.metadata.version).toBe(2);
    const config = tinyConfig({ numHiddenLayers: 1, vocabSize: 64 });
    const [decoder] = splitQwen2Checkpoint({ config, weights: randomWeights(config, 'v2'), arSet: [1], cl: 8, splits: 1, inputKind: 'ids' });
    expect(decoder.metadata.version).toBe(1);
    const path = await writeEdited('decoder-v2', (m) => (m.version = 2), decoder);
    const backend = await openReferenceBackend([path]);
    expect(backend.graphs.map((g) => g.name)).toEqual(['token_ar1_cl8_1_of_1']);
    await backend.dispose();
  });

  it('names a missing tower weight', async () => {
    const tensors = new Map(part.tensors);
    tensors.delete('model.vision_tower.encoder.layers.1.mlp.fc2.bias');
    const path = join(dir, 'missing-weight.safetensors');
    await writeSafetensors(path, tensors, { 'genie-ts': JSON.stringify(part.metadata) });
    await expect(openReferenceBackend([path])).rejects.toThrow(
      exactError(CtxBinError, `reference ctx-bin "${path}": missing weight tensor "model.vision_tower.encoder.layers.1.mlp.fc2.bias"`),
    );
  });
});

