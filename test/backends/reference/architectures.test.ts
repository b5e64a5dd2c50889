import { writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError, DECODER_V3_CTX_BIN_VERSION, loadHfCheckpoint, openReferenceBackend, parseCtxBinMetadata, splitCheckpoint,
  CTX_BIN_VERSION,
} from '../../../src/backends/reference/index.js';
import { NotSupportedError } from '../../../src/errors.js';
import { readSafetensors } from '../../../src/formats/index.js';
import { ropeAttentionFactor, ropeInvFreq } from '../../../src/rope/index.js';
import { hfConfig, hfForward, oracleGreedy, randomHfWeights, writeHfFolder, type Family, type HfJson, type StoredDType } from './decoder-oracle.js';
import { maxAbsDiff, tempDir, writeParts, writeRawSafetensors } from './fixtures.js';
import { KvLoopDriver } from './kv-loop-driver.js';

const dir = tempDir('architectures');
const prompt = [5, 17, 298, 3, 250, 42, 7];
const STEPS = 6;

interface Case {
  readonly name: string;
  readonly family: Family;
  readonly overrides?: HfJson;
  readonly dtype: StoredDType;
  readonly shards: number;
  readonly cl: number;
  readonly splits: number;
  readonly embeddingPart?: boolean;
  readonly inputKind?: 'ids' | 'embeds';
}

const cases: Case[] = [
  { name: 'Llama 3 (llama3 RoPE, untied, BF16, 2 shards)', family: 'llama', dtype: 'BF16', shards: 2, cl: 32, splits: 2 },
  { name: 'Llama 3.2 (tied embeddings, F16, embedding part)', family: 'llama', overrides: { tie_word_embeddings: true }, dtype: 'F16', shards: 1, cl: 16, splits: 3, embeddingPart: true },
  { name: 'Llama without rope_scaling, head_dim 32', family: 'llama', overrides: { rope_scaling: null, head_dim: 32 }, dtype: 'F32', shards: 1, cl: 16, splits: 1 },
  { name: 'Phi-3.5 (longrope, short factors: CL 32 <= 32)', family: 'phi3', dtype: 'F32', shards: 3, cl: 32, splits: 2 },
  { name: 'Phi-3.5 (longrope, long factors: CL 64 > 32, input_embeds)', family: 'phi3', dtype: 'BF16', shards: 1, cl: 64, splits: 2, inputKind: 'embeds' },
  { name: 'Phi-3 mini 4k (no rope_scaling)', family: 'phi3', overrides: { rope_scaling: null, original_max_position_embeddings: undefined }, dtype: 'F16', shards: 1, cl: 16, splits: 1 },
  { name: 'Qwen2 through the same path', family: 'qwen2', dtype: 'F32', shards: 1, cl: 16, splits: 2 },
];

describe('decoder architectures vs a float64 Hugging Face forward', () => {
  for (const c of cases) {
    it(`${c.name}: greedy tokens identical, logits within 1e-4`, async () => {
      const json = hfConfig(c.family, c.overrides);
      const folder = join(dir, c.name.replace(/\W+/g, '-'));
      const stored = await writeHfFolder(folder, json, randomHfWeights(json, c.name), { dtype: c.dtype, shards: c.shards });
      const checkpoint = await loadHfCheckpoint(folder);
      const { config } = checkpoint;
      expect(config.architecture ?? 'qwen2').toBe(c.family);
      const parts = splitCheckpoint({
        ...checkpoint, arSet: [1, 4], cl: c.cl, splits: c.splits, embeddingPart: c.embeddingPart ?? false, inputKind: c.inputKind ?? 'ids',
      });
      const expectedVersion = c.family === 'qwen2' ? CTX_BIN_VERSION : DECODER_V3_CTX_BIN_VERSION;
      for (const part of parts) expect(part.metadata.version).toBe(expectedVersion);
      const paths = await writeParts(folder, 'part', parts);
      const read = parseCtxBinMetadata((await readSafetensors(paths[0])).metadata, paths[0]);
      expect(read.model.architecture).toBe(c.family);

      const ropeOptions = { ropeDim: config.headDim / 2, theta: config.ropeTheta, contextLength: c.cl, scaling: config.ropeScaling };
      const backend = await openReferenceBackend(paths);
      const driver = new KvLoopDriver(backend, config, {
        rope: { invFreq: ropeInvFreq(ropeOptions), attentionFactor: ropeAttentionFactor(ropeOptions) },
        embedTable: checkpoint.weights.get('model.embed_tokens.weight')!.data,
      });
      const got = await driver.greedy(prompt, STEPS, 4);
      await backend.dispose();
      const want = oracleGreedy(json, stored, prompt, STEPS, c.cl);
      expect(got.tokens).toEqual(want.tokens);
      const worst = Math.max(...got.rows.map((row, t) => maxAbsDiff(row, want.rows[t])));
      expect(worst).toBeLessThanOrEqual(1e-4);
      // Not degenerate: the scaling moves the logits far more than the tolerance.
      if (json.rope_scaling !== null && c.family !== 'qwen2') {
        const plain = hfForward({ ...json, rope_scaling: null }, stored, [...prompt, ...want.tokens], c.cl);
        const tokens = [...prompt, ...want.tokens];
        expect(maxAbsDiff(plain[tokens.length - 2], want.rows[STEPS - 1])).toBeGreaterThan(0.01);
      }
    });
  }

  it('Phi-3 longrope: the factor is max_position_embeddings / original, the lists pass through', async () => {
    const json = hfConfig('phi3');
    const folder = join(dir, 'phi3-config');
    await writeHfFolder(folder, json, randomHfWeights(json, 'phi3-config'));
    const { config } = await loadHfCheckpoint(folder);
    const scaling = json.rope_scaling as { short_factor: number[]; long_factor: number[] };
    expect(config.ropeScaling).toEqual({
      type: 'longrope', factor: 4, shortFactor: scaling.short_factor, longFactor: scaling.long_factor, originalMaxPositionEmbeddings: 32,
    });
  });
});

describe('Phi-3 sliding_window', () => {
  it('is kept when shorter than max_position_embeddings (Phi-3-mini-4k), dropped otherwise (Phi-3.5)', async () => {
    for (const [window, expected] of [[20, 20], [262144, undefined], [null, undefined]] as const) {
      const json = hfConfig('phi3', { num_hidden_layers: 1, sliding_window: window });
      const folder = join(dir, `window-${window}`);
      await writeHfFolder(folder, json, randomHfWeights(json, 'window'));
      expect((await loadHfCheckpoint(folder)).config.slidingWindow).toBe(expected);
    }
  });
});

describe('ctx-bin metadata versions', () => {
  const json = hfConfig('llama', { num_hidden_layers: 1 });
  const metaOf = async (version: number, edit: (model: Record<string, unknown>) => void = () => {}): Promise<Record<string, string>> => {
    const folder = join(dir, 'versions');
    await writeHfFolder(folder, json, randomHfWeights(json, 'versions'));
    const [part] = splitCheckpoint({ ...(await loadHfCheckpoint(folder)), arSet: [1], cl: 8, splits: 1, inputKind: 'ids' });
    const metadata = JSON.parse(JSON.stringify(part.metadata)) as { version: number; model: Record<string, unknown> };
    metadata.version = version;
    edit(metadata.model);
    return { 'genie-ts': JSON.stringify(metadata) };
  };

  it('a Llama or Phi-3 model, or RoPE scaling, needs version 3; older versions name it', async () => {
    expect(parseCtxBinMetadata(await metaOf(3), 'f').model).toMatchObject({ architecture: 'llama', ropeScaling: { type: 'llama3' } });
    for (const version of [1, 2]) {
      await expect(metaOf(version).then((m) => parseCtxBinMetadata(m, 'f'))).rejects.toThrow(
        `reference ctx-bin "f": key model.architecture: "llama" needs version 3 or later, this file says version ${version}`,
      );
    }
    const qwenWithScaling = await metaOf(1, (model) => (model.architecture = 'qwen2'));
    expect(() => parseCtxBinMetadata(qwenWithScaling, 'f')).toThrow(/key model: Unrecognized key: "ropeScaling"/);
    const badScaling = await metaOf(3, (model) => ((model.ropeScaling as Record<string, unknown>).highFreqFactor = 0.5));
    expect(() => parseCtxBinMetadata(badScaling, 'f')).toThrow(/key model.ropeScaling: scaling.highFreqFactor \(0.5\) must be greater than scaling.lowFreqFactor/);
  });
});

describe('checkpoint errors, every architecture', () => {
  const llama = hfConfig('llama');
  const weights = randomHfWeights(llama, 'errors');

  async function folder(name: string, json: unknown, options: { shards?: number } = {}): Promise<string> {
    const path = join(dir, `err-${name}`);
    await writeHfFolder(path, llama, weights, options);
    await writeFile(join(path, 'config.json'), JSON.stringify(json));
    return path;
  }

  it('names a missing architecture and lists the supported ones', async () => {
    const path = await folder('no-arch', { ...llama, architectures: undefined, model_type: undefined });
    const load = loadHfCheckpoint(path);
    await expect(load).rejects.toThrow(CheckpointError);
    await expect(loadHfCheckpoint(path)).rejects.toThrow(
      /names no architecture \(no key architectures or model_type\); supported: Qwen2ForCausalLM \(model_type "qwen2"\), LlamaForCausalLM \(model_type "llama"\), Phi3ForCausalLM \(model_type "phi3"\)/,
    );
  });

  it('names an unknown architecture or model_type and lists the supported ones', async () => {
    const path = await folder('gpt2', { ...llama, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });
    await expect(loadHfCheckpoint(path)).rejects.toThrow(NotSupportedError);
    await expect(loadHfCheckpoint(path)).rejects.toThrow(/architecture "GPT2LMHeadModel" is not supported \(supported: Qwen2ForCausalLM .*Phi3ForCausalLM/);
    const byType = await folder('mistral', { ...llama, architectures: undefined, model_type: 'mistral' });
    await expect(loadHfCheckpoint(byType)).rejects.toThrow(/model_type "mistral" is not supported \(supported: /);
    const mixed = await folder('mixed', { ...llama, model_type: 'phi3' });
    await expect(loadHfCheckpoint(mixed)).rejects.toThrow(/architectures names LlamaForCausalLM but model_type is "phi3"/);
  });

  it('refuses what the executor does not compute, naming the key', async () => {
    const cases: Array<[HfJson, RegExp]> = [
      [{ ...llama, attention_bias: true }, /key attention_bias true is not supported for LlamaForCausalLM/],
      [{ ...llama, hidden_act: 'gelu' }, /key hidden_act "gelu" is not supported/],
      [{ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /key rope_scaling \{"rope_type":"yarn","factor":4\} is not supported \(rope types: default, llama3, longrope\)/],
    ];
    for (const [i, [json, message]] of cases.entries()) {
      const path = await folder(`refuse-${i}`, json);
      await expect(loadHfCheckpoint(path)).rejects.toThrow(NotSupportedError);
      await expect(loadHfCheckpoint(path)).rejects.toThrow(message);
    }
    const badScaling = await folder('bad-llama3', { ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } });
    await expect(loadHfCheckpoint(badScaling)).rejects.toThrow(/key rope_scaling\.low_freq_factor: /);
  });

  it('names a weight whose shape config.json does not imply', async () => {
    const path = await folder('shape', { ...llama, intermediate_size: 128 });
    await expect(loadHfCheckpoint(path)).rejects.toThrow(CheckpointError);
    await expect(loadHfCheckpoint(path)).rejects.toThrow(
      /weight "model.layers.0.mlp.gate_proj.weight" in ".*model.safetensors" has shape \[96,64\], config.json \(".*config.json"\) implies \[128,64\]/,
    );
  });

  it('names a weight whose dtype is not F32, F16 or BF16', async () => {
    const path = await folder('dtype', llama);
    const header: Record<string, unknown> = {};
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const [name, t] of weights) {
      const i8 = name === 'model.norm.weight';
      const bytes = i8 ? new Uint8Array(t.data.length) : new Uint8Array(t.data.buffer.slice(0));
      header[name] = { dtype: i8 ? 'I8' : 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
      chunks.push(bytes);
      offset += bytes.length;
    }
    const data = new Uint8Array(offset);
    chunks.reduce((at, c) => (data.set(c, at), at + c.length), 0);
    await writeRawSafetensors(join(path, 'model.safetensors'), header, data);
    await expect(loadHfCheckpoint(path)).rejects.toThrow(NotSupportedError);
    await expect(loadHfCheckpoint(path)).rejects.toThrow(/weight "model.norm.weight" in ".*" has dtype I8 \(supported: F32, F16, BF16\)/);
  });

  it('names a missing shard and an index entry its shard does not hold', async () => {
    const missing = await folder('missing-shard', llama, { shards: 2 });
    rmSync(join(missing, 'model-00002-of-00002.safetensors'));
    await expect(loadHfCheckpoint(missing)).rejects.toThrow(CheckpointError);
    await expect(loadHfCheckpoint(missing)).rejects.toThrow(/index.json": shard "model-00002-of-00002.safetensors" \(holding ".*"\) is missing from/);
    const absent = await folder('absent-tensor', llama, { shards: 2 });
    const index = join(absent, 'model.safetensors.index.json');
    const map = { weight_map: { 'model.norm.weight': 'model-00001-of-00002.safetensors', 'model.layers.0.input_layernorm.weight': 'model-00002-of-00002.safetensors' } };
    // weights go round-robin: norm (last but one) and the first layer norm sit in other shards than claimed here.
    const names = [...weights.keys()];
    map.weight_map['model.norm.weight'] = names.indexOf('model.norm.weight') % 2 === 0 ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    await writeFile(index, JSON.stringify(map));
    await expect(loadHfCheckpoint(absent)).rejects.toThrow(/names tensor "model.norm.weight" in shard "model-0000\d-of-00002.safetensors", which does not hold it/);
  });

  it('names a weight the index does not list', async () => {
    const path = await folder('unlisted', llama, { shards: 2 });
    const index = join(path, 'model.safetensors.index.json');
    const { weight_map: map } = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(index, 'utf8'))) as { weight_map: Record<string, string> };
    delete map['model.layers.1.self_attn.k_proj.weight'];
    await writeFile(index, JSON.stringify({ weight_map: map }));
    await expect(loadHfCheckpoint(path)).rejects.toThrow(/missing weight "model.layers.1.self_attn.k_proj.weight"/);
  });
});
