/**
 * Every tensor-name and graph-name pattern genie-ts recognises (docs/genie-behaviour.md#tensor-names,
 * docs/genie-behaviour.md#graph-variants-and-splits).
 * Nothing else in the project matches tensor or graph names.
 */
import { InvalidArgumentError } from '../errors.js';
import { ModelLayoutError } from './errors.js';

/** Genie's default KV cache-group prefix (`cache-groups[].prefix`). */
export const DEFAULT_CACHE_GROUP = 'past_';

/** Fixed tensor names by role. */
export const TensorNames = {
  inputIds: 'input_ids',
  inputEmbeds: 'input_embeds',
  /** The split-embedding part's output, which the next part takes as its embedding input. */
  embeddingGather: '_model_embed_tokens_Gather_Gather_output_0',
  attentionMask: 'attention_mask',
  positionCos: 'position_ids_cos',
  positionSin: 'position_ids_sin',
  positionIds: 'position_ids',
  cacheIndex: 'cache_index',
  logits: 'logits',
  pixelValues: 'pixel_values',
  /** Genie's default image-encoder output. */
  imageFeatures: 'image_features',
  /** The other image-encoder output name Genie reads. */
  visionEmbedding: 'vision_embedding',
  fullAttentionMask: 'full_attention_mask',
  windowAttentionMask: 'window_attention_mask',
} as const;

/**
 * The only inputs Genie's image encoder takes (docs/genie-behaviour.md#tensor-names): `pixel_values`
 * and, where the graph has them, RoPE tables and attention masks of the vision tower. Any other
 * input name is an error.
 */
export const IMAGE_ENCODER_INPUTS: readonly string[] = Object.freeze([
  TensorNames.pixelValues,
  TensorNames.positionSin,
  TensorNames.positionCos,
  TensorNames.fullAttentionMask,
  TensorNames.windowAttentionMask,
]);

/**
 * Embedding inputs Genie accepts, with the multiple of the hidden size in their last dim: the
 * split-embedding Gather outputs stand in for `inputs_embeds`, and the Concat one is twice as wide.
 */
const EMBEDDING_INPUTS: ReadonlyMap<string, number> = new Map([
  [TensorNames.inputEmbeds, 1],
  ['inputs_embeds', 1],
  [TensorNames.embeddingGather, 1],
  ['_model_model_embed_tokens_Gather_Gather_output_0', 1],
  ['_model_embedding_concat_Concat_Concat_output_0', 2],
]);

/** Output-name prefixes of an image encoder (`image_features`, `vision_embedding`, with suffixes). */
export const IMAGE_FEATURE_PREFIXES: readonly string[] = Object.freeze(['image_features', 'vision_embedding']);

/** The name of one tensor of a whole-layer KV pair: `{group}{key|value}_{layer}_{in|out}`. */
export function kvTensorName(
  tensor: 'key' | 'value', layer: number, direction: 'in' | 'out', group: string = DEFAULT_CACHE_GROUP,
): string {
  return `${group}${tensor}_${layer}_${direction}`;
}

/** One tensor of a KV pair: `{prefix}{key|value}_{layer}[_h{head}]_{in|out}`. */
export interface KvRole {
  readonly kind: 'kv';
  /** The cache-group prefix the name starts with, e.g. `past_`. */
  readonly group: string;
  readonly tensor: 'key' | 'value';
  readonly direction: 'in' | 'out';
  /** First number after the prefix. */
  readonly layer: number;
  /** Second number after the prefix (per-head tensors), else undefined. */
  readonly head: number | undefined;
  /** The name without `_in`/`_out`: names the shared `[in | out]` buffer region. */
  readonly region: string;
}

export type SimpleRoleKind =
  | 'input_ids'
  | 'attention_mask'
  | 'position_ids_cos'
  | 'position_ids_sin'
  | 'position_ids'
  | 'cache_index'
  | 'logits'
  | 'pixel_values'
  | 'image_features'
  | 'other';

export type TensorRole =
  | { readonly kind: SimpleRoleKind }
  | { readonly kind: 'input_embeds'; readonly widthFactor: number }
  | KvRole;

const SIMPLE_ROLES: ReadonlyMap<string, { readonly kind: SimpleRoleKind }> = new Map([
  [TensorNames.inputIds, { kind: 'input_ids' }],
  [TensorNames.attentionMask, { kind: 'attention_mask' }],
  [TensorNames.positionCos, { kind: 'position_ids_cos' }],
  [TensorNames.positionSin, { kind: 'position_ids_sin' }],
  [TensorNames.positionIds, { kind: 'position_ids' }],
  [TensorNames.cacheIndex, { kind: 'cache_index' }],
  [TensorNames.logits, { kind: 'logits' }],
  [TensorNames.pixelValues, { kind: 'pixel_values' }],
] as const);
const IMAGE_FEATURES_ROLE = { kind: 'image_features' } as const;
const OTHER_ROLE = { kind: 'other' } as const;

/**
 * Validates cache-group prefixes as Genie does: non-empty, none a prefix of another.
 * @throws InvalidArgumentError naming the offending prefix(es).
 */
export function checkCacheGroups(groups: readonly string[]): void {
  if (groups.length === 0) throw new InvalidArgumentError('cacheGroups must list at least one prefix, got none');
  for (const [i, a] of groups.entries()) {
    if (typeof a !== 'string' || a.length === 0) {
      throw new InvalidArgumentError(`cacheGroups[${i}] must be a non-empty prefix, got ${JSON.stringify(a)}`);
    }
    for (const [j, b] of groups.entries()) {
      if (i !== j && b.startsWith(a)) {
        throw new InvalidArgumentError(`cacheGroups: prefix "${a}" is a prefix of "${b}"; cache-group prefixes must not nest`);
      }
    }
  }
}

/**
 * The role a tensor name plays. Hidden-state handoffs between parts are not visible in names; the
 * layout finds them structurally (they come back as `other`).
 * @throws ModelLayoutError for a KV-looking name (prefix, key/value, `_in`/`_out`) without a layer number.
 */
export function tensorRole(name: string, cacheGroups: readonly string[] = [DEFAULT_CACHE_GROUP]): TensorRole {
  const simple = SIMPLE_ROLES.get(name);
  if (simple !== undefined) return simple;
  const widthFactor = EMBEDDING_INPUTS.get(name);
  if (widthFactor !== undefined) return { kind: 'input_embeds', widthFactor };
  if (IMAGE_FEATURE_PREFIXES.some((p) => name.startsWith(p))) return IMAGE_FEATURES_ROLE;
  return kvRole(name, cacheGroups) ?? OTHER_ROLE;
}

function kvRole(name: string, cacheGroups: readonly string[]): KvRole | undefined {
  const group = cacheGroups.find((g) => name.startsWith(g));
  if (group === undefined) return undefined;
  const direction = name.endsWith('_in') ? 'in' : name.endsWith('_out') ? 'out' : undefined;
  if (direction === undefined) return undefined;
  const region = name.slice(0, name.length - direction.length - 1);
  const body = region.slice(group.length);
  const keyAt = body.indexOf('key');
  const valueAt = body.indexOf('value');
  if (keyAt < 0 && valueAt < 0) return undefined;
  const tensor = valueAt < 0 || (keyAt >= 0 && keyAt < valueAt) ? 'key' : 'value';
  const numbers = body.match(/\d+/g);
  if (numbers === null) {
    throw new ModelLayoutError(`KV tensor "${name}" has no layer number (expected e.g. "${kvTensorName(tensor, 0, direction, group)}")`);
  }
  return {
    kind: 'kv',
    group,
    tensor,
    direction,
    layer: Number(numbers[0]),
    head: numbers.length > 1 ? Number(numbers[1]) : undefined,
    region,
  };
}

/** The other half of a KV pair: `_in` <-> `_out` (Genie's pairing rule). */
export function kvPartnerName(role: KvRole): string {
  return `${role.region}_${role.direction === 'in' ? 'out' : 'in'}`;
}

/** The same layer's tensor of the other kind: `key` <-> `value`, same direction. */
export function kvSiblingName(role: KvRole): string {
  const body = role.region.slice(role.group.length);
  const [from, to] = role.tensor === 'key' ? ['key', 'value'] : ['value', 'key'];
  return `${role.group}${body.replace(from, to)}_${role.direction}`;
}

/** What a graph's name says about it; every field is undefined when the name does not say. */
export interface GraphNameInfo {
  /** From `ar<N>` / `AR_<N>` (the first one). */
  readonly ar: number | undefined;
  /** From `cl<N>` / `CL_<N>` (the first one), else the largest number in the name above 501. */
  readonly cl: number | undefined;
  /** From the last `_<i>_of_<N>`. */
  readonly split: { readonly index: number; readonly count: number } | undefined;
}

/** Genie's CONTEXT_SAFE_LIMIT: a bare number above this in a graph name is taken as the CL. */
const CONTEXT_SAFE_LIMIT = 501;
const AR_PATTERN = /(?:^|[^a-zA-Z])(?:ar|AR)[_-]?(\d+)/;
const CL_PATTERN = /(?:^|[^a-zA-Z])(?:cl|CL)[_-]?(\d+)/;
const SPLIT_PATTERN = /_(\d+)_of_(\d+)/g;

/**
 * Graph-name conventions a model export uses: AI Hub's `token_ar1_cl{CL}_{i}_of_{N}` /
 * `prompt_ar{AR}_cl{CL}_{i}_of_{N}`, or the neutral `ar{AR}_cl{CL}_{i}_of_{N}`.
 */
export type GraphNaming = 'ai-hub' | 'neutral';

/** The name of part `part` of `parts` of the AR/CL variant, in `naming`'s convention; `parseGraphName` reads it back. */
export function graphName(naming: GraphNaming, ar: number, cl: number, part: number, parts: number): string {
  const stem = `ar${ar}_cl${cl}_${part}_of_${parts}`;
  if (naming === 'neutral') return stem;
  return `${ar === 1 ? 'token' : 'prompt'}_${stem}`;
}

export function parseGraphName(name: string): GraphNameInfo {
  const ar = AR_PATTERN.exec(name);
  const cl = CL_PATTERN.exec(name);
  let split: GraphNameInfo['split'];
  for (const m of name.matchAll(SPLIT_PATTERN)) split = { index: Number(m[1]), count: Number(m[2]) };
  return {
    ar: ar === null ? undefined : Number(ar[1]),
    cl: cl === null ? largestNumberAbove(name, CONTEXT_SAFE_LIMIT) : Number(cl[1]),
    split,
  };
}

function largestNumberAbove(name: string, limit: number): number | undefined {
  let best: number | undefined;
  for (const m of name.matchAll(/\d+/g)) {
    const n = Number(m[0]);
    if (n > limit && (best === undefined || n > best)) best = n;
  }
  return best;
}
