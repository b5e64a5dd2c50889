import { z } from 'zod';
import type { FloatTensor } from '../../formats/safetensors.js';
import { elementCount } from '../../tensor/shape.js';
import { validateRopeFrequencyOptions, type RopeScaling } from '../../rope/inv-freq.js';
import { layerWeightNames, type LayerWeightKey } from './names.js';

/**
 * The decoder families the executor runs. They share one layer (RMSNorm, GQA attention with
 * split-half RoPE, SwiGLU MLP) and differ in how the weights are stored: Qwen2 has QKV biases,
 * Llama has none, Phi-3 fuses `qkv_proj` and `gate_up_proj` (no biases).
 */
export const DECODER_ARCHITECTURES = ['qwen2', 'llama', 'phi3'] as const;
export type DecoderArchitecture = (typeof DECODER_ARCHITECTURES)[number];

/**
 * RoPE scaling a decoder's cos/sin tables need (`rope/`'s llama3 and longrope forms, factor lists as
 * arrays so they round-trip through JSON). Absent means plain RoPE.
 */
export type DecoderRopeScaling =
  | Extract<RopeScaling, { readonly type: 'llama3' }>
  | {
      readonly type: 'longrope';
      readonly factor: number;
      readonly shortFactor: readonly number[];
      readonly longFactor: readonly number[];
      readonly originalMaxPositionEmbeddings: number;
    };

/**
 * The model a reference ctx-bin's graphs execute (a Qwen2, Llama or Phi-3 decoder). Stored in the
 * ctx-bin metadata; `ropeTheta`, `ropeScaling` and `maxPositions` are not used by the graphs (cos/sin
 * are inputs) but let a runtime build its RoPE table from the ctx-bin alone.
 */
export interface ReferenceModel {
  readonly architecture: DecoderArchitecture;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly rmsEps: number;
  readonly vocab: number;
  readonly ropeTheta: number;
  readonly maxPositions: number;
  readonly tieWordEmbeddings: boolean;
  /** llama3 or longrope scaling of the cos/sin tables; absent: plain RoPE. Needs metadata version 3, as Llama and Phi-3 do. */
  readonly ropeScaling?: DecoderRopeScaling;
}

/** The ReferenceModel fields that give a decoder's shape. */
export type Qwen2ShapeKey = Exclude<keyof ReferenceModel, 'architecture' | 'ropeScaling'>;

const ropeScalingSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('llama3'),
    factor: z.number().positive(),
    lowFreqFactor: z.number().positive(),
    highFreqFactor: z.number().positive(),
    originalMaxPositionEmbeddings: z.int().positive(),
  }),
  z.strictObject({
    type: z.literal('longrope'),
    factor: z.number().min(1),
    shortFactor: z.array(z.number().positive()),
    longFactor: z.array(z.number().positive()),
    originalMaxPositionEmbeddings: z.int().min(2),
  }),
]);

/** Why `scaling` cannot scale a head of `headDim` (rope/'s own check), or null. */
export function ropeScalingProblem(scaling: DecoderRopeScaling, headDim: number, ropeTheta: number): string | null {
  try {
    validateRopeFrequencyOptions({ ropeDim: headDim / 2, theta: ropeTheta, contextLength: 1, scaling });
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The fields beside the shape: the architecture and the RoPE scaling, under the same names in a
 * checkpoint config and in ctx-bin metadata. `scope` 'qwen2-only' is metadata versions 1 and 2
 * (Qwen2, no scaling).
 */
export function decoderExtraFields(scope: 'qwen2-only' | 'any'): z.ZodRawShape {
  return scope === 'qwen2-only'
    ? { architecture: z.literal('qwen2') }
    : { architecture: z.enum(DECODER_ARCHITECTURES), ropeScaling: ropeScalingSchema.optional() };
}

/**
 * The one schema of a Qwen2 decoder's shape, under the field names `keys` gives (in that order):
 * ReferenceModel's own in ctx-bin metadata, Qwen2Config's for a checkpoint. Sizes are positive
 * integers, heads a multiple of KV heads, headDim even. `extra` adds fields that are not the shape.
 */
export function qwen2ShapeSchema<T>(keys: Readonly<Record<Qwen2ShapeKey, string>>, extra: z.ZodRawShape = {}): z.ZodType<T> {
  const positiveInt = z.int().positive();
  const positive = z.number().positive();
  const types: Record<Qwen2ShapeKey, z.ZodType> = {
    hidden: positiveInt,
    heads: positiveInt,
    kvHeads: positiveInt,
    headDim: positiveInt,
    intermediate: positiveInt,
    layers: positiveInt,
    rmsEps: positive,
    vocab: positiveInt,
    ropeTheta: positive,
    maxPositions: positiveInt,
    tieWordEmbeddings: z.boolean(),
  };
  const shape = Object.fromEntries((Object.keys(keys) as Qwen2ShapeKey[]).map((key) => [keys[key], types[key]]));
  const { heads, kvHeads, headDim, ropeTheta } = keys;
  const value = (m: Record<string, unknown>, key: string): number => m[key] as number;
  const scalingProblem = (m: Record<string, unknown>): string | null =>
    m.ropeScaling === undefined || value(m, headDim) % 2 !== 0
      ? null
      : ropeScalingProblem(m.ropeScaling as DecoderRopeScaling, value(m, headDim), value(m, ropeTheta));
  return z
    .strictObject({ ...extra, ...shape })
    .refine((m) => value(m, heads) % value(m, kvHeads) === 0, {
      message: `${heads} must be a multiple of ${kvHeads}`,
      path: [kvHeads],
    })
    .refine((m) => value(m, headDim) % 2 === 0, {
      message: `${headDim} must be even (RoPE rotates half-dims)`,
      path: [headDim],
    })
    .superRefine((m, ctx) => {
      const problem = scalingProblem(m);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, path: ['ropeScaling'] });
    }) as unknown as z.ZodType<T>;
}

const MODEL_KEYS: Readonly<Record<Qwen2ShapeKey, string>> = {
  hidden: 'hidden',
  heads: 'heads',
  kvHeads: 'kvHeads',
  headDim: 'headDim',
  intermediate: 'intermediate',
  layers: 'layers',
  rmsEps: 'rmsEps',
  vocab: 'vocab',
  ropeTheta: 'ropeTheta',
  maxPositions: 'maxPositions',
  tieWordEmbeddings: 'tieWordEmbeddings',
};

/** The model of a version 1 or 2 ctx-bin: Qwen2, no RoPE scaling. */
export const referenceModelSchema = qwen2ShapeSchema<ReferenceModel>(MODEL_KEYS, decoderExtraFields('qwen2-only'));
/** The model of a version 3 ctx-bin: any decoder architecture, optional RoPE scaling. */
export const referenceModelSchemaV3 = qwen2ShapeSchema<ReferenceModel>(MODEL_KEYS, decoderExtraFields('any'));

/** The stored weights of one layer, per architecture (the rest of `layerWeightNames` is absent). */
const LAYER_KEYS: Readonly<Record<DecoderArchitecture, readonly LayerWeightKey[]>> = {
  qwen2: ['inputNorm', 'qWeight', 'qBias', 'kWeight', 'kBias', 'vWeight', 'vBias', 'oWeight', 'postNorm', 'gateWeight', 'upWeight', 'downWeight'],
  llama: ['inputNorm', 'qWeight', 'kWeight', 'vWeight', 'oWeight', 'postNorm', 'gateWeight', 'upWeight', 'downWeight'],
  phi3: ['inputNorm', 'qkvWeight', 'oWeight', 'postNorm', 'gateUpWeight', 'downWeight'],
};

/** Expected shapes of every known layer weight (`[out, in]` for projections, HF convention). */
function allLayerWeightShapes(model: ReferenceModel): Record<LayerWeightKey, number[]> {
  const { hidden, heads, kvHeads, headDim, intermediate } = model;
  return {
    qkvWeight: [(heads + 2 * kvHeads) * headDim, hidden],
    gateUpWeight: [2 * intermediate, hidden],
    inputNorm: [hidden],
    qWeight: [heads * headDim, hidden],
    qBias: [heads * headDim],
    kWeight: [kvHeads * headDim, hidden],
    kBias: [kvHeads * headDim],
    vWeight: [kvHeads * headDim, hidden],
    vBias: [kvHeads * headDim],
    oWeight: [hidden, heads * headDim],
    postNorm: [hidden],
    gateWeight: [intermediate, hidden],
    upWeight: [intermediate, hidden],
    downWeight: [hidden, intermediate],
  };
}

/** Every stored weight of layer `layer` for the model's architecture: key, HF name, shape. */
export function layerWeights(model: ReferenceModel, layer: number): Array<[LayerWeightKey, string, number[]]> {
  const names = layerWeightNames(layer);
  const shapes = allLayerWeightShapes(model);
  return LAYER_KEYS[model.architecture].map((key) => [key, names[key], shapes[key]]);
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** The first weight of `shapes` that `weights` lacks or holds in another shape, described, or null. */
export function weightsProblem(shapes: ReadonlyMap<string, readonly number[]>, weights: ReadonlyMap<string, FloatTensor>): string | null {
  for (const [name, shape] of shapes) {
    const tensor = weights.get(name);
    if (tensor === undefined) return `missing weight "${name}"`;
    if (!sameShape(tensor.shape, shape)) return `weight "${name}" has shape [${tensor.shape}], expected [${shape}]`;
    if (tensor.data.length !== elementCount(shape)) {
      return `weight "${name}" has ${tensor.data.length} values, shape [${shape}] needs ${elementCount(shape)}`;
    }
  }
  return null;
}
