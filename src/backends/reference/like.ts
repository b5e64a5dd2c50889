/**
 * The float twin of a compiled model: a checkpoint split into reference ctx-bins whose graphs are
 * the given `GraphSpec`s (a device bundle's, read through its backend or from an `inspect --json`
 * description): the same graph names, ctx-bin files, AR/CL variants, split points, input kind and
 * IO tensors (names, shapes, dtypes, encodings), so a trace of the twin and a trace of the device
 * align tensor for tensor. Only the weights (float32) and the executor differ.
 */
import { NotSupportedError } from '../../errors.js';
import type { FloatTensor } from '../../formats/safetensors.js';
import { discoverModelLayout } from '../../graphs/discover.js';
import type { ModelLayout } from '../../graphs/layout.js';
import { tensorRole, TensorNames } from '../../graphs/names.js';
import type { GraphSpec } from '../../graphs/spec.js';
import type { ReferenceCtxBinPart } from './ctx-bin.js';
import { CheckpointError } from './errors.js';
import { CTX_BIN_FORMAT, ctxBinVersionOf, type GraphStages, type ReferenceGraphMeta } from './metadata.js';
import type { ReferenceModel } from './model.js';
import { referenceModelOf, type Qwen2Config } from './qwen2.js';
import { partTensors } from './split.js';
import type { WeightNeeds } from './weights.js';

/** The graphs to export like, and where they were read (named in errors). */
export interface LikeGraphs {
  readonly graphs: readonly GraphSpec[];
  readonly source: string;
}

/** What the graphs fix of an export: its variants, parts and input. */
export interface LikeShape {
  readonly arSet: number[];
  /** The largest CL. */
  readonly cl: number;
  readonly splits: number;
  readonly input: 'ids' | 'embeds';
  /** Ctx-bin files (graphs keep their `ctxBin` index). */
  readonly ctxBins: number;
}

interface Checked {
  readonly layout: ModelLayout;
  readonly shape: LikeShape;
}

/**
 * Checks that the reference executor can run `like`'s graphs with `config`'s checkpoint and returns
 * what they fix.
 * @throws ModelLayoutError when the graphs do not form a model
 * @throws NotSupportedError for a layout the reference executor does not run (named)
 * @throws CheckpointError naming the checkpoint's value and the graphs' when they disagree
 */
export function likeShape(like: LikeGraphs, config: Qwen2Config, checkpoint: string): LikeShape {
  return check(like, config, checkpoint).shape;
}

function check(like: LikeGraphs, config: Qwen2Config, checkpoint: string): Checked {
  const { source } = like;
  const layout = discoverModelLayout(like.graphs);
  const unsupported = (what: string): never => {
    throw new NotSupportedError(`the graphs of "${source}" have ${what}: the reference executor cannot be laid out like them`);
  };
  if (layout.visionGraphs.length > 0) unsupported(`vision graphs ("${layout.visionGraphs[0].graph.name}")`);
  if (layout.kvMode !== 'concat') unsupported(`a ${layout.kvMode} KV cache (the reference executor reads KV-in of CL - AR entries)`);
  if (layout.positionIds !== undefined) unsupported(`"${layout.positionIds.name}" (the reference executor takes RoPE as cos/sin)`);
  if (layout.cacheIndex !== undefined) unsupported(`"${layout.cacheIndex.name}"`);
  if (layout.positionCos === undefined) unsupported('no position_ids_cos/sin inputs');
  const perHead = layout.kv.find((slot) => slot.head !== undefined);
  if (perHead !== undefined) unsupported(`per-head KV tensors ("${perHead.key.in}")`);
  if (layout.input.kind === 'embeddings' && layout.hiddenSize !== undefined && layout.input.rowElements !== layout.hiddenSize) {
    unsupported(`embedding rows of ${layout.input.rowElements} elements for hidden size ${layout.hiddenSize} (a split-embedding concat)`);
  }

  const mismatch = (key: string, value: number, graphs: string): never => {
    throw new CheckpointError(`checkpoint "${checkpoint}" has ${key} ${value}, but the graphs of "${source}" have ${graphs}`);
  };
  const layers = new Set(layout.kv.map((slot) => slot.layer));
  if (layers.size !== config.numHiddenLayers || [...layers].some((l) => l >= config.numHiddenLayers)) {
    mismatch('num_hidden_layers', config.numHiddenLayers, `KV tensors for ${layers.size} layers (${[...layers].sort((a, b) => a - b).join(', ')})`);
  }
  if (layout.hiddenSize !== undefined && layout.hiddenSize !== config.hiddenSize) {
    mismatch('hidden_size', config.hiddenSize, `hidden size ${layout.hiddenSize} (tensor "${layout.hiddenStates[0] ?? layout.input.tensor.name}")`);
  }
  if (layout.vocabSize !== config.vocabSize) mismatch('vocab_size', config.vocabSize, `vocabulary ${layout.vocabSize} (tensor "${layout.logits.name}")`);
  for (const slot of layout.kv) {
    if (slot.key.heads !== config.numKeyValueHeads) {
      mismatch('num_key_value_heads', config.numKeyValueHeads, `${slot.key.heads} KV heads (tensor "${slot.key.in}")`);
    }
    if (slot.key.headDim !== config.headDim) mismatch('head_dim', config.headDim, `head dim ${slot.key.headDim} (tensor "${slot.key.in}")`);
  }
  if (layout.ropeDim !== undefined && layout.ropeDim !== config.headDim / 2) {
    mismatch('head_dim', config.headDim, `RoPE dim ${layout.ropeDim} (tensor "${layout.positionCos!.name}", head_dim / 2 expected)`);
  }
  const ctxBins = Math.max(...like.graphs.map((g) => g.ctxBin)) + 1;
  const empty = Array.from({ length: ctxBins }, (_, i) => i).find((i) => !like.graphs.some((g) => g.ctxBin === i));
  if (empty !== undefined) unsupported(`no graph in ctx-bin ${empty} of ${ctxBins}`);
  const shape: LikeShape = {
    arSet: [...new Set(layout.variants.map((v) => v.ar))].sort((a, b) => a - b),
    cl: layout.maxContextLength,
    splits: layout.splitCount,
    input: layout.input.kind === 'ids' ? 'ids' : 'embeds',
    ctxBins,
  };
  return { layout, shape };
}

/** A graph's stages and layer range, read from its IO. */
function graphMeta(spec: GraphSpec, layout: ModelLayout): ReferenceGraphMeta & { needs: WeightNeeds } {
  const embedding = spec.inputs.some((t) => t.name === TensorNames.inputIds);
  const lmHead = spec.outputs.some((t) => t.name === TensorNames.logits);
  const layers = new Set<number>();
  for (const t of spec.inputs) {
    const role = tensorRole(t.name, layout.cacheGroups);
    if (role.kind === 'kv') layers.add(role.layer);
  }
  const sorted = [...layers].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const end = sorted.length === 0 ? 0 : sorted[sorted.length - 1] + 1;
  if (end - first !== sorted.length) {
    throw new NotSupportedError(`graph "${spec.name}" holds layers ${sorted.join(', ')}: the reference executor runs a contiguous range`);
  }
  const kind = [embedding && 'embedding', end > first && 'decoder', lmHead && 'lm-head'].filter(Boolean).join('+') as GraphStages;
  return { name: spec.name, kind, layers: [first, end], inputs: spec.inputs, outputs: spec.outputs, needs: { embedding, layers, lmHead } };
}

/**
 * The twin's ctx-bins, one per ctx-bin of `like` (in order), each holding the graphs of that file
 * with the weights their stages read. Weights are shared with `weights`, not copied.
 * @throws as `likeShape`; CtxBinError (when written) for IO the executor cannot run
 */
export function splitLike(
  config: Qwen2Config,
  weights: ReadonlyMap<string, FloatTensor>,
  like: LikeGraphs,
  checkpoint: string,
): ReferenceCtxBinPart<ReferenceModel>[] {
  const { layout, shape } = check(like, config, checkpoint);
  const model = referenceModelOf(config);
  return Array.from({ length: shape.ctxBins }, (_, ctxBin) => {
    const graphs = like.graphs.filter((g) => g.ctxBin === ctxBin).map((spec) => graphMeta(spec, layout));
    const needs: WeightNeeds = {
      embedding: graphs.some((g) => g.needs.embedding),
      layers: new Set(graphs.flatMap((g) => [...g.needs.layers])),
      lmHead: graphs.some((g) => g.needs.lmHead),
    };
    return {
      metadata: { format: CTX_BIN_FORMAT, version: ctxBinVersionOf(model), model, graphs: graphs.map(({ needs: _, ...meta }) => meta) },
      tensors: partTensors(model, needs, weights),
    };
  });
}
