import { describe, expect, it } from 'vitest';
import { discoverModelLayout, type GraphSpec, type ModelLayout } from '../../src/graphs/index.js';
import {
  aiHubName, bundle, hiddenName, U16_HIDDEN, U16_LOGITS, U16_MASK, U16_ROPE, type BundleOptions,
} from './fixtures.js';

/** What a bundle's parameters say the layout must be (independent of the implementation). */
function expectLayoutOf(layout: ModelLayout, opts: BundleOptions, graphs: readonly GraphSpec[]): void {
  const { options: o, layersOf } = bundle(opts);
  const name = opts.name ?? aiHubName;
  const ids = [...o.cls].sort((a, b) => a - b).flatMap((cl) => [...o.ars].sort((a, b) => a - b).map((ar) => ({ ar, cl })));
  expect(layout.variants.map((v) => v.id)).toEqual(ids.map(({ ar, cl }) => `ar${ar}_cl${cl}`));
  const byName = new Map(graphs.map((g) => [g.name, g]));
  for (const [i, v] of layout.variants.entries()) {
    const { ar, cl } = ids[i];
    expect(v.ar).toBe(ar);
    expect(v.cl).toBe(cl);
    expect(v.pastDim).toBe(o.mode === 'concat' ? cl - ar : cl);
    expect(v.parts.map((p) => p.name)).toEqual(Array.from({ length: o.splits }, (_, p) => name(ar, cl, p + 1, o.splits)));
    for (const part of v.parts) expect(part).toBe(byName.get(part.name));
    expect(v.hasLogits).toBe(!o.prefillOnlyArs.includes(ar));
    expect(v.logitsRows).toBe(v.hasLogits ? ar : 0);
  }
  expect(layout.contextLengths).toEqual([...new Set(o.cls)].sort((a, b) => a - b));
  expect(layout.maxContextLength).toBe(Math.max(...o.cls));
  expect(layout.splitCount).toBe(o.splits);
  expect(layout.kvMode).toBe(o.mode);
  expect(layout.vocabSize).toBe(o.vocab);
  expect(layout.logits).toEqual({ name: 'logits', dtype: 'UFIXED_POINT_16', encoding: U16_LOGITS });
  expect(layout.ropeDim).toBe(o.headDim / 2);
  expect(layout.positionCos).toEqual({ name: 'position_ids_cos', dtype: 'UFIXED_POINT_16', encoding: U16_ROPE });
  expect(layout.positionSin).toEqual({ name: 'position_ids_sin', dtype: 'UFIXED_POINT_16', encoding: U16_ROPE });
  expect(layout.attentionMask).toEqual(o.noMask ? undefined : { name: 'attention_mask', dtype: 'UFIXED_POINT_16', encoding: U16_MASK });
  expect(layout.cacheIndex).toEqual(o.mode === 'scatter' ? { name: 'cache_index', dtype: 'INT_32' } : undefined);
  expect(layout.positionIds).toBeUndefined();

  const expectedSlots = layersOf.flatMap((layers, part) =>
    layers.flatMap((layer) => {
      const heads = o.perHead ? Array.from({ length: o.kvHeads }, (_, h) => h) : [undefined];
      return heads.map((head) => {
        const suffix = head === undefined ? `${layer}` : `${layer}_h${head}`;
        const tensor = (kind: 'key' | 'value') => ({
          in: `${o.kvPrefix}${kind}_${suffix}_in`,
          out: `${o.kvPrefix}${kind}_${suffix}_out`,
          region: `${o.kvPrefix}${kind}_${suffix}`,
          dtype: 'UFIXED_POINT_8',
          encoding: { scale: (kind === 'key' ? 0.01 : 0.02) * (layer + 1), offset: -128 },
          heads: o.perHead ? 1 : o.kvHeads,
          headDim: o.headDim,
        });
        return { group: o.kvPrefix, layer, head, part, key: tensor('key'), value: tensor('value') };
      });
    }),
  );
  expect(layout.kv).toEqual(expectedSlots);
}

describe('discoverModelLayout: AI Hub bundles', () => {
  const opts: BundleOptions = { embeddingPart: true, splits: 3, layers: 4 };

  it('finds variants, parts in split order, kinds, KV slots and IO roles', () => {
    const { graphs } = bundle(opts);
    const layout = discoverModelLayout(graphs);
    expectLayoutOf(layout, opts, graphs);
    for (const v of layout.variants) expect(v.kinds).toEqual(['embedding', 'decoder', 'decoder-with-logits']);
    expect(layout.input).toEqual({ kind: 'ids', tensor: { name: 'input_ids', dtype: 'INT_32' } });
    expect(layout.hiddenSize).toBe(16);
    expect(layout.hiddenStates).toEqual([hiddenName(-1), hiddenName(1)]); // layers 0-1 in part 2, 2-3 in part 3
    expect(layout.visionGraphs).toEqual([]);
    expect(layout.graphs.size).toBe(graphs.length);
  });

  it('does not depend on the order the backend lists graphs in', () => {
    const { graphs } = bundle(opts);
    const reversed = discoverModelLayout([...graphs].reverse());
    expect(reversed.variants.map((v) => v.parts.map((p) => p.name))).toEqual(
      discoverModelLayout(graphs).variants.map((v) => v.parts.map((p) => p.name)),
    );
    expect(reversed.kv).toEqual(discoverModelLayout(graphs).kv);
  });

  it('orders 12 splits by number, not as strings (_10_of_12 after _9_of_12)', () => {
    const o12: BundleOptions = { splits: 12, layers: 24 };
    const { graphs } = bundle(o12);
    const layout = discoverModelLayout([...graphs].sort((a, b) => (a.name < b.name ? -1 : 1)));
    expectLayoutOf(layout, o12, graphs);
    const parts = layout.variants[1].parts.map((p) => p.name);
    expect(parts.indexOf('prompt_ar128_cl4096_10_of_12')).toBe(parts.indexOf('prompt_ar128_cl4096_9_of_12') + 1);
    expect([...parts].sort()).not.toEqual(parts);
    // The hidden state chains through all 12 parts in that order.
    expect(layout.hiddenStates).toHaveLength(11);
  });

  it('detects a multi-CL bundle and sorts variants by CL, then AR', () => {
    const multi: BundleOptions = { cls: [4096, 2048], ars: [128, 32] };
    const { graphs } = bundle(multi);
    const layout = discoverModelLayout(graphs);
    expectLayoutOf(layout, multi, graphs);
    expect(layout.variants.map((v) => v.id)).toEqual(['ar32_cl2048', 'ar128_cl2048', 'ar32_cl4096', 'ar128_cl4096']);
  });
});

describe('discoverModelLayout: AR/CL from shapes first, names second', () => {
  it('reads SDK names whose first ar<N> is not the graph AR: shapes win', () => {
    const sdk: BundleOptions = {
      name: (ar, cl, i, n) => (ar === 128 ? `weight_sharing_model_ar1_ar128_cl${cl}_${i}_of_${n}` : `weight_sharing_model_ar1_cl${cl}_${i}_of_${n}`),
    };
    const { graphs } = bundle(sdk);
    expectLayoutOf(discoverModelLayout(graphs), sdk, graphs);
  });

  it('needs no AR/CL in names when shapes tell', () => {
    const anon: BundleOptions = { cls: [2048, 4096], name: (ar, cl, i, n) => `${ar === 1 ? 'decode' : 'prefill'}_${cl === 2048 ? 'short' : 'long'}_${i}_of_${n}` };
    const { graphs } = bundle(anon);
    expectLayoutOf(discoverModelLayout(graphs), anon, graphs);
  });

  it('lets shapes override names that disagree', () => {
    const liar: BundleOptions = { ars: [1, 128], name: (ar, _cl, i, n) => `prompt_ar${ar === 1 ? 64 : 256}_cl512_${i}_of_${n}` };
    const { graphs } = bundle(liar);
    const layout = discoverModelLayout(graphs);
    expect(layout.variants.map((v) => v.id)).toEqual(['ar1_cl4096', 'ar128_cl4096']);
  });

  it('takes AR and CL from the KV tensors when there is no attention mask', () => {
    const noMask: BundleOptions = { noMask: true, name: (ar, _cl, i, n) => `part_${ar === 1 ? 'a' : 'b'}_${i}_of_${n}` };
    const { graphs } = bundle(noMask);
    expectLayoutOf(discoverModelLayout(graphs), noMask, graphs);
  });

  it('shares a part whose CL neither shapes nor name reveal across every CL of its AR', () => {
    const opts: BundleOptions = { embeddingPart: true, cls: [2048, 4096] };
    const { graphs } = bundle(opts);
    const embedding = (ar: number) => ({ ...graphs.find((g) => g.name === aiHubName(ar, 2048, 1, 3))!, name: `embed_${ar === 1 ? 'token' : 'prompt'}_1_of_3` });
    const shared = [
      embedding(1), embedding(128),
      ...graphs.filter((g) => !g.name.endsWith('_1_of_3')),
    ];
    const layout = discoverModelLayout(shared);
    expect(layout.variants.map((v) => v.id)).toEqual(['ar1_cl2048', 'ar128_cl2048', 'ar1_cl4096', 'ar128_cl4096']);
    for (const v of layout.variants) {
      expect(v.parts[0].name).toBe(`embed_${v.ar === 1 ? 'token' : 'prompt'}_1_of_3`);
      expect(v.parts.slice(1).map((p) => p.name)).toEqual([aiHubName(v.ar, v.cl, 2, 3), aiHubName(v.ar, v.cl, 3, 3)]);
    }
    expect(layout.variants[0].parts[0]).toBe(layout.variants[2].parts[0]);
  });

  it('accepts a bundle that starts at part 2 of N (embedding part replaced by a host LUT)', () => {
    const { graphs } = bundle({ embeddingPart: true, splits: 4, layers: 3 });
    const withoutPart1 = graphs.filter((g) => !g.name.endsWith('_1_of_4')).map((g) => (
      g.name.endsWith('_2_of_4')
        ? { ...g, inputs: g.inputs.map((t) => (t.name === hiddenName(-1) ? { ...t, name: '_model_embed_tokens_Gather_Gather_output_0' } : t)) }
        : g
    ));
    const layout = discoverModelLayout(withoutPart1);
    expect(layout.splitCount).toBe(3);
    expect(layout.variants[0].parts.map((p) => p.name)).toEqual(['token_ar1_cl4096_2_of_4', 'token_ar1_cl4096_3_of_4', 'token_ar1_cl4096_4_of_4']);
    expect(layout.input).toEqual({
      kind: 'embeddings', tensor: { name: '_model_embed_tokens_Gather_Gather_output_0', dtype: 'UFIXED_POINT_16', encoding: U16_HIDDEN }, rowElements: 16,
    });
    expect(layout.kv.map((s) => s.part)).toEqual([0, 1, 2]);
  });
});

describe('discoverModelLayout: model shapes', () => {
  it('detects scatter models (KV-in past dim == CL)', () => {
    const scatter: BundleOptions = { mode: 'scatter' };
    const { graphs } = bundle(scatter);
    expectLayoutOf(discoverModelLayout(graphs), scatter, graphs);
  });

  it('handles per-head KV tensors (past_key_3_h5_in)', () => {
    const perHead: BundleOptions = { perHead: true, kvHeads: 3, layers: 5 };
    const { graphs } = bundle(perHead);
    const layout = discoverModelLayout(graphs);
    expectLayoutOf(layout, perHead, graphs);
    expect(layout.kv).toHaveLength(15);
  });

  it('handles another cache-group prefix', () => {
    const swa: BundleOptions = { kvPrefix: 'swa_' };
    const { graphs } = bundle(swa);
    expectLayoutOf(discoverModelLayout(graphs, { cacheGroups: ['swa_'] }), swa, graphs);
  });

  it('reads an embedding-input first part (input_embeds / inputs_embeds / Concat)', () => {
    for (const input of ['input_embeds', 'inputs_embeds'] as const) {
      const { graphs } = bundle({ input });
      const layout = discoverModelLayout(graphs);
      expect(layout.input).toEqual({ kind: 'embeddings', tensor: { name: input, dtype: 'UFIXED_POINT_16', encoding: U16_HIDDEN }, rowElements: 16 });
      expect(layout.hiddenSize).toBe(16);
    }
    const concat = discoverModelLayout(bundle({ input: '_model_embedding_concat_Concat_Concat_output_0', hidden: 24 }).graphs);
    expect(concat.input).toMatchObject({ kind: 'embeddings', rowElements: 48 });
    expect(concat.hiddenSize).toBe(24);
  });

  it('recognises an LM-head-only last part', () => {
    const head: BundleOptions = { lmHeadPart: true, splits: 4, layers: 6 };
    const { graphs } = bundle(head);
    const layout = discoverModelLayout(graphs);
    expectLayoutOf(layout, head, graphs);
    for (const v of layout.variants) expect(v.kinds).toEqual(['decoder', 'decoder', 'decoder', 'lm-head']);
    expect(Math.max(...layout.kv.map((s) => s.part))).toBe(2);
  });

  it('marks prefill-only variants (last part outputs KV only)', () => {
    const prefill: BundleOptions = { prefillOnlyArs: [128] };
    const { graphs } = bundle(prefill);
    const layout = discoverModelLayout(graphs);
    expectLayoutOf(layout, prefill, graphs);
    expect(layout.variants[1].kinds.at(-1)).toBe('decoder');
  });

  it('reads a single-graph model and leaves its hidden size unknown', () => {
    const single: BundleOptions = { splits: 1, name: (ar, cl) => `model_ar${ar}_cl${cl}` };
    const { graphs } = bundle(single);
    const layout = discoverModelLayout(graphs);
    expectLayoutOf(layout, single, graphs);
    expect(layout.hiddenSize).toBeUndefined();
    expect(layout.hiddenStates).toEqual([]);
  });

  it('lists image encoders and projectors apart from the decoder variants', () => {
    const { graphs } = bundle();
    const encoder: GraphSpec = {
      name: 'vision_encoder', ctxBin: 3,
      inputs: [{ name: 'pixel_values', dtype: 'FLOAT_32', shape: [1, 3, 64, 64] }],
      outputs: [{ name: 'image_features', dtype: 'FLOAT_32', shape: [1, 16, 32] }],
    };
    const projector: GraphSpec = {
      name: 'mm_projector', ctxBin: 0,
      inputs: [{ name: 'image_features', dtype: 'FLOAT_32', shape: [1, 16, 32] }],
      outputs: [{ name: 'projected', dtype: 'FLOAT_32', shape: [1, 16, 16] }],
    };
    const layout = discoverModelLayout([encoder, ...graphs, projector]);
    expect(layout.visionGraphs).toEqual([{ kind: 'image-encoder', graph: encoder }, { kind: 'projector', graph: projector }]);
    expect(layout.variants.flatMap((v) => v.parts)).not.toContain(encoder);
  });
});
