import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  loadHfQwen2,
  openReferenceBackend,
  splitQwen2Checkpoint,
  writeHfQwen2,
  type Qwen2Config,
} from '../../../src/backends/reference/index.js';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { SafetensorsError, SafetensorsReader, writeSafetensors, type FloatTensor } from '../../../src/formats/index.js';
import { KvLoopDriver } from './kv-loop-driver.js';
import { tempDir, writeParts, writeRawSafetensors } from './fixtures.js';
import { randomWeights, tinyConfig } from './qwen2-oracle.js';

const dir = tempDir('checkpoint');

const hfConfigJson = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  model_type: 'qwen2',
  hidden_size: 64,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  num_hidden_layers: 3,
  rms_norm_eps: 1e-6,
  vocab_size: 1000,
  rope_theta: 10000,
  tie_word_embeddings: false,
  max_position_embeddings: 512,
  ...overrides,
});

async function runLoop(paths: string[], config: Qwen2Config): Promise<Float32Array[]> {
  const backend = await openReferenceBackend(paths);
  const rows = await new KvLoopDriver(backend, config).run([9, 8, 7, 6, 5], [4, 3, 2], 4, 1);
  await backend.dispose();
  return rows;
}

describe('Hugging Face Qwen2 checkpoints', () => {
  for (const tie of [false, true]) {
    it(`${tie ? 'tied' : 'untied'}: write -> load gives back the config and every weight exactly`, async () => {
      const config = tinyConfig({ tieWordEmbeddings: tie });
      const weights = randomWeights(config, `ckpt-${tie}`);
      const folder = join(dir, `round-trip-${tie}`);
      await writeHfQwen2(folder, { config, weights });
      const loaded = await loadHfQwen2(folder);
      expect(loaded.config).toEqual(config);
      expect([...loaded.weights.keys()].sort()).toEqual([...weights.keys()].sort());
      for (const [name, t] of weights) {
        const back = loaded.weights.get(name)!;
        expect(back.shape).toEqual(t.shape);
        expect(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(Buffer.from(t.data.buffer))).toBe(true);
      }
      const reader = await SafetensorsReader.open(join(folder, 'model.safetensors'));
      expect(reader.tensors.has('lm_head.weight')).toBe(!tie);
      await reader.close();
    });

    it(`${tie ? 'tied' : 'untied'}: write -> load -> split -> execute gives logits identical to the unsplit model`, async () => {
      const config = tinyConfig({ tieWordEmbeddings: tie });
      const folder = join(dir, `split-${tie}`);
      await writeHfQwen2(folder, { config, weights: randomWeights(config, `ckpt-split-${tie}`) });
      const checkpoint = await loadHfQwen2(folder);
      const options = { ...checkpoint, arSet: [1, 4], cl: 16, inputKind: 'ids' as const };
      const whole = await runLoop(await writeParts(dir, `whole-${tie}`, splitQwen2Checkpoint({ ...options, splits: 1 })), config);
      const split = splitQwen2Checkpoint({ ...options, splits: 3, embeddingPart: true });
      const parts = await runLoop(await writeParts(dir, `parts-${tie}`, split), config);
      expect(parts).toHaveLength(8);
      parts.forEach((row, t) => expect(row).toEqual(whole[t]));
    });
  }

  it('keeps a head_dim that differs from hidden_size / num_attention_heads', async () => {
    const config = tinyConfig({ headDim: 32, numHiddenLayers: 1 });
    const folder = join(dir, 'head-dim');
    await writeHfQwen2(folder, { config, weights: randomWeights(config, 'ckpt-head-dim') });
    expect(JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')).head_dim).toBe(32);
    expect((await loadHfQwen2(folder)).config).toEqual(config);
  });

  it('loads BF16 and F16 weights (converted to float32) and sharded checkpoints with an index', async () => {
    const config = tinyConfig({ numHiddenLayers: 1, tieWordEmbeddings: true });
    const weights = randomWeights(config, 'ckpt-bf16');
    const folder = join(dir, 'bf16');
    mkdirSync(folder);
    await writeFile(join(folder, 'config.json'), JSON.stringify(hfConfigJson({ num_hidden_layers: 1, tie_word_embeddings: true })));
    // Shard 1: every weight as BF16 (truncated float32 bits); shard 2: the final norm as F16.
    const header: Record<string, unknown> = {};
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const expected = new Map<string, number[]>();
    for (const [name, t] of weights) {
      if (name === 'model.norm.weight') continue;
      const words = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
      const halves = Uint16Array.from(words, (w) => w >>> 16);
      header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + halves.byteLength] };
      chunks.push(new Uint8Array(halves.buffer));
      offset += halves.byteLength;
      expected.set(name, Array.from(Float32Array.from(halves, (h) => new Float32Array(Uint32Array.of(h * 65536).buffer)[0])));
    }
    const data = new Uint8Array(offset);
    chunks.reduce((at, c) => (data.set(c, at), at + c.length), 0);
    await writeRawSafetensors(join(folder, 'model-00001-of-00002.safetensors'), header, data);
    // 1.0 and -2.0 in half precision, repeated.
    const norm = Uint16Array.from({ length: 64 }, (_, i) => (i % 2 ? 0xc000 : 0x3c00));
    await writeRawSafetensors(
      join(folder, 'model-00002-of-00002.safetensors'),
      { 'model.norm.weight': { dtype: 'F16', shape: [64], data_offsets: [0, 128] } },
      new Uint8Array(norm.buffer),
    );
    const weightMap = Object.fromEntries([...weights.keys()].map((n) => [n, n === 'model.norm.weight' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors']));
    await writeFile(join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

    const loaded = await loadHfQwen2(folder);
    for (const [name, values] of expected) expect(Array.from(loaded.weights.get(name)!.data)).toEqual(values);
    expect(Array.from(loaded.weights.get('model.norm.weight')!.data)).toEqual(Array.from({ length: 64 }, (_, i) => (i % 2 ? -2 : 1)));
  });
});

describe('checkpoint errors', () => {
  async function folderWith(name: string, config: unknown, weights?: Map<string, FloatTensor>): Promise<string> {
    const folder = join(dir, `err-${name}`);
    mkdirSync(folder, { recursive: true });
    if (config !== undefined) await writeFile(join(folder, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    if (weights) await writeSafetensors(join(folder, 'model.safetensors'), weights);
    return folder;
  }

  const config = tinyConfig();
  const weights = randomWeights(config, 'ckpt-errors');

  it('names config.json when it is missing or not JSON', async () => {
    const none = await folderWith('no-config', undefined);
    await expect(loadHfQwen2(none)).rejects.toThrow(CheckpointError);
    await expect(loadHfQwen2(none)).rejects.toThrow(`cannot read "${join(none, 'config.json')}"`);
    const broken = await folderWith('broken-config', '{"hidden_size": ');
    await expect(loadHfQwen2(broken)).rejects.toThrow(`"${join(broken, 'config.json')}" is not valid JSON`);
  });

  const configCases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['not an object', [hfConfigJson()] as unknown as Record<string, unknown>, /config\.json": key \(top level\): /],
    ['a missing key', hfConfigJson({ intermediate_size: undefined }), /config\.json": key intermediate_size: /],
    ['a non-integer size', hfConfigJson({ intermediate_size: 12.5 }), /key intermediate_size: /],
    ['heads not a multiple of kv heads', hfConfigJson({ num_key_value_heads: 3 }), /key numKeyValueHeads: numAttentionHeads must be a multiple/],
    ['hidden not a multiple of heads', hfConfigJson({ hidden_size: 66 }), /key hidden_size: 66 is not a multiple of num_attention_heads 4/],
  ];
  for (const [what, json, message] of configCases) {
    it(`rejects config.json with ${what}`, async () => {
      const folder = await folderWith(what.replace(/\W+/g, '-'), json, weights);
      await expect(loadHfQwen2(folder)).rejects.toThrow(CheckpointError);
      await expect(loadHfQwen2(folder)).rejects.toThrow(message);
    });
  }

  it('refuses rope_scaling as not supported, naming the key', async () => {
    const folder = await folderWith('rope-scaling', hfConfigJson({ rope_scaling: { type: 'yarn', factor: 4 } }), weights);
    await expect(loadHfQwen2(folder)).rejects.toThrow(NotSupportedError);
    await expect(loadHfQwen2(folder)).rejects.toThrow(/key rope_scaling \{"type":"yarn","factor":4\} is not supported/);
  });

  it('names the folder and the tensor when a weight is missing, and the file when weights are absent', async () => {
    const partial = new Map(weights);
    partial.delete('model.layers.1.self_attn.k_proj.bias');
    const folder = await folderWith('missing-weight', hfConfigJson(), partial);
    await expect(loadHfQwen2(folder)).rejects.toThrow(CheckpointError);
    await expect(loadHfQwen2(folder)).rejects.toThrow(`checkpoint "${folder}": missing weight "model.layers.1.self_attn.k_proj.bias"`);
    const noWeights = await folderWith('no-weights', hfConfigJson());
    await expect(loadHfQwen2(noWeights)).rejects.toThrow(SafetensorsError);
    await expect(loadHfQwen2(noWeights)).rejects.toThrow(join(noWeights, 'model.safetensors'));
  });

  it('names a malformed shard index', async () => {
    const folder = await folderWith('bad-index', hfConfigJson());
    const index = join(folder, 'model.safetensors.index.json');
    await writeFile(index, JSON.stringify({ weight_map: { 'model.norm.weight': 3 } }));
    await expect(loadHfQwen2(folder)).rejects.toThrow(CheckpointError);
    await expect(loadHfQwen2(folder)).rejects.toThrow(`"${index}": key weight_map.model.norm.weight: `);
  });

  it('writeHfQwen2 rejects inconsistent input before writing anything', async () => {
    const partial = new Map(weights);
    partial.delete('lm_head.weight');
    const folder = join(dir, 'never-written');
    await expect(writeHfQwen2(folder, { config, weights: partial })).rejects.toThrow(InvalidArgumentError);
    await expect(writeHfQwen2(folder, { config, weights: partial })).rejects.toThrow(/checkpoint: missing weight "lm_head.weight"/);
    await expect(writeHfQwen2(folder, { config: { ...config, headDim: 15 }, weights })).rejects.toThrow(/key headDim: headDim must be even \(RoPE rotates half-dims\)/);
    await expect(loadHfQwen2(folder)).rejects.toThrow(CheckpointError);
  });
});
