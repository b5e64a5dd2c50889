import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import {
  checkContextSize, discoverModelLayout, ModelLayoutError, type GraphSpec, type TensorSpec,
} from '../../src/graphs/index.js';
import { aiHubName, bundle, withTensor, type BundleOptions } from './fixtures.js';

/** Asserts the class and message, and that the untouched bundle still discovers (nothing is cached between calls). */
function expectLayoutError(graphs: readonly GraphSpec[], message: RegExp, cls: new (...a: never[]) => Error = ModelLayoutError): void {
  expect(() => discoverModelLayout(graphs)).toThrow(cls);
  expect(() => discoverModelLayout(graphs)).toThrow(message);
}

const base: BundleOptions = { splits: 3, layers: 4 };
const g = (ar: number, part: number, n = 3, cl = 4096): string => aiHubName(ar, cl, part, n);
// With 3 parts and 4 layers: part 1 holds layers 0-1, part 2 layer 2, part 3 layer 3.

describe('discoverModelLayout rejects broken bundles with ModelLayoutError naming graphs and tensors', () => {
  it('valid base bundle discovers (sanity for every case below)', () => {
    expect(() => discoverModelLayout(bundle(base).graphs)).not.toThrow();
  });

  it('no graph with logits', () => {
    expectLayoutError(bundle({ prefillOnlyArs: [1, 128] }).graphs, /no graph outputs "logits" \(graphs: "token_ar1_cl4096_1_of_3", .*"prompt_ar128_cl4096_3_of_3"\)/);
  });

  it('a KV tensor without its _in/_out partner', () => {
    const graphs = withTensor(bundle(base).graphs, g(128, 3), 'past_key_3_out', () => undefined);
    expectLayoutError(graphs, /graph "prompt_ar128_cl4096_3_of_3" has KV tensor "past_key_3_in" but no "past_key_3_out"/);
  });

  it('a KV tensor without its key/value sibling', () => {
    let graphs = withTensor(bundle(base).graphs, g(1, 2), 'past_value_2_in', () => undefined);
    graphs = withTensor(graphs, g(1, 2), 'past_value_2_out', () => undefined);
    expectLayoutError(graphs, /graph "token_ar1_cl4096_2_of_3" has KV tensor "past_key_2_in" but no "past_value_2_in"/);
  });

  it('a KV _in tensor listed as an output', () => {
    const { graphs } = bundle(base);
    const moved = graphs.map((x) => {
      if (x.name !== g(1, 3)) return x;
      const keyIn = x.inputs.find((t) => t.name === 'past_key_3_in')!;
      return { ...x, inputs: x.inputs.filter((t) => t !== keyIn), outputs: [...x.outputs, keyIn] };
    });
    expectLayoutError(moved, /graph "token_ar1_cl4096_3_of_3": KV tensor "past_key_3_in" is an output, but "_in" tensors must be graph inputs/);
  });

  it('a KV name without a layer number', () => {
    let graphs = bundle(base).graphs;
    for (const [from, to] of [['past_key_3_in', 'past_key_in'], ['past_key_3_out', 'past_key_out']]) {
      graphs = withTensor(graphs, g(128, 3), from, (t) => ({ ...t, name: to }));
    }
    expectLayoutError(graphs, /graph "prompt_ar128_cl4096_3_of_3": KV tensor "past_key_in" has no layer number/);
  });

  it('same-named tensors with different quant params across graphs (both graphs and encodings named)', () => {
    const graphs = withTensor(bundle(base).graphs, g(128, 2), 'attention_mask', (t) => ({ ...t, encoding: { scale: 0.5, offset: -7 } }));
    expectLayoutError(
      graphs,
      /tensor "attention_mask" of graph "token_ar1_cl4096_1_of_3" \(UFIXED_POINT_16, scale=0\.000762\d* offset=-65535\) and tensor "attention_mask" of graph "prompt_ar128_cl4096_2_of_3" \(UFIXED_POINT_16, scale=0\.5 offset=-7\) must have the same dtype and quantization: same-named tensors share one buffer/,
    );
  });

  it('same-named tensors with different dtypes', () => {
    const graphs = withTensor(bundle(base).graphs, g(1, 3), 'logits', (t) => ({ name: t.name, dtype: 'FLOAT_32', shape: t.shape }));
    expectLayoutError(graphs, /tensor "logits" of graph "token_ar1_cl4096_3_of_3" \(FLOAT_32, no encoding\) and tensor "logits" of graph "prompt_ar128_cl4096_3_of_3" \(UFIXED_POINT_16, scale=0\.0025 offset=-31000\)/);
  });

  it('the _in and _out of one KV tensor with different quant params', () => {
    let graphs = bundle({ ...base, ars: [128] }).graphs;
    graphs = withTensor(graphs, g(128, 1), 'past_value_1_out', (t) => ({ ...t, encoding: { scale: 0.9, offset: -128 } }));
    expectLayoutError(
      graphs,
      /tensor "past_value_1_in" of graph "prompt_ar128_cl4096_1_of_3" \(UFIXED_POINT_8, scale=0\.04 offset=-128\) and tensor "past_value_1_out" of graph "prompt_ar128_cl4096_1_of_3" \(UFIXED_POINT_8, scale=0\.9 offset=-128\) must have the same dtype and quantization: a KV _in\/_out pair shares one region/,
    );
  });

  it('a graph whose AR cannot be determined', () => {
    const mystery: GraphSpec = {
      name: 'mystery_graph', ctxBin: 0,
      inputs: [{ name: 'h_in', dtype: 'FLOAT_32', shape: [1, 4, 16] }],
      outputs: [{ name: 'h_out', dtype: 'FLOAT_32', shape: [1, 4, 16] }],
    };
    expectLayoutError([...bundle(base).graphs, mystery], /cannot determine the AR \(tokens per step\) of graph "mystery_graph"/);
  });

  it('a graph whose CL cannot be determined and has no CL to share', () => {
    const embed: GraphSpec = {
      name: 'embedding_only', ctxBin: 0,
      inputs: [{ name: 'input_ids', dtype: 'INT_32', shape: [1, 64] }],
      outputs: [{ name: 'hidden', dtype: 'FLOAT_32', shape: [1, 64, 16] }],
    };
    expectLayoutError(
      [...bundle(base).graphs, embed],
      /cannot determine the context length \(CL\) of graph "embedding_only" \(AR=64\).*no other graph with AR=64 has a CL/,
    );
  });

  it('inconsistent split counts across variants', () => {
    const graphs = bundle(base).graphs.filter((x) => x.name !== g(1, 2));
    expectLayoutError(
      graphs,
      /inconsistent split counts across variants: ar1_cl4096 has 2 part\(s\) \("token_ar1_cl4096_1_of_3", "token_ar1_cl4096_3_of_3"\) but ar128_cl4096 has 3 part\(s\)/,
    );
  });

  it('splits of one variant that disagree on N, repeat an index, lack _i_of_N, or are out of range', () => {
    const graphs = bundle(base).graphs;
    const rename = (from: string, to: string): GraphSpec[] => graphs.map((x) => (x.name === from ? { ...x, name: to } : x));
    expectLayoutError(rename(g(1, 3), 'token_ar1_cl4096_3_of_4'),
      /variant ar1_cl4096: graph "token_ar1_cl4096_2_of_3" is split 2 of 3 but graph "token_ar1_cl4096_3_of_4" is split 3 of 4/);
    expectLayoutError(rename(g(1, 3), 'token_ar1_cl4096_b_2_of_3'),
      /variant ar1_cl4096: graphs "token_ar1_cl4096_2_of_3" and "token_ar1_cl4096_b_2_of_3" are both split 2 of 3/);
    expectLayoutError(rename(g(1, 3), 'token_ar1_cl4096_last'),
      /graphs "token_ar1_cl4096_last" and "token_ar1_cl4096_1_of_3" both belong to variant ar1_cl4096, but "token_ar1_cl4096_last" has no "_<i>_of_<N>"/);
    expectLayoutError(rename(g(1, 3), 'token_ar1_cl4096_0_of_3'),
      /graph "token_ar1_cl4096_0_of_3": split "_0_of_3" is out of range/);
  });

  it('a first part that takes neither ids nor embeddings (its inputs listed)', () => {
    const graphs = withTensor(bundle(base).graphs, g(128, 1), 'input_ids', () => undefined);
    expectLayoutError(
      graphs,
      /the first part "prompt_ar128_cl4096_1_of_3" of variant ar128_cl4096 takes neither input_ids nor input embeddings .*its inputs are "attention_mask", "position_ids_cos"/,
    );
  });

  it('first parts that take different inputs', () => {
    const graphs = withTensor(bundle({ ...base, input: 'inputs_embeds' }).graphs, g(128, 1), 'inputs_embeds', (t) => ({ ...t, name: 'input_embeds' }));
    expectLayoutError(graphs, /graph "token_ar1_cl4096_1_of_3" takes "inputs_embeds" but graph "prompt_ar128_cl4096_1_of_3" takes "input_embeds"/);
  });

  it('a KV input whose past dim is neither CL nor CL-AR', () => {
    let graphs = bundle(base).graphs;
    for (const name of ['past_key_2_in', 'past_value_2_in']) {
      graphs = withTensor(graphs, g(128, 2), name, (t) => ({ ...t, shape: t.shape.map((d) => (d === 4096 - 128 ? 4000 : d)) }));
    }
    expectLayoutError(graphs, /graph "prompt_ar128_cl4096_2_of_3" \(AR=128, CL=4096\): KV input "past_key_2_in" \[2, 1, 8, 4000\] has past dim 4000, which is neither CL=4096 \(scatter\) nor CL-AR=3968 \(concat\)/);
  });

  it('KV shapes that disagree with AR or with each other', () => {
    const graphs = bundle(base).graphs;
    const edit = (tensor: string, f: (t: TensorSpec) => TensorSpec) => withTensor(graphs, g(128, 3), tensor, f);
    expectLayoutError(edit('past_key_3_out', (t) => ({ ...t, shape: [2, 1, 8, 64] })),
      /graph "prompt_ar128_cl4096_3_of_3" \(AR=128, CL=4096\): key output "past_key_3_out" \[2, 1, 8, 64\] must end in AR=128/);
    expectLayoutError(edit('past_value_3_out', (t) => ({ ...t, shape: [2, 1, 64, 8] })),
      /value output "past_value_3_out" \[2, 1, 64, 8\] must have AR=128 as its second-to-last dim/);
    expectLayoutError(edit('past_key_3_out', (t) => ({ ...t, shape: [4, 1, 8, 128] })),
      /key input "past_key_3_in" \[2, 1, 8, 3968\] and output "past_key_3_out" \[4, 1, 8, 128\] disagree on heads or head_dim/);
    expectLayoutError(edit('past_value_3_out', (t) => ({ ...t, shape: [2, 1, 128, 4] })),
      /value input "past_value_3_in" \[2, 1, 3968, 8\] and output "past_value_3_out" \[2, 1, 128, 4\] disagree on heads or head_dim/);
    expectLayoutError(edit('past_value_3_in', (t) => ({ ...t, shape: [2, 1, 3000, 8] })),
      /key input "past_key_3_in" \[2, 1, 8, 3968\] and value input "past_value_3_in" \[2, 1, 3000, 8\] disagree on the past dim/);
    expectLayoutError(edit('past_value_3_out', (t) => ({ ...t, shape: [128] })),
      /KV tensor "past_value_3_out" \[128\] must have at least 2 dims/);
  });

  it('graphs that mix concat and scatter KV', () => {
    const concat = bundle({ ...base, ars: [128] }).graphs;
    const scatter = bundle({ ...base, ars: [1], mode: 'scatter' }).graphs;
    expectLayoutError([...concat, ...scatter], /graph "prompt_ar128_cl4096_1_of_3" takes KV in concat mode but graph "token_ar1_cl4096_1_of_3" in scatter mode/);
    let mixed = bundle(base).graphs;
    for (const name of ['past_key_1_in', 'past_value_1_in']) {
      mixed = withTensor(mixed, g(128, 1), name, (t) => ({ ...t, shape: t.shape.map((d) => (d === 4096 - 128 ? 4096 : d)) }));
    }
    expectLayoutError(mixed, /graph "prompt_ar128_cl4096_1_of_3" \(AR=128, CL=4096\): KV input "past_key_1_in" \[2, 1, 8, 4096\] implies scatter but "past_key_0_in" \[2, 1, 8, 3968\] implies concat/);
  });

  it('logits with different vocab sizes', () => {
    const graphs = withTensor(bundle(base).graphs, g(128, 3), 'logits', (t) => ({ ...t, shape: [1, 128, 51] }));
    expectLayoutError(graphs, /"logits" of graph "token_ar1_cl4096_3_of_3" has vocab 50 but "logits" of graph "prompt_ar128_cl4096_3_of_3" has vocab 51/);
  });

  it('a KV layer in different parts across variants', () => {
    const graphs = bundle(base).graphs;
    const layer2 = (t: TensorSpec): boolean => t.name.includes('_2_');
    const from = graphs.find((x) => x.name === g(1, 2))!;
    const moved = graphs.map((x) => {
      if (x.name === g(1, 2)) return { ...x, inputs: x.inputs.filter((t) => !layer2(t)), outputs: x.outputs.filter((t) => !layer2(t)) };
      if (x.name === g(1, 3)) return { ...x, inputs: [...x.inputs, ...from.inputs.filter(layer2)], outputs: [...x.outputs, ...from.outputs.filter(layer2)] };
      return x;
    });
    expectLayoutError(moved, /KV "past_key_2" is in part 3 \("token_ar1_cl4096_3_of_3"\) of variant ar1_cl4096 but in part 2 \("prompt_ar128_cl4096_2_of_3"\) of variant ar128_cl4096/);
  });

  it('a variant missing a KV layer', () => {
    let graphs = bundle(base).graphs;
    for (const name of ['past_key_2_in', 'past_key_2_out', 'past_value_2_in', 'past_value_2_out']) {
      graphs = withTensor(graphs, g(128, 2), name, () => undefined);
    }
    expectLayoutError(graphs, /variant ar128_cl4096 has no KV tensors "past_key_2_in"\/"past_key_2_out", which graph "token_ar1_cl4096_2_of_3" of variant ar1_cl4096 has/);
  });

  it('a KV layer with different heads across graphs', () => {
    let graphs = bundle(base).graphs;
    for (const name of ['past_key_2_in', 'past_key_2_out', 'past_value_2_in', 'past_value_2_out']) {
      graphs = withTensor(graphs, g(128, 2), name, (t) => ({ ...t, shape: [4, ...t.shape.slice(1)] }));
    }
    expectLayoutError(graphs, /KV "past_key_2" has 2 head\(s\) x head_dim 8 in graph "token_ar1_cl4096_2_of_3" but 4 head\(s\) x head_dim 8 in graph "prompt_ar128_cl4096_2_of_3"/);
  });

  it('duplicate graph names', () => {
    const graphs = bundle(base).graphs;
    expectLayoutError([...graphs, { ...graphs[0], ctxBin: 5 }], /graph name "token_ar1_cl4096_1_of_3" appears twice \(ctx-bins 0 and 5\)/);
  });
});

describe('discoverModelLayout rejects other bad input', () => {
  it('a model without KV tensors is NotSupportedError', () => {
    const graphs = bundle({ ...base, layers: 0 }).graphs;
    expectLayoutError(graphs, /the graphs have no KV-cache tensors/, NotSupportedError);
  });

  it('bad options and empty lists are InvalidArgumentError', () => {
    const { graphs } = bundle(base);
    expect(() => discoverModelLayout(graphs, { cacheGroups: ['past_', 'past_swa_'] })).toThrow(InvalidArgumentError);
    expect(() => discoverModelLayout(graphs, { cacheGroups: ['past_', 'past_swa_'] })).toThrow(/prefix "past_" is a prefix of "past_swa_"/);
    expect(() => discoverModelLayout([])).toThrow(InvalidArgumentError);
    expect(() => discoverModelLayout([])).toThrow(/graphs must list at least one graph, got none/);
  });
});

describe('checkContextSize', () => {
  const layout = discoverModelLayout(bundle({ cls: [2048, 4096] }).graphs);

  it('accepts sizes up to the largest CL', () => {
    expect(() => checkContextSize(layout, 4096)).not.toThrow();
    expect(() => checkContextSize(layout, 3000)).not.toThrow();
  });

  it('rejects a larger size with Genie\'s message, and non-positive sizes', () => {
    expect(() => checkContextSize(layout, 8192)).toThrow(ModelLayoutError);
    expect(() => checkContextSize(layout, 8192)).toThrow('Config specifies context.size=8192, but the largest CL in the binaries is 4096');
    expect(() => checkContextSize(layout, 0)).toThrow(InvalidArgumentError);
    expect(() => checkContextSize(layout, 0)).toThrow(/context.size must be a positive integer, got 0/);
    expect(() => checkContextSize(layout, 1.5)).toThrow(/got 1.5/);
    expect(() => checkContextSize(layout, 4096)).not.toThrow();
  });
});
