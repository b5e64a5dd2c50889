import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BackendDisposedError,
  CtxBinError,
  GraphNotBoundError,
  openReferenceBackend,
  splitQwen2Checkpoint,
  writeReferenceCtxBin,
  type ReferenceCtxBinPart,
} from '../../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { SafetensorsError, writeSafetensors } from '../../../src/formats/index.js';
import { KvLoopDriver } from './kv-loop-driver.js';
import { tempDir, writeParts } from './fixtures.js';
import { randomWeights, tinyConfig } from './qwen2-oracle.js';

const dir = tempDir('backend-errors');
const config = tinyConfig({ numHiddenLayers: 2 });
const weights = randomWeights(config, 'backend-errors');
const parts = splitQwen2Checkpoint({ config, weights, arSet: [1, 4], cl: 16, splits: 2, inputKind: 'ids' });
let paths: string[];
let expectedRows: Float32Array[];

beforeAll(async () => {
  paths = await writeParts(dir, 'good', parts);
  const backend = await openReferenceBackend(paths);
  expectedRows = await new KvLoopDriver(backend, config).run([1, 2, 3], [4], 4, 1);
  await backend.dispose();
});

/** The loop still produces exactly the reference logits on this backend (fresh KV state). */
async function expectUsable(driver: KvLoopDriver): Promise<void> {
  const rows = await driver.run([1, 2, 3], [4], 4, 1);
  rows.forEach((row, t) => expect(row).toEqual(expectedRows[t]));
}

type Json = Record<string, any>;

/** Writes part `index` with its metadata JSON edited by `edit`, bypassing the validating writer. */
async function writeEdited(name: string, edit: (meta: Json) => void, index = 0, tensors?: ReferenceCtxBinPart['tensors']): Promise<string> {
  const meta = JSON.parse(JSON.stringify(parts[index].metadata)) as Json;
  edit(meta);
  const path = join(dir, `${name}.safetensors`);
  await writeSafetensors(path, tensors ?? parts[index].tensors, { 'genie-ts': JSON.stringify(meta) });
  return path;
}

describe('openReferenceBackend file errors', () => {
  it('rejects an empty path list', async () => {
    await expect(openReferenceBackend([])).rejects.toThrow(InvalidArgumentError);
    await expect(openReferenceBackend([])).rejects.toThrow(/ctxBinPaths is empty/);
  });

  it('names a missing file and a corrupt file', async () => {
    const missing = join(dir, 'missing.safetensors');
    await expect(openReferenceBackend([paths[0], missing])).rejects.toThrow(SafetensorsError);
    await expect(openReferenceBackend([missing])).rejects.toThrow(`cannot open safetensors file "${missing}"`);
    const corrupt = join(dir, 'corrupt.safetensors');
    await writeFile(corrupt, new TextEncoder().encode('this is not a safetensors file at all'));
    await expect(openReferenceBackend([corrupt])).rejects.toThrow(SafetensorsError);
    await expect(openReferenceBackend([corrupt])).rejects.toThrow(`safetensors file "${corrupt}"`);
  });

  it('rejects a safetensors file without genie-ts metadata, or with metadata that is not JSON', async () => {
    const plain = join(dir, 'plain.safetensors');
    await writeSafetensors(plain, parts[0].tensors, { format: 'pt' });
    await expect(openReferenceBackend([plain])).rejects.toThrow(CtxBinError);
    await expect(openReferenceBackend([plain])).rejects.toThrow(
      `reference ctx-bin "${plain}": __metadata__ has no "genie-ts" entry (not a genie-ts reference ctx-bin)`,
    );
    const broken = join(dir, 'broken-meta.safetensors');
    await writeSafetensors(broken, parts[0].tensors, { 'genie-ts': '{"format":' });
    await expect(openReferenceBackend([broken])).rejects.toThrow(/__metadata__\."genie-ts" is not valid JSON/);
  });
});

describe('openReferenceBackend metadata errors name the file and key', () => {
  const cases: Array<[string, (m: Json) => void, number, RegExp]> = [
    ['format', (m) => (m.format = 'onnx'), 0, /key format: expected "genie-ts-reference", found "onnx"/],
    ['version', (m) => (m.version = 4), 0, /key version: 4 is not supported \(this build reads versions 1, 2 and 3\)/],
    ['kind', (m) => (m.graphs[0].kind = 'encoder'), 0, /key graphs\[0\]\.kind: /],
    ['unknown key', (m) => (m.model.slidingWindow = 4), 0, /key model: Unrecognized key: "slidingWindow"/],
    ['kv heads', (m) => (m.model.kvHeads = 3), 0, /key model\.kvHeads: heads must be a multiple of kvHeads/],
    ['shape entry', (m) => (m.graphs[1].inputs[0].shape = [1, 0]), 0, /key graphs\[1\]\.inputs\[0\]\.shape\[1\]: /],
    ['duplicate graph', (m) => (m.graphs[1].name = m.graphs[0].name), 0, /key graphs\[1\]\.name: graph "token_ar1_cl16_1_of_2" is listed twice/],
    ['layer range', (m) => (m.graphs[0].layers = [0, 9]), 0, /key graphs\[0\] \("token_ar1_cl16_1_of_2"\): layers: \[0, 9\] is not a range within the model's 2 layers/],
    ['kind vs layers', (m) => (m.graphs[0].kind = 'embedding'), 0, /layers: \[0, 1\] is not empty but kind is "embedding"/],
    ['missing input', (m) => m.graphs[0].inputs.splice(1, 1), 0, /key graphs\[0\] \("token_ar1_cl16_1_of_2"\): inputs: missing tensor "attention_mask"/],
    ['KV shape', (m) => (m.graphs[0].inputs[4].shape = [2, 1, 16, 14]), 0, /inputs: tensor "past_key_0_in" has shape \[2,1,16,14\], expected \[2,1,16,15\]/],
    ['mask not wider than AR', (m) => (m.graphs[1].inputs[1].shape = [1, 1, 4, 4]), 0, /tensor "attention_mask" has context length 4, which must exceed AR 4/],
    ['extra input', (m) => m.graphs[0].inputs.push({ name: 'position_ids', dtype: 'INT_32', shape: [1, 1] }), 0, /inputs: unexpected tensor "position_ids" for this graph kind and layer range/],
    ['two handoffs', (m) => m.graphs[0].inputs.push({ name: 'extra', dtype: 'FLOAT_32', shape: [1, 1, 64] }), 1, /inputs: expected exactly one hidden-state tensor besides the named roles, found 2 \("_model_layers_0_Add_1_output_0", "extra"\)/],
    ['KV name without a layer', (m) => m.graphs[0].inputs.push({ name: 'past_key_in', dtype: 'FLOAT_32', shape: [1, 1, 64] }), 1, /inputs: KV tensor "past_key_in" has no layer number \(expected e\.g\. "past_key_0_in"\)/],
    ['missing KV output', (m) => m.graphs[0].outputs.pop(), 0, /outputs: missing tensor "past_value_0_out"/],
    ['logits shape', (m) => (m.graphs[0].outputs[0].shape = [1, 1, 999]), 1, /outputs: tensor "logits" has shape \[1,1,999\], expected \[1,1,1000\]/],
    ['bfloat16 mask', (m) => (m.graphs[0].inputs[1].dtype = 'BFLOAT_16'), 0, /inputs: tensor "attention_mask": dtype BFLOAT_16 is not supported for float-valued tensors \(supported: FLOAT_32, FLOAT_16, UFIXED_POINT_8, /],
    ['integer logits', (m) => (m.graphs[0].outputs[0].dtype = 'INT_32'), 1, /outputs: tensor "logits": dtype INT_32 is not supported for float-valued tensors/],
    ['fixed-point mask without encoding', (m) => (m.graphs[0].inputs[1].dtype = 'UFIXED_POINT_16'), 0, /inputs: tensor "attention_mask": dtype UFIXED_POINT_16 needs an encoding \{scale, offset\}/],
    ['float KV with an encoding', (m) => (m.graphs[0].inputs[4].encoding = { scale: 0.1, offset: -128 }), 0, /inputs: tensor "past_key_0_in": dtype FLOAT_32 is not fixed point and cannot have an encoding/],
    ['fractional offset', (m) => Object.assign(m.graphs[0].inputs[1], { dtype: 'UFIXED_POINT_16', encoding: { scale: 0.001, offset: -0.5 } }), 0, /key graphs\[0\]\.inputs\[1\]\.encoding\.offset: /],
    ['zero scale', (m) => Object.assign(m.graphs[0].inputs[1], { dtype: 'UFIXED_POINT_16', encoding: { scale: 0, offset: -5 } }), 0, /key graphs\[0\]\.inputs\[1\]\.encoding\.scale: /],
    ['float token ids', (m) => (m.graphs[0].inputs[0].dtype = 'FLOAT_32'), 0, /inputs: tensor "input_ids": dtype FLOAT_32 is not supported for token ids \(expected INT_32\)/],
  ];
  for (const [what, edit, index, message] of cases) {
    it(`bad ${what}`, async () => {
      const path = await writeEdited(`meta-${what.replace(/\W+/g, '-')}`, edit, index);
      await expect(openReferenceBackend([path])).rejects.toThrow(CtxBinError);
      await expect(openReferenceBackend([path])).rejects.toThrow(message);
      await expect(openReferenceBackend([path])).rejects.toThrow(`reference ctx-bin "${path}"`);
    });
  }

  it('rejects a missing or mis-shaped weight, naming file and tensor', async () => {
    const without = new Map(parts[0].tensors);
    without.delete('model.layers.0.mlp.up_proj.weight');
    const missing = await writeEdited('missing-weight', () => {}, 0, without);
    await expect(openReferenceBackend([missing])).rejects.toThrow(CtxBinError);
    await expect(openReferenceBackend([missing])).rejects.toThrow(`reference ctx-bin "${missing}": missing weight tensor "model.layers.0.mlp.up_proj.weight"`);
    const misshapen = new Map(parts[1].tensors);
    misshapen.set('model.norm.weight', { shape: [32], data: new Float32Array(32) });
    const wrong = await writeEdited('wrong-weight', () => {}, 1, misshapen);
    await expect(openReferenceBackend([wrong])).rejects.toThrow(`reference ctx-bin "${wrong}": weight tensor "model.norm.weight" has shape [32], expected [64]`);
  });

  it('rejects the same graph name in two files', async () => {
    await expect(openReferenceBackend([paths[0], paths[1], paths[0]])).rejects.toThrow(CtxBinError);
    await expect(openReferenceBackend([paths[0], paths[0]])).rejects.toThrow(
      `reference ctx-bin "${paths[0]}": graph "token_ar1_cl16_1_of_2" is also defined in "${paths[0]}"`,
    );
  });

  it('writeReferenceCtxBin validates metadata before creating the file', async () => {
    const path = join(dir, 'never.safetensors');
    const bad = { ...parts[0], metadata: { ...parts[0].metadata, graphs: [{ ...parts[0].metadata.graphs[0], layers: [0, 0] as const }] } };
    await expect(writeReferenceCtxBin(path, bad)).rejects.toThrow(CtxBinError);
    await expect(writeReferenceCtxBin(path, bad)).rejects.toThrow(/layers: \[0, 0\] is empty but kind is "embedding\+decoder"/);
    expect(existsSync(path)).toBe(false);
  });
});

describe('backend call errors leave the backend usable', () => {
  it('reports graphs with their ctx-bin index', async () => {
    const backend = await openReferenceBackend(paths);
    expect(backend.type).toBe('reference');
    expect(backend.graphs.map((g) => [g.name, g.ctxBin])).toEqual([
      ['token_ar1_cl16_1_of_2', 0],
      ['prompt_ar4_cl16_1_of_2', 0],
      ['token_ar1_cl16_2_of_2', 1],
      ['prompt_ar4_cl16_2_of_2', 1],
    ]);
    expect(backend.graphs[0].inputs).toEqual(parts[0].metadata.graphs[0].inputs);
    await backend.dispose();
  });

  it('execute of an unknown graph or before bind', async () => {
    const backend = await openReferenceBackend(paths);
    await expect(backend.execute('token_ar1_cl16_1_of_2')).rejects.toThrow(GraphNotBoundError);
    await expect(backend.execute('token_ar1_cl16_1_of_2')).rejects.toThrow(/execute "token_ar1_cl16_1_of_2": the graph's IO was never bound/);
    await expect(backend.execute('token_ar1_cl32_1_of_2')).rejects.toThrow(InvalidArgumentError);
    await expect(backend.execute('token_ar1_cl32_1_of_2')).rejects.toThrow(/unknown graph "token_ar1_cl32_1_of_2" \(graphs: token_ar1_cl16_1_of_2, /);
    expect(() => backend.bind('nope', new Map())).toThrow(/unknown graph "nope"/);
    await expectUsable(new KvLoopDriver(backend, config));
    await backend.dispose();
  });

  it('bind with a missing, too small or misaligned buffer keeps the previous binding', async () => {
    const backend = await openReferenceBackend(paths);
    const driver = new KvLoopDriver(backend, config);
    const graph = 'token_ar1_cl16_1_of_2';
    const spec = backend.graphs[0];
    const views = new Map([...spec.inputs, ...spec.outputs].map((t) => [t.name, driver.bytes(t.name)]));
    const without = new Map(views);
    without.delete('attention_mask');
    expect(() => backend.bind(graph, without)).toThrow(InvalidArgumentError);
    expect(() => backend.bind(graph, without)).toThrow(`bind "${graph}": no buffer for tensor "attention_mask"`);
    const small = new Map(views).set('past_key_0_in', backend.allocate(100));
    expect(() => backend.bind(graph, small)).toThrow(`bind "${graph}": buffer for tensor "past_key_0_in" has 100 bytes, expected at least 1920`);
    const misaligned = new Map(views).set('_model_layers_0_Add_1_output_0', backend.allocate(1000).subarray(2));
    expect(() => backend.bind(graph, misaligned)).toThrow(/buffer for tensor "_model_layers_0_Add_1_output_0" starts at byte offset 2, not aligned to 4/);
    expect(() => backend.allocate(-1)).toThrow(InvalidArgumentError);
    expect(() => backend.allocate(1.5)).toThrow(/allocate: byteLength 1.5 is not a non-negative integer/);
    await expectUsable(driver);
    await backend.dispose();
  });

  it('rejects out-of-range token ids before writing any output', async () => {
    const backend = await openReferenceBackend(paths);
    const driver = new KvLoopDriver(backend, config);
    const handoff = driver.f32('_model_layers_0_Add_1_output_0');
    const keyOut = driver.f32('past_key_0_out');
    handoff.fill(7);
    keyOut.fill(7);
    const ids = new Int32Array(driver.f32('input_ids').buffer);
    for (const bad of [1000, -1]) {
      ids.set([3, bad, 4, 5]);
      await expect(backend.execute('prompt_ar4_cl16_1_of_2')).rejects.toThrow(InvalidArgumentError);
      await expect(backend.execute('prompt_ar4_cl16_1_of_2')).rejects.toThrow(
        `execute "prompt_ar4_cl16_1_of_2": input_ids[1] = ${bad} is outside the vocabulary [0, 1000)`,
      );
    }
    expect(handoff.every((v) => v === 7)).toBe(true);
    expect(keyOut.every((v) => v === 7)).toBe(true);
    await expectUsable(driver);
    await backend.dispose();
  });

  it('every call after dispose throws BackendDisposedError; dispose is idempotent', async () => {
    const backend = await openReferenceBackend(paths);
    const driver = new KvLoopDriver(backend, config);
    await backend.dispose();
    await backend.dispose();
    expect(() => backend.allocate(4)).toThrow(BackendDisposedError);
    expect(() => backend.allocate(4)).toThrow(/allocate: the reference backend has been disposed/);
    expect(() => backend.bind('token_ar1_cl16_1_of_2', new Map())).toThrow(BackendDisposedError);
    await expect(backend.execute('token_ar1_cl16_1_of_2')).rejects.toThrow(BackendDisposedError);
    // The memory it handed out is detached: the driver cannot even write its inputs any more.
    await expect(driver.step([1], 1)).rejects.toThrow(/detached ArrayBuffer/);
  });
});
