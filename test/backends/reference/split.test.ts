import { describe, expect, it } from 'vitest';
import { splitQwen2Checkpoint, type SplitOptions } from '../../../src/backends/reference/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { randomWeights, tinyConfig } from './qwen2-oracle.js';

const config = tinyConfig({ numHiddenLayers: 5 });
const weights = randomWeights(config, 'split');
const base: SplitOptions = { config, weights, arSet: [128, 1], cl: 512, splits: 3, inputKind: 'ids' };

const layerTensors = (l: number): string[] =>
  [
    'input_layernorm.weight',
    'self_attn.q_proj.weight',
    'self_attn.q_proj.bias',
    'self_attn.k_proj.weight',
    'self_attn.k_proj.bias',
    'self_attn.v_proj.weight',
    'self_attn.v_proj.bias',
    'self_attn.o_proj.weight',
    'post_attention_layernorm.weight',
    'mlp.gate_proj.weight',
    'mlp.up_proj.weight',
    'mlp.down_proj.weight',
  ].map((s) => `model.layers.${l}.${s}`);

describe('splitQwen2Checkpoint layout', () => {
  it('spreads layers evenly (earlier parts take the remainder) and names graphs like AI Hub', () => {
    const parts = splitQwen2Checkpoint(base);
    expect(parts.map((p) => p.metadata.graphs.map((g) => g.name))).toEqual([
      ['token_ar1_cl512_1_of_3', 'prompt_ar128_cl512_1_of_3'],
      ['token_ar1_cl512_2_of_3', 'prompt_ar128_cl512_2_of_3'],
      ['token_ar1_cl512_3_of_3', 'prompt_ar128_cl512_3_of_3'],
    ]);
    expect(parts.map((p) => [p.metadata.graphs[0].kind, p.metadata.graphs[0].layers])).toEqual([
      ['embedding+decoder', [0, 2]],
      ['decoder', [2, 4]],
      ['decoder+lm-head', [4, 5]],
    ]);
    expect([...parts[1].tensors.keys()].sort()).toEqual([...layerTensors(2), ...layerTensors(3)].sort());
    expect([...parts[2].tensors.keys()].sort()).toEqual([...layerTensors(4), 'lm_head.weight', 'model.norm.weight'].sort());
    expect(parts[1].tensors.get('model.layers.2.mlp.up_proj.weight')!.data).toBe(weights.get('model.layers.2.mlp.up_proj.weight')!.data);
  });

  it('gives AI Hub IO: ids in, KV per layer, handoff named after the last layer, logits out', () => {
    const [first, second] = splitQwen2Checkpoint({ ...base, splits: 2 });
    const prompt = first.metadata.graphs.find((g) => g.name === 'prompt_ar128_cl512_1_of_2')!;
    expect(prompt.inputs.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['input_ids', 'INT_32', [1, 128]],
      ['attention_mask', 'FLOAT_32', [1, 1, 128, 512]],
      ['position_ids_cos', 'FLOAT_32', [1, 1, 128, 8]],
      ['position_ids_sin', 'FLOAT_32', [1, 1, 128, 8]],
      ['past_key_0_in', 'FLOAT_32', [2, 1, 16, 384]],
      ['past_value_0_in', 'FLOAT_32', [2, 1, 384, 16]],
      ['past_key_1_in', 'FLOAT_32', [2, 1, 16, 384]],
      ['past_value_1_in', 'FLOAT_32', [2, 1, 384, 16]],
      ['past_key_2_in', 'FLOAT_32', [2, 1, 16, 384]],
      ['past_value_2_in', 'FLOAT_32', [2, 1, 384, 16]],
    ]);
    expect(prompt.outputs.map((t) => [t.name, t.shape])).toEqual([
      ['_model_layers_2_Add_1_output_0', [1, 128, 64]],
      ['past_key_0_out', [2, 1, 16, 128]],
      ['past_value_0_out', [2, 1, 128, 16]],
      ['past_key_1_out', [2, 1, 16, 128]],
      ['past_value_1_out', [2, 1, 128, 16]],
      ['past_key_2_out', [2, 1, 16, 128]],
      ['past_value_2_out', [2, 1, 128, 16]],
    ]);
    const token = second.metadata.graphs.find((g) => g.name === 'token_ar1_cl512_2_of_2')!;
    expect(token.inputs[0]).toEqual({ name: '_model_layers_2_Add_1_output_0', dtype: 'FLOAT_32', shape: [1, 1, 64] });
    expect(token.outputs[0]).toEqual({ name: 'logits', dtype: 'FLOAT_32', shape: [1, 1, 1000] });
  });

  it('makes part 1 an embedding lookup with embeddingPart, and takes input_embeds with inputKind embeds', () => {
    const parts = splitQwen2Checkpoint({ ...base, splits: 3, embeddingPart: true });
    const g = parts[0].metadata.graphs[0];
    expect([g.kind, g.layers, g.inputs.map((t) => t.name), g.outputs.map((t) => t.name)]).toEqual([
      'embedding',
      [0, 0],
      ['input_ids'],
      ['_model_embed_tokens_Gather_Gather_output_0'],
    ]);
    expect([...parts[0].tensors.keys()]).toEqual(['model.embed_tokens.weight']);
    expect(parts.slice(1).map((p) => p.metadata.graphs[0].layers)).toEqual([[0, 3], [3, 5]]);
    expect(parts[1].metadata.graphs[0].inputs[0].name).toBe('_model_embed_tokens_Gather_Gather_output_0');

    const embeds = splitQwen2Checkpoint({ ...base, splits: 1, inputKind: 'embeds', naming: 'neutral' });
    expect(embeds[0].metadata.graphs.map((x) => [x.name, x.kind, x.inputs[0].name, x.inputs[0].shape])).toEqual([
      ['ar1_cl512_1_of_1', 'decoder+lm-head', 'input_embeds', [1, 1, 64]],
      ['ar128_cl512_1_of_1', 'decoder+lm-head', 'input_embeds', [1, 128, 64]],
    ]);
    expect(embeds[0].tensors.has('model.embed_tokens.weight')).toBe(false);
  });

  it('stores a tied head once: as lm_head.weight in a part without the table, not at all beside it', () => {
    const tiedConfig = tinyConfig({ numHiddenLayers: 2, tieWordEmbeddings: true });
    const tiedWeights = randomWeights(tiedConfig, 'split-tied');
    const table = tiedWeights.get('model.embed_tokens.weight')!;
    const split = splitQwen2Checkpoint({ ...base, config: tiedConfig, weights: tiedWeights, splits: 2 });
    expect(split[0].tensors.get('model.embed_tokens.weight')).toBe(table);
    expect(split[1].tensors.get('lm_head.weight')).toBe(table);
    const single = splitQwen2Checkpoint({ ...base, config: tiedConfig, weights: tiedWeights, splits: 1 });
    expect(single[0].tensors.has('lm_head.weight')).toBe(false);
    expect(single[0].metadata.model.tieWordEmbeddings).toBe(true);
  });
});

describe('splitQwen2Checkpoint argument errors', () => {
  const missing = new Map(weights);
  missing.delete('model.layers.3.mlp.down_proj.weight');
  const misshapen = new Map(weights);
  misshapen.set('model.norm.weight', { shape: [63], data: new Float32Array(63) });
  const short = new Map(weights);
  short.set('model.norm.weight', { shape: [64], data: new Float32Array(10) });
  const cases: Array<[string, Partial<SplitOptions>, RegExp]> = [
    ['an AR not below cl', { arSet: [1, 512] }, /arSet entry 512 is not an integer in \[1, cl 512\)/],
    ['an empty arSet', { arSet: [] }, /arSet is empty/],
    ['a repeated AR', { arSet: [4, 4] }, /arSet \[4,4\] repeats an AR/],
    ['a fractional cl', { cl: 12.5, arSet: [1] }, /cl 12.5 is not an integer >= 2/],
    ['more decoder parts than layers', { splits: 6 }, /splits 6 leaves 6 decoder part\(s\) for 5 layers/],
    ['zero splits', { splits: 0 }, /splits 0 leaves 0 decoder part\(s\)/],
    ['an embedding part alone', { splits: 1, embeddingPart: true }, /splits 1 leaves 0 decoder part\(s\) for 5 layers \(need 1..5 plus the embedding part\)/],
    ['an embedding part with embeds input', { embeddingPart: true, inputKind: 'embeds' }, /embeddingPart needs inputKind "ids"/],
    ['an unknown inputKind', { inputKind: 'tokens' as 'ids' }, /inputKind "tokens" is not "ids" or "embeds"/],
    ['an unknown naming', { naming: 'qnn' as 'neutral' }, /naming "qnn" is not "ai-hub" or "neutral"/],
    ['heads not a multiple of kv heads', { config: { ...config, numKeyValueHeads: 3 } }, /config key numKeyValueHeads: numAttentionHeads must be a multiple of numKeyValueHeads/],
    ['a zero hidden size', { config: { ...config, hiddenSize: 0 } }, /config key hiddenSize: /],
    ['a missing weight', { weights: missing }, /weights: missing weight "model.layers.3.mlp.down_proj.weight"/],
    ['a mis-shaped weight', { weights: misshapen }, /weights: weight "model.norm.weight" has shape \[63\], expected \[64\]/],
    ['a weight with too few values', { weights: short }, /weights: weight "model.norm.weight" has 10 values, shape \[64\] needs 64/],
  ];
  for (const [what, change, message] of cases) {
    it(`rejects ${what}`, () => {
      const call = () => splitQwen2Checkpoint({ ...base, ...change });
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
      expect(splitQwen2Checkpoint(base)).toHaveLength(3);
    });
  }
});
