import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  checkCacheGroups, graphName, kvPartnerName, kvSiblingName, kvTensorName, ModelLayoutError, parseGraphName, tensorRole,
  type KvRole,
} from '../../src/graphs/index.js';

describe('tensorRole', () => {
  it('recognises the fixed role names', () => {
    const cases: [string, string][] = [
      ['input_ids', 'input_ids'], ['attention_mask', 'attention_mask'], ['position_ids_cos', 'position_ids_cos'],
      ['position_ids_sin', 'position_ids_sin'], ['position_ids', 'position_ids'], ['cache_index', 'cache_index'],
      ['logits', 'logits'], ['pixel_values', 'pixel_values'], ['image_features', 'image_features'],
      ['image_features_0', 'image_features'], ['vision_embedding', 'image_features'], ['vision_embedding_out', 'image_features'],
      ['_model_layers_3_Add_1_output_0', 'other'], ['logits_dequantized', 'other'], ['past_seen_tokens_in', 'other'],
    ];
    for (const [name, kind] of cases) expect(tensorRole(name).kind, name).toBe(kind);
  });

  it('recognises every embedding-input name Genie accepts, the Concat one twice as wide', () => {
    const factors: [string, number][] = [
      ['input_embeds', 1], ['inputs_embeds', 1], ['_model_embed_tokens_Gather_Gather_output_0', 1],
      ['_model_model_embed_tokens_Gather_Gather_output_0', 1], ['_model_embedding_concat_Concat_Concat_output_0', 2],
    ];
    for (const [name, widthFactor] of factors) expect(tensorRole(name)).toEqual({ kind: 'input_embeds', widthFactor });
  });

  it('parses KV names: layer and head from the first two numbers, any cache-group prefix', () => {
    const kv = (name: string, groups?: string[]): KvRole => tensorRole(name, groups) as KvRole;
    expect(kv('past_key_3_in')).toEqual({
      kind: 'kv', group: 'past_', tensor: 'key', direction: 'in', layer: 3, head: undefined, region: 'past_key_3',
    });
    expect(kv('past_value_12_out')).toMatchObject({ tensor: 'value', direction: 'out', layer: 12, region: 'past_value_12' });
    expect(kv('past_key_3_h5_in')).toMatchObject({ layer: 3, head: 5, region: 'past_key_3_h5' });
    expect(kv('swa_value_7_out', ['past_', 'swa_'])).toMatchObject({ group: 'swa_', tensor: 'value', layer: 7 });
    expect(tensorRole('swa_value_7_out').kind).toBe('other');
  });

  it('throws ModelLayoutError for a KV-looking name without a layer number', () => {
    expect(() => tensorRole('past_key_in')).toThrow(ModelLayoutError);
    expect(() => tensorRole('past_key_in')).toThrow(/KV tensor "past_key_in" has no layer number/);
  });

  it('pairs _in <-> _out and key <-> value', () => {
    const role = tensorRole('past_key_3_h5_in') as KvRole;
    expect(kvPartnerName(role)).toBe('past_key_3_h5_out');
    expect(kvSiblingName(role)).toBe('past_value_3_h5_in');
    const out = tensorRole('past_value_0_out') as KvRole;
    expect(kvPartnerName(out)).toBe('past_value_0_in');
    expect(kvSiblingName(out)).toBe('past_key_0_out');
  });

  it('forms the whole-layer KV names it parses', () => {
    expect(kvTensorName('key', 3, 'in')).toBe('past_key_3_in');
    expect(kvTensorName('value', 0, 'out', 'swa_')).toBe('swa_value_0_out');
    expect(tensorRole(kvTensorName('value', 7, 'out'))).toMatchObject({ kind: 'kv', tensor: 'value', direction: 'out', layer: 7 });
  });
});

describe('graphName', () => {
  it('forms AI Hub and neutral names that parseGraphName reads back', () => {
    expect(graphName('ai-hub', 1, 512, 1, 2)).toBe('token_ar1_cl512_1_of_2');
    expect(graphName('ai-hub', 32, 512, 2, 2)).toBe('prompt_ar32_cl512_2_of_2');
    expect(graphName('neutral', 32, 512, 2, 3)).toBe('ar32_cl512_2_of_3');
    expect(parseGraphName(graphName('neutral', 32, 512, 2, 3))).toEqual({ ar: 32, cl: 512, split: { index: 2, count: 3 } });
  });
});

describe('parseGraphName', () => {
  it('reads AI Hub names', () => {
    expect(parseGraphName('prompt_ar128_cl4096_2_of_3')).toEqual({ ar: 128, cl: 4096, split: { index: 2, count: 3 } });
    expect(parseGraphName('token_ar1_cl4096_10_of_12')).toEqual({ ar: 1, cl: 4096, split: { index: 10, count: 12 } });
  });

  it('takes the first ar/cl of SDK multi-variant names and the last _i_of_N', () => {
    expect(parseGraphName('weight_sharing_model_ar32_ar128_cl2048_cl4096_3_of_4')).toEqual({
      ar: 32, cl: 2048, split: { index: 3, count: 4 },
    });
    expect(parseGraphName('x_1_of_2_part_2_of_5').split).toEqual({ index: 2, count: 5 });
  });

  it('falls back to the largest number above 501 for CL, and says nothing when the name is silent', () => {
    expect(parseGraphName('llama_2048_64_1_of_2')).toEqual({ ar: undefined, cl: 2048, split: { index: 1, count: 2 } });
    expect(parseGraphName('llama_501_1_of_2').cl).toBeUndefined();
    expect(parseGraphName('decoder')).toEqual({ ar: undefined, cl: undefined, split: undefined });
  });

  it('does not read ar/cl inside words', () => {
    expect(parseGraphName('sharing_bar_12_clear_5').ar).toBeUndefined();
    expect(parseGraphName('sharing_bar_12_clear_5').cl).toBeUndefined();
    expect(parseGraphName('llama_AR-64_CL-1024').ar).toBe(64);
    expect(parseGraphName('llama_AR-64_CL-1024').cl).toBe(1024);
  });
});

describe('checkCacheGroups', () => {
  it('accepts disjoint prefixes', () => {
    expect(() => checkCacheGroups(['past_', 'swa_'])).not.toThrow();
  });

  it('rejects empty lists, empty prefixes and nested prefixes, naming them', () => {
    expect(() => checkCacheGroups([])).toThrow(InvalidArgumentError);
    expect(() => checkCacheGroups([])).toThrow(/cacheGroups must list at least one prefix/);
    expect(() => checkCacheGroups(['past_', ''])).toThrow(InvalidArgumentError);
    expect(() => checkCacheGroups(['past_', ''])).toThrow(/cacheGroups\[1\] must be a non-empty prefix, got ""/);
    expect(() => checkCacheGroups(['past_swa_', 'past_'])).toThrow(InvalidArgumentError);
    expect(() => checkCacheGroups(['past_swa_', 'past_'])).toThrow(/prefix "past_" is a prefix of "past_swa_"/);
  });
});
