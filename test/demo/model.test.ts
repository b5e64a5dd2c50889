import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { deriveDialog, loadConfigFile } from '../../src/runtime/config/index.js';
import { demoCheckpoint, demoQwen2Config, resolveDemoOptions, writeDemoBundle } from '../../src/demo/index.js';
import { KvLoopDriver } from '../backends/reference/kv-loop-driver.js';
import { sameBits, tempDir } from './fixtures.js';

function moments(data: Float32Array): { mean: number; std: number; withinOneStd: number } {
  let sum = 0;
  for (const v of data) sum += v;
  const mean = sum / data.length;
  let sq = 0;
  for (const v of data) sq += (v - mean) ** 2;
  const std = Math.sqrt(sq / data.length);
  let inside = 0;
  for (const v of data) if (Math.abs(v - mean) < std) inside++;
  return { mean, std, withinOneStd: inside / data.length };
}

describe('demo weights', () => {
  const options = resolveDemoOptions();
  const { config, weights } = demoCheckpoint(options);
  const w = (name: string) => weights.get(name)!.data;

  it('uses the documented Qwen2 config', () => {
    expect(config).toEqual({
      hiddenSize: 64, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, intermediateSize: 128, numHiddenLayers: 2,
      rmsNormEps: 1e-6, vocabSize: 151936, ropeTheta: 1_000_000, tieWordEmbeddings: true, maxPositionEmbeddings: 512,
    });
    expect(demoQwen2Config(resolveDemoOptions({ hidden: 96, heads: 6, kvHeads: 3, layers: 5, cl: 2048 }))).toMatchObject({
      hiddenSize: 96, numAttentionHeads: 6, numKeyValueHeads: 3, headDim: 16, intermediateSize: 192, numHiddenLayers: 5, maxPositionEmbeddings: 2048,
    });
    expect(weights.has('lm_head.weight')).toBe(false);
  });

  it('draws a normal embedding table with std 0.8 / sqrt(hidden)', () => {
    const { mean, std, withinOneStd } = moments(w('model.embed_tokens.weight'));
    const n = 151936 * 64;
    expect(Math.abs(std - 0.1)).toBeLessThan(0.1 * 0.005);
    expect(Math.abs(mean)).toBeLessThan((5 * 0.1) / Math.sqrt(n));
    // P(|z| < 1) of a standard normal; the standard error at this n is 1.5e-4.
    expect(Math.abs(withinOneStd - 0.682689)).toBeLessThan(0.001);
  });

  it('scales projections by 1/sqrt(fan_in), keeps biases small and RMSNorm scales at 1', () => {
    for (const [name, fanIn] of [['self_attn.q_proj.weight', 64], ['mlp.up_proj.weight', 64], ['mlp.down_proj.weight', 128]] as const) {
      const { std } = moments(w(`model.layers.1.${name}`));
      expect(Math.abs(std * Math.sqrt(fanIn) - 1), name).toBeLessThan(0.05);
    }
    const bias = moments(w('model.layers.0.self_attn.k_proj.bias'));
    expect(bias.std).toBeGreaterThan(0.01);
    expect(bias.std).toBeLessThan(0.03);
    for (const name of ['model.norm.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.1.post_attention_layernorm.weight']) {
      expect(w(name).every((v) => v === 1), name).toBe(true);
    }
  });

  it('draws each tensor from its own seeded stream', () => {
    const deeper = demoCheckpoint(resolveDemoOptions({ layers: 3 })).weights;
    for (const name of ['model.embed_tokens.weight', 'model.layers.0.mlp.gate_proj.weight', 'model.layers.1.self_attn.v_proj.bias']) {
      expect(sameBits(deeper.get(name)!.data, w(name)), name).toBe(true);
    }
    const reseeded = demoCheckpoint(resolveDemoOptions({ seed: 43 })).weights;
    expect(sameBits(reseeded.get('model.layers.0.mlp.gate_proj.weight')!.data, w('model.layers.0.mlp.gate_proj.weight'))).toBe(false);
    expect(sameBits(w('model.layers.0.mlp.gate_proj.weight'), w('model.layers.0.mlp.up_proj.weight'))).toBe(false);
  });
});

describe('the default demo model', () => {
  const dir = tempDir('greedy');
  it('greedy-decodes more than one token over and over, from logits spread enough to sample', async () => {
    const bundle = await writeDemoBundle(join(dir, 'demo'));
    const d = deriveDialog((await loadConfigFile(bundle.configPath)).config);
    const driver = new KvLoopDriver(await openReferenceBackend(d.ctxBins), demoQwen2Config(bundle.options));
    const prompt = [9707, 11, 1879, 0];
    let logits = (await driver.step(prompt, 32))[prompt.length - 1];
    expect(moments(logits).std).toBeGreaterThan(0.4);
    const generated: number[] = [];
    for (let step = 0; step < 16; step++) {
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      generated.push(best);
      [logits] = await driver.step([best], 1);
    }
    expect(new Set(generated).size).toBeGreaterThanOrEqual(4);
    expect(new Set(generated.slice(8)).size).toBeGreaterThanOrEqual(2);
  });
});
