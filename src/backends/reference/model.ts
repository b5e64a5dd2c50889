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

const positiveInt = z.int().positive();

export const referenceModelSchema = z
  .strictObject({
    architecture: z.literal('qwen2'),
    hidden: positiveInt,
    heads: positiveInt,
    kvHeads: positiveInt,
    headDim: positiveInt,
    intermediate: positiveInt,
    layers: positiveInt,
    rmsEps: z.number().positive(),
    vocab: positiveInt,
    ropeTheta: z.number().positive(),
    maxPositions: positiveInt,
    tieWordEmbeddings: z.boolean(),
  })
  .refine((m) => m.heads % m.kvHeads === 0, {
    message: 'heads must be a multiple of kvHeads',
    path: ['kvHeads'],
  })
  .refine((m) => m.headDim % 2 === 0, { message: 'headDim must be even (RoPE rotates half-dims)', path: ['headDim'] });

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

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);
