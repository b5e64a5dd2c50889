/**
 * The vision side of a LLaVA-style VLM as reference ctx-bins execute it: an optional ViT tower
 * (conv patch embedding with stride = patch, a learned position embedding, pre-LN transformer
 * blocks with full attention and an exact-erf GELU MLP, a final LayerNorm) and FastVLM's
 * `mlp2x_gelu` projector (Linear, exact-erf GELU, Linear, both with bias;
 * docs/genie-behaviour.md#fastvlm-vision-side).
 *
 * Weight names are Hugging Face style. The projector's are FastVLM's own
 * (`model.mm_projector.0.*`, `model.mm_projector.2.*`, Linear weights `[out, in]`), so a real
 * FastVLM projector loads from its checkpoint. The tower is genie-ts's small ViT, not FastViTHD;
 * its names follow Hugging Face's CLIP vision model under `model.vision_tower.`:
 *
 * | weight | shape |
 * | --- | --- |
 * | `model.vision_tower.embeddings.patch_embedding.weight` / `.bias` | `[Dv, C, P, P]` / `[Dv]` |
 * | `model.vision_tower.embeddings.position_embedding.weight` | `[N, Dv]`, N = (H/P)(W/P), row-major over H then W |
 * | `model.vision_tower.encoder.layers.{i}.layer_norm1.weight` / `.bias` | `[Dv]` |
 * | `model.vision_tower.encoder.layers.{i}.self_attn.{q,k,v,out}_proj.weight` / `.bias` | `[Dv, Dv]` / `[Dv]` |
 * | `model.vision_tower.encoder.layers.{i}.layer_norm2.weight` / `.bias` | `[Dv]` |
 * | `model.vision_tower.encoder.layers.{i}.mlp.fc1.weight` / `.bias` | `[I, Dv]` / `[I]` |
 * | `model.vision_tower.encoder.layers.{i}.mlp.fc2.weight` / `.bias` | `[Dv, I]` / `[Dv]` |
 * | `model.vision_tower.post_layernorm.weight` / `.bias` | `[Dv]` |
 * | `model.mm_projector.0.weight` / `.bias` | `[D, Dv]` / `[D]` |
 * | `model.mm_projector.2.weight` / `.bias` | `[D, D]` / `[D]` |
 *
 * Unlike CLIP there is no class token and no pre-LayerNorm, and the patch embedding has a bias.
 */
import { z } from 'zod';
import { describeFirstIssue } from './zod-issue.js';

/** The ViT tower's shape. */
export interface VisionTower {
  readonly type: 'vit';
  /** Image channels C (3 for RGB). */
  readonly channels: number;
  /** `[H, W]` of `pixel_values`; both multiples of `patchSize`. */
  readonly imageSize: readonly [number, number];
  /** P: the patch embedding's kernel and stride. */
  readonly patchSize: number;
  /** Dv: the tower's width, the width of the features it outputs (the projector's input). */
  readonly hidden: number;
  readonly heads: number;
  /** I: the MLP's inner width. */
  readonly intermediate: number;
  readonly layers: number;
  readonly layerNormEps: number;
}

/** FastVLM's `mlp2x_gelu` projector: Linear(inputSize -> hidden), GELU, Linear(hidden -> hidden). */
export interface VisionProjector {
  readonly type: 'mlp2x_gelu';
  /** Dv (`mm_hidden_size`): the width of the image features it takes. */
  readonly inputSize: number;
  /** D (`hidden_size`): the decoder's embedding width, the width of the rows it outputs. */
  readonly hidden: number;
}

/**
 * The model of a vision reference ctx-bin (metadata `model`, ctx-bin version 2). `tower` is absent
 * for a projector-only model (e.g. the projector of a real FastVLM checkpoint, whose FastViTHD
 * tower genie-ts does not implement).
 */
export interface ReferenceVisionModel {
  readonly architecture: 'vision';
  readonly tower?: VisionTower;
  readonly projector: VisionProjector;
}

const positiveInt = z.int().positive();

const towerSchema = z
  .strictObject({
    type: z.literal('vit'),
    channels: positiveInt,
    imageSize: z.tuple([positiveInt, positiveInt]),
    patchSize: positiveInt,
    hidden: positiveInt,
    heads: positiveInt,
    intermediate: positiveInt,
    layers: positiveInt,
    layerNormEps: z.number().positive(),
  })
  .refine((t) => t.imageSize.every((d) => d % t.patchSize === 0), {
    message: 'imageSize must be a multiple of patchSize in both dims',
    path: ['imageSize'],
  })
  .refine((t) => t.hidden % t.heads === 0, { message: 'hidden must be a multiple of heads', path: ['heads'] });

const projectorSchema = z.strictObject({
  type: z.literal('mlp2x_gelu'),
  inputSize: positiveInt,
  hidden: positiveInt,
});

/** The metadata schema of a `ReferenceVisionModel`; the tower's width must be the projector's input. */
export const referenceVisionModelSchema = z
  .strictObject({
    architecture: z.literal('vision'),
    tower: towerSchema.optional(),
    projector: projectorSchema,
  })
  .refine((m) => m.tower === undefined || m.tower.hidden === m.projector.inputSize, {
    message: "projector.inputSize must be the tower's hidden size",
    path: ['projector', 'inputSize'],
  }) as unknown as z.ZodType<ReferenceVisionModel>;

/** Why `model` is not a valid vision model (`key <path>: ...`), or null. */
export function visionModelProblem(model: ReferenceVisionModel): string | null {
  const parsed = referenceVisionModelSchema.safeParse(model);
  return parsed.success ? null : describeFirstIssue(parsed.error);
}

/** N: patches (image rows) of the tower, `(H / P) * (W / P)`. */
export function patchCount(tower: VisionTower): number {
  return (tower.imageSize[0] / tower.patchSize) * (tower.imageSize[1] / tower.patchSize);
}

export const VISION_TOWER_PREFIX = 'model.vision_tower.';
export const PATCH_EMBEDDING_WEIGHT = 'model.vision_tower.embeddings.patch_embedding.weight';
export const PATCH_EMBEDDING_BIAS = 'model.vision_tower.embeddings.patch_embedding.bias';
export const POSITION_EMBEDDING = 'model.vision_tower.embeddings.position_embedding.weight';
export const POST_LAYERNORM_WEIGHT = 'model.vision_tower.post_layernorm.weight';
export const POST_LAYERNORM_BIAS = 'model.vision_tower.post_layernorm.bias';
export const MM_PROJECTOR_PREFIX = 'model.mm_projector.';
export const PROJECTOR_1_WEIGHT = 'model.mm_projector.0.weight';
export const PROJECTOR_1_BIAS = 'model.mm_projector.0.bias';
export const PROJECTOR_2_WEIGHT = 'model.mm_projector.2.weight';
export const PROJECTOR_2_BIAS = 'model.mm_projector.2.bias';

/** Hugging Face names of one tower layer's weights. */
export function visionLayerWeightNames(layer: number) {
  const p = `model.vision_tower.encoder.layers.${layer}`;
  return {
    norm1Weight: `${p}.layer_norm1.weight`,
    norm1Bias: `${p}.layer_norm1.bias`,
    qWeight: `${p}.self_attn.q_proj.weight`,
    qBias: `${p}.self_attn.q_proj.bias`,
    kWeight: `${p}.self_attn.k_proj.weight`,
    kBias: `${p}.self_attn.k_proj.bias`,
    vWeight: `${p}.self_attn.v_proj.weight`,
    vBias: `${p}.self_attn.v_proj.bias`,
    oWeight: `${p}.self_attn.out_proj.weight`,
    oBias: `${p}.self_attn.out_proj.bias`,
    norm2Weight: `${p}.layer_norm2.weight`,
    norm2Bias: `${p}.layer_norm2.bias`,
    fc1Weight: `${p}.mlp.fc1.weight`,
    fc1Bias: `${p}.mlp.fc1.bias`,
    fc2Weight: `${p}.mlp.fc2.weight`,
    fc2Bias: `${p}.mlp.fc2.bias`,
  } as const;
}

export type VisionLayerWeightKey = keyof ReturnType<typeof visionLayerWeightNames>;

function layerShapes(tower: VisionTower): Record<VisionLayerWeightKey, number[]> {
  const { hidden: d, intermediate: i } = tower;
  return {
    norm1Weight: [d], norm1Bias: [d],
    qWeight: [d, d], qBias: [d], kWeight: [d, d], kBias: [d], vWeight: [d, d], vBias: [d], oWeight: [d, d], oBias: [d],
    norm2Weight: [d], norm2Bias: [d],
    fc1Weight: [i, d], fc1Bias: [i], fc2Weight: [d, i], fc2Bias: [d],
  };
}

/** Every weight name and shape of tower layer `layer`. */
export function visionLayerWeights(tower: VisionTower, layer: number): Array<[VisionLayerWeightKey, string, number[]]> {
  const names = visionLayerWeightNames(layer);
  const shapes = layerShapes(tower);
  return (Object.keys(names) as VisionLayerWeightKey[]).map((key) => [key, names[key], shapes[key]]);
}

/** The tower's weights (every layer), name -> shape, in a fixed order. */
export function visionTowerWeightShapes(tower: VisionTower): Map<string, number[]> {
  const { channels, patchSize, hidden } = tower;
  const shapes = new Map<string, number[]>([
    [PATCH_EMBEDDING_WEIGHT, [hidden, channels, patchSize, patchSize]],
    [PATCH_EMBEDDING_BIAS, [hidden]],
    [POSITION_EMBEDDING, [patchCount(tower), hidden]],
  ]);
  for (let l = 0; l < tower.layers; l++) for (const [, name, shape] of visionLayerWeights(tower, l)) shapes.set(name, shape);
  shapes.set(POST_LAYERNORM_WEIGHT, [hidden]);
  shapes.set(POST_LAYERNORM_BIAS, [hidden]);
  return shapes;
}

/** The projector's weights, name -> shape (Linear weights `[out, in]`). */
export function projectorWeightShapes(projector: VisionProjector): Map<string, number[]> {
  const { inputSize, hidden } = projector;
  return new Map([
    [PROJECTOR_1_WEIGHT, [hidden, inputSize]],
    [PROJECTOR_1_BIAS, [hidden]],
    [PROJECTOR_2_WEIGHT, [hidden, hidden]],
    [PROJECTOR_2_BIAS, [hidden]],
  ]);
}

/** Every weight of the model: the tower's (when it has one), then the projector's. */
export function visionWeightShapes(model: ReferenceVisionModel): Map<string, number[]> {
  return new Map([...(model.tower === undefined ? [] : visionTowerWeightShapes(model.tower)), ...projectorWeightShapes(model.projector)]);
}
