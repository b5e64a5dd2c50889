import { z } from 'zod';
import { layerWeightNames, type LayerWeightKey } from './names.js';

/**
 * The model a reference ctx-bin's graphs execute (Qwen2 decoder). Stored in the ctx-bin metadata;
 * `ropeTheta` and `maxPositions` are not used by the graphs (cos/sin are inputs) but let a runtime
 * build its RoPE table from the ctx-bin alone.
 */
export interface ReferenceModel {
  readonly architecture: 'qwen2';
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
}

/** The ReferenceModel fields that give a Qwen2 decoder's shape. */
export type Qwen2ShapeKey = Exclude<keyof ReferenceModel, 'architecture'>;

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
  const { heads, kvHeads, headDim } = keys;
  const value = (m: Record<string, unknown>, key: string): number => m[key] as number;
  return z
    .strictObject({ ...extra, ...shape })
    .refine((m) => value(m, heads) % value(m, kvHeads) === 0, {
      message: `${heads} must be a multiple of ${kvHeads}`,
      path: [kvHeads],
    })
    .refine((m) => value(m, headDim) % 2 === 0, {
      message: `${headDim} must be even (RoPE rotates half-dims)`,
      path: [headDim],
    }) as unknown as z.ZodType<T>;
}

export const referenceModelSchema = qwen2ShapeSchema<ReferenceModel>(
  {
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
  },
  { architecture: z.literal('qwen2') },
);

/** Expected shapes of one decoder layer's weights (`[out, in]` for projections, HF convention). */
export function layerWeightShapes(model: ReferenceModel): Record<LayerWeightKey, number[]> {
  const { hidden, heads, kvHeads, headDim, intermediate } = model;
  return {
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

/** Every weight name and shape of layer `layer`. */
export function layerWeights(model: ReferenceModel, layer: number): Array<[LayerWeightKey, string, number[]]> {
  const names = layerWeightNames(layer);
  const shapes = layerWeightShapes(model);
  return (Object.keys(names) as LayerWeightKey[]).map((key) => [key, names[key], shapes[key]]);
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);
