/**
 * Per-graph classification: tensor roles, graph kind, AR and CL (shapes first, name second, in
 * Genie's priority order, docs/genie-behaviour.md#graph-variants-and-splits), split position, and
 * the per-graph KV checks.
 */
import type { KvMode } from '../kv/kv-cache.js';
import { ModelLayoutError } from './errors.js';
import {
  DEFAULT_CACHE_GROUP, kvPartnerName, kvSiblingName, parseGraphName, tensorRole, type KvRole, type TensorRole,
} from './names.js';
import { elementCount } from '../tensor/shape.js';
import { dimFromEnd, leadingElements, leadingHeads } from './sizes.js';
import type { GraphSpec, TensorSpec } from './spec.js';

/**
 * - `embedding`: takes `input_ids`, no KV, no logits (the split-embedding part 1, Genie's LUT).
 * - `decoder`: outputs KV, no logits (a middle part, or a prefill-only last part).
 * - `decoder-with-logits`: outputs KV and logits (AI Hub's last part, or a whole model).
 * - `lm-head`: outputs logits and no KV.
 * - `image-encoder`: outputs `image_features*` / `vision_embedding*`.
 * - `projector`: takes image features, no KV, no logits (a separate VLM projector graph).
 * - `other`: none of the above (still a valid part, e.g. a decoder slice that outputs no KV).
 */
export type GraphKind =
  | 'embedding' | 'decoder' | 'decoder-with-logits' | 'lm-head' | 'image-encoder' | 'projector' | 'other';

export interface ClassifiedTensor {
  readonly spec: TensorSpec;
  readonly role: TensorRole;
}

export interface GraphInfo {
  readonly graph: GraphSpec;
  readonly kind: GraphKind;
  /** Tokens per step; undefined only for image encoders and projectors. */
  readonly ar: number | undefined;
  /** Context length; undefined when neither shapes nor name say (the layout shares such a part across CLs). */
  readonly cl: number | undefined;
  readonly split: { readonly index: number; readonly count: number } | undefined;
  /** Undefined for graphs without KV tensors. */
  readonly kvMode: KvMode | undefined;
  readonly inputs: readonly ClassifiedTensor[];
  readonly outputs: readonly ClassifiedTensor[];
  /** One entry per KV layer (or layer/head) of the graph. */
  readonly kv: readonly KvQuad[];
}

/** The four tensors of one KV layer (or layer/head) in one graph. */
export interface KvQuad {
  /** Role of the key input (layer, head, group, key region). */
  readonly role: KvRole;
  /** Region name of the value pair (e.g. `past_value_3`). */
  readonly valueRegion: string;
  readonly keyIn: TensorSpec;
  readonly keyOut: TensorSpec;
  readonly valueIn: TensorSpec;
  readonly valueOut: TensorSpec;
}

/** A graph that takes part in the decoder variants; it always has an AR. */
export type DecoderGraphInfo = GraphInfo & { readonly ar: number };

export function isVisionKind(kind: GraphKind): boolean {
  return kind === 'image-encoder' || kind === 'projector';
}

export function isDecoderGraph(info: GraphInfo): info is DecoderGraphInfo {
  return !isVisionKind(info.kind);
}

/**
 * Classifies one graph and checks what can be checked on it alone: KV names carry a layer number,
 * `_in` tensors are inputs and `_out` tensors outputs, every KV tensor has its in/out partner and its
 * key/value sibling, KV shapes agree with AR/CL, and AR (and, for KV graphs, CL) can be determined.
 * @throws ModelLayoutError naming the graph and tensor.
 */
export function classifyGraph(graph: GraphSpec, cacheGroups: readonly string[] = [DEFAULT_CACHE_GROUP]): GraphInfo {
  const inputs = graph.inputs.map((spec) => classifyTensor(graph, spec, cacheGroups));
  const outputs = graph.outputs.map((spec) => classifyTensor(graph, spec, cacheGroups));
  const kv = kvQuads(graph, inputs, outputs);
  const kind = graphKind(inputs, outputs);
  const name = parseGraphName(graph.name);
  checkSplit(graph, name.split);
  if (isVisionKind(kind)) {
    return { graph, kind, ar: undefined, cl: undefined, split: name.split, kvMode: undefined, inputs, outputs, kv };
  }
  const ar = arFromShapes(inputs, outputs, kv) ?? name.ar;
  if (ar === undefined) {
    throw new ModelLayoutError(
      `cannot determine the AR (tokens per step) of graph "${graph.name}": it has no input_ids/input_embeds, ` +
        'attention_mask, KV output or logits to measure, and no "ar<N>" in its name',
    );
  }
  const cl = clFromShapes(inputs, kv) ?? name.cl;
  // A graph with KV always has a CL: clFromShapes reads it from the mask or from key in + out.
  const kvMode = cl === undefined || kv.length === 0 ? undefined : checkKvShapes(graph, kv, ar, cl);
  return { graph, kind, ar, cl, split: name.split, kvMode, inputs, outputs, kv };
}

function classifyTensor(graph: GraphSpec, spec: TensorSpec, cacheGroups: readonly string[]): ClassifiedTensor {
  try {
    return { spec, role: tensorRole(spec.name, cacheGroups) };
  } catch (error) {
    if (error instanceof ModelLayoutError) throw new ModelLayoutError(`graph "${graph.name}": ${error.message}`);
    throw error;
  }
}

function kvQuads(graph: GraphSpec, inputs: readonly ClassifiedTensor[], outputs: readonly ClassifiedTensor[]): KvQuad[] {
  const roles = new Map<string, KvRole>();
  const specs = new Map<string, TensorSpec>();
  const collect = (list: readonly ClassifiedTensor[], expected: 'in' | 'out'): void => {
    for (const { spec, role } of list) {
      if (role.kind !== 'kv') continue;
      if (role.direction !== expected) {
        throw new ModelLayoutError(
          `graph "${graph.name}": KV tensor "${spec.name}" is an ${expected === 'in' ? 'input' : 'output'}, ` +
            `but "_${role.direction}" tensors must be graph ${role.direction === 'in' ? 'inputs' : 'outputs'}`,
        );
      }
      roles.set(spec.name, role);
      specs.set(spec.name, spec);
    }
  };
  collect(inputs, 'in');
  collect(outputs, 'out');
  for (const [name, role] of roles) {
    for (const other of [kvPartnerName(role), kvSiblingName(role)]) {
      if (!roles.has(other)) throw new ModelLayoutError(`graph "${graph.name}" has KV tensor "${name}" but no "${other}"`);
    }
  }
  const quads: KvQuad[] = [];
  for (const [name, role] of roles) {
    if (role.tensor !== 'key' || role.direction !== 'in') continue;
    const keyOut = kvPartnerName(role);
    const valueIn = kvSiblingName(role);
    quads.push({
      role,
      valueRegion: roles.get(valueIn)!.region,
      keyIn: specs.get(name)!,
      keyOut: specs.get(keyOut)!,
      valueIn: specs.get(valueIn)!,
      valueOut: specs.get(kvSiblingName(roles.get(keyOut)!))!,
    });
  }
  return quads;
}

function graphKind(inputs: readonly ClassifiedTensor[], outputs: readonly ClassifiedTensor[]): GraphKind {
  const has = (list: readonly ClassifiedTensor[], kind: TensorRole['kind']): boolean => list.some((t) => t.role.kind === kind);
  if (has(outputs, 'image_features')) return 'image-encoder';
  const kvOut = has(outputs, 'kv');
  const logits = has(outputs, 'logits');
  if (logits) return kvOut ? 'decoder-with-logits' : 'lm-head';
  if (kvOut) return 'decoder';
  if (has(inputs, 'image_features')) return 'projector';
  if (has(inputs, 'input_ids')) return 'embedding';
  return 'other';
}

function checkSplit(graph: GraphSpec, split: { index: number; count: number } | undefined): void {
  if (split !== undefined && (split.count < 1 || split.index < 1 || split.index > split.count)) {
    throw new ModelLayoutError(
      `graph "${graph.name}": split "_${split.index}_of_${split.count}" is out of range (expected 1 <= i <= N)`,
    );
  }
}

function find(list: readonly ClassifiedTensor[], kind: TensorRole['kind']): TensorSpec | undefined {
  return list.find((t) => t.role.kind === kind)?.spec;
}

function arFromShapes(
  inputs: readonly ClassifiedTensor[], outputs: readonly ClassifiedTensor[], kv: readonly KvQuad[],
): number | undefined {
  const ids = find(inputs, 'input_ids');
  if (ids !== undefined) return elementCount(ids.shape);
  const embeds = find(inputs, 'input_embeds');
  if (embeds !== undefined) return leadingElements(embeds.shape);
  const mask = find(inputs, 'attention_mask');
  if (mask !== undefined) return leadingElements(mask.shape);
  if (kv.length > 0) return dimFromEnd(kv[0].keyOut.shape, 1);
  const logits = find(outputs, 'logits');
  if (logits !== undefined) return leadingElements(logits.shape);
  return undefined;
}

function clFromShapes(inputs: readonly ClassifiedTensor[], kv: readonly KvQuad[]): number | undefined {
  const mask = find(inputs, 'attention_mask');
  if (mask !== undefined) return dimFromEnd(mask.shape, 1);
  if (kv.length > 0) return dimFromEnd(kv[0].keyIn.shape, 1) + dimFromEnd(kv[0].keyOut.shape, 1);
  return undefined;
}

/**
 * K is `[heads.., head_dim, past]` in and `[heads.., head_dim, AR]` out; V is `[heads.., past, head_dim]`
 * in and `[heads.., AR, head_dim]` out. Returns the past-dim mode the KV-in shape implies.
 */
function checkKvShapes(graph: GraphSpec, kv: readonly KvQuad[], ar: number, cl: number): KvMode {
  const fail = (what: string): never => {
    throw new ModelLayoutError(`graph "${graph.name}" (AR=${ar}, CL=${cl}): ${what}`);
  };
  const show = (t: TensorSpec): string => `"${t.name}" [${t.shape.join(', ')}]`;
  let first: { mode: KvMode; from: TensorSpec } | undefined;
  for (const { keyIn, keyOut, valueIn, valueOut } of kv) {
    for (const t of [keyIn, keyOut, valueIn, valueOut]) {
      if (t.shape.length < 2) fail(`KV tensor ${show(t)} must have at least 2 dims`);
    }
    if (dimFromEnd(keyOut.shape, 1) !== ar) fail(`key output ${show(keyOut)} must end in AR=${ar}`);
    if (dimFromEnd(valueOut.shape, 2) !== ar) fail(`value output ${show(valueOut)} must have AR=${ar} as its second-to-last dim`);
    if (leadingHeads(keyIn.shape) !== leadingHeads(keyOut.shape) || dimFromEnd(keyIn.shape, 2) !== dimFromEnd(keyOut.shape, 2)) {
      fail(`key input ${show(keyIn)} and output ${show(keyOut)} disagree on heads or head_dim`);
    }
    if (leadingHeads(valueIn.shape) !== leadingHeads(valueOut.shape) || dimFromEnd(valueIn.shape, 1) !== dimFromEnd(valueOut.shape, 1)) {
      fail(`value input ${show(valueIn)} and output ${show(valueOut)} disagree on heads or head_dim`);
    }
    const past = dimFromEnd(keyIn.shape, 1);
    if (dimFromEnd(valueIn.shape, 2) !== past) fail(`key input ${show(keyIn)} and value input ${show(valueIn)} disagree on the past dim`);
    const mode: KvMode | undefined = past === cl ? 'scatter' : past === cl - ar ? 'concat' : undefined;
    if (mode === undefined) {
      return fail(`KV input ${show(keyIn)} has past dim ${past}, which is neither CL=${cl} (scatter) nor CL-AR=${cl - ar} (concat)`);
    }
    if (first !== undefined && first.mode !== mode) {
      fail(`KV input ${show(keyIn)} implies ${mode} but ${show(first.from)} implies ${first.mode}`);
    }
    first ??= { mode, from: keyIn };
  }
  return first!.mode;
}
