/**
 * Builds a `ModelLayout` from the graphs a backend lists: classification, variants and splits, KV
 * slots, IO roles, and every cross-graph consistency check Genie's validateModel makes.
 */
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { KvMode } from '../kv/kv-cache.js';
import {
  classifyGraph, isDecoderGraph, type ClassifiedTensor, type GraphInfo,
} from './classify.js';
import { ModelLayoutError } from './errors.js';
import { collectKvSlots } from './kv-slots.js';
import type { IoTensor, ModelInput, ModelLayout, Variant, VisionGraph } from './layout.js';
import { checkCacheGroups, DEFAULT_CACHE_GROUP, TensorNames } from './names.js';
import { checkQuantConsistency } from './quant-consistency.js';
import { dimFromEnd, leadingElements } from './sizes.js';
import type { GraphSpec, TensorSpec } from './spec.js';
import { groupVariants, type VariantGroup } from './variants.js';

export interface DiscoverOptions {
  /** KV cache-group prefixes (`engine.cache-groups[].prefix`); default `["past_"]`. */
  readonly cacheGroups?: readonly string[];
}

/**
 * @throws InvalidArgumentError for bad `cacheGroups` or an empty graph list.
 * @throws ModelLayoutError when the graphs do not form a drivable model (the message names graphs and tensors).
 * @throws NotSupportedError for a model without KV-cache tensors (Genie's AR == CL "bert-cache" mode).
 */
export function discoverModelLayout(graphs: readonly GraphSpec[], options: DiscoverOptions = {}): ModelLayout {
  const cacheGroups = options.cacheGroups ?? [DEFAULT_CACHE_GROUP];
  checkCacheGroups(cacheGroups);
  if (graphs.length === 0) throw new InvalidArgumentError('graphs must list at least one graph, got none');
  checkUniqueNames(graphs);

  const infos = graphs.map((g) => classifyGraph(g, cacheGroups));
  checkQuantConsistency(infos);
  const decoderGraphs = infos.filter(isDecoderGraph);
  const logitsGraphs = decoderGraphs.filter((i) => i.outputs.some((t) => t.role.kind === 'logits'));
  if (logitsGraphs.length === 0) {
    throw new ModelLayoutError(
      `no graph outputs "${TensorNames.logits}" (graphs: ${decoderGraphs.map((i) => `"${i.graph.name}"`).join(', ') || 'none besides vision graphs'})`,
    );
  }
  const kvMode = commonKvMode(decoderGraphs);
  const groups = groupVariants(decoderGraphs);
  const input = modelInput(groups);
  const kv = collectKvSlots(groups, cacheGroups);
  const variants = groups.map((g) => toVariant(g, kvMode));
  const contextLengths = [...new Set(variants.map((v) => v.cl))];
  const hiddenStates = hiddenStateNames(groups);
  const logits = vocabTensor(logitsGraphs);
  const role = (kind: ClassifiedTensor['role']['kind']): TensorSpec | undefined => firstInput(decoderGraphs, kind);
  const cos = role('position_ids_cos');

  return {
    variants,
    contextLengths,
    maxContextLength: contextLengths[contextLengths.length - 1],
    splitCount: groups[0].parts.length,
    kvMode,
    kv,
    input,
    hiddenSize: hiddenSize(input, hiddenStates, groups),
    vocabSize: dimFromEnd(logits.shape, 1),
    logits: ioTensor(logits),
    attentionMask: optionalIo(role('attention_mask')),
    positionCos: optionalIo(cos),
    positionSin: optionalIo(role('position_ids_sin')),
    positionIds: optionalIo(role('position_ids')),
    cacheIndex: optionalIo(role('cache_index')),
    ropeDim: cos === undefined ? undefined : dimFromEnd(cos.shape, 1),
    hiddenStates,
    visionGraphs: infos.flatMap((i): VisionGraph[] =>
      (i.kind === 'image-encoder' || i.kind === 'projector' ? [{ kind: i.kind, graph: i.graph }] : [])),
    cacheGroups: [...cacheGroups],
    graphs: new Map(infos.map((i) => [i.graph.name, i])),
  };
}

function checkUniqueNames(graphs: readonly GraphSpec[]): void {
  const seen = new Map<string, GraphSpec>();
  for (const g of graphs) {
    const first = seen.get(g.name);
    if (first !== undefined) {
      throw new ModelLayoutError(`graph name "${g.name}" appears twice (ctx-bins ${first.ctxBin} and ${g.ctxBin}); graph names must be unique`);
    }
    seen.set(g.name, g);
  }
}

function commonKvMode(graphs: readonly GraphInfo[]): KvMode {
  const withKv = graphs.filter((i) => i.kvMode !== undefined);
  if (withKv.length === 0) {
    throw new NotSupportedError(
      'the graphs have no KV-cache tensors (past_key_*_in/_out); AR == CL models that re-feed the whole history are not supported',
    );
  }
  const first = withKv[0];
  const other = withKv.find((i) => i.kvMode !== first.kvMode);
  if (other !== undefined) {
    throw new ModelLayoutError(
      `graph "${first.graph.name}" takes KV in ${first.kvMode} mode but graph "${other.graph.name}" in ${other.kvMode} mode`,
    );
  }
  return first.kvMode!;
}

function modelInput(groups: readonly VariantGroup[]): ModelInput {
  let first: { input: ModelInput; graph: string } | undefined;
  for (const group of groups) {
    const part = group.parts[0];
    const input = partInput(part);
    if (input === undefined) {
      throw new ModelLayoutError(
        `the first part "${part.graph.name}" of variant ${group.id} takes neither input_ids nor input embeddings ` +
          `(input_embeds, inputs_embeds, or a split-embedding Gather output); its inputs are ` +
          part.inputs.map((t) => `"${t.spec.name}"`).join(', '),
      );
    }
    if (first === undefined) {
      first = { input, graph: part.graph.name };
    } else if (first.input.tensor.name !== input.tensor.name) {
      throw new ModelLayoutError(
        `first parts disagree on the model input: graph "${first.graph}" takes "${first.input.tensor.name}" but graph ` +
          `"${part.graph.name}" takes "${input.tensor.name}"`,
      );
    }
  }
  return first!.input;
}

function partInput(part: GraphInfo): ModelInput | undefined {
  const ids = part.inputs.find((t) => t.role.kind === 'input_ids');
  if (ids !== undefined) return { kind: 'ids', tensor: ioTensor(ids.spec) };
  const embeds = part.inputs.find((t) => t.role.kind === 'input_embeds');
  if (embeds === undefined) return undefined;
  return { kind: 'embeddings', tensor: ioTensor(embeds.spec), rowElements: dimFromEnd(embeds.spec.shape, 1) };
}

function toVariant(group: VariantGroup, mode: KvMode): Variant {
  const last = group.parts[group.parts.length - 1];
  const logits = last.outputs.find((t) => t.role.kind === 'logits');
  return {
    id: group.id,
    ar: group.ar,
    cl: group.cl,
    pastDim: mode === 'concat' ? group.cl - group.ar : group.cl,
    parts: group.parts.map((p) => p.graph),
    kinds: group.parts.map((p) => p.kind),
    hasLogits: logits !== undefined,
    logitsRows: logits === undefined ? 0 : leadingElements(logits.spec.shape),
  };
}

/** Outputs of part i that part i+1 takes. */
function hiddenStateNames(groups: readonly VariantGroup[]): string[] {
  const names = new Set<string>();
  for (const group of groups) {
    for (let i = 0; i + 1 < group.parts.length; i++) {
      const next = new Set(group.parts[i + 1].inputs.map((t) => t.spec.name));
      for (const t of group.parts[i].outputs) {
        if (next.has(t.spec.name)) names.add(t.spec.name);
      }
    }
  }
  return [...names];
}

function hiddenSize(input: ModelInput, hiddenStates: readonly string[], groups: readonly VariantGroup[]): number | undefined {
  if (input.kind === 'embeddings') {
    const first = groups[0].parts[0].inputs.find((t) => t.spec.name === input.tensor.name)!;
    return first.role.kind === 'input_embeds' ? input.rowElements / first.role.widthFactor : input.rowElements;
  }
  if (hiddenStates.length === 0) return undefined;
  const handoff = groups.flatMap((g) => g.parts).flatMap((p) => p.outputs).find((t) => t.spec.name === hiddenStates[0])!;
  return dimFromEnd(handoff.spec.shape, 1);
}

function vocabTensor(logitsGraphs: readonly GraphInfo[]): TensorSpec {
  let first: { graph: string; spec: TensorSpec } | undefined;
  for (const info of logitsGraphs) {
    const spec = info.outputs.find((t) => t.role.kind === 'logits')!.spec;
    if (first === undefined) {
      first = { graph: info.graph.name, spec };
    } else if (dimFromEnd(spec.shape, 1) !== dimFromEnd(first.spec.shape, 1)) {
      throw new ModelLayoutError(
        `"logits" of graph "${first.graph}" has vocab ${dimFromEnd(first.spec.shape, 1)} but "logits" of graph ` +
          `"${info.graph.name}" has vocab ${dimFromEnd(spec.shape, 1)}`,
      );
    }
  }
  return first!.spec;
}

function firstInput(graphs: readonly GraphInfo[], kind: ClassifiedTensor['role']['kind']): TensorSpec | undefined {
  for (const info of graphs) {
    const t = info.inputs.find((x) => x.role.kind === kind);
    if (t !== undefined) return t.spec;
  }
  return undefined;
}

function ioTensor(spec: TensorSpec): IoTensor {
  return spec.encoding === undefined
    ? { name: spec.name, dtype: spec.dtype }
    : { name: spec.name, dtype: spec.dtype, encoding: spec.encoding };
}

function optionalIo(spec: TensorSpec | undefined): IoTensor | undefined {
  return spec === undefined ? undefined : ioTensor(spec);
}
