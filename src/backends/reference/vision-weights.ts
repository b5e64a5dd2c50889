/** The float32 weights a vision reference ctx-bin holds, loaded for the stages its graphs run. */
import type { WeightRequest, WeightReads } from './weights.js';
import {
  PATCH_EMBEDDING_BIAS, PATCH_EMBEDDING_WEIGHT, POSITION_EMBEDDING, POST_LAYERNORM_BIAS, POST_LAYERNORM_WEIGHT,
  projectorWeightShapes, visionLayerWeights, visionTowerWeightShapes, type ReferenceVisionModel, type VisionLayerWeightKey,
} from './vision-model.js';
import type { VisionGraphPlan } from './vision-plan.js';

export type VisionLayerWeights = Readonly<Record<VisionLayerWeightKey, Float32Array>>;

export interface TowerWeights {
  /** `[Dv, C * P * P]`: the conv weight `[Dv, C, P, P]` flattened. */
  readonly patchWeight: Float32Array;
  readonly patchBias: Float32Array;
  /** `[N, Dv]`. */
  readonly position: Float32Array;
  readonly layers: readonly VisionLayerWeights[];
  readonly postNormWeight: Float32Array;
  readonly postNormBias: Float32Array;
}

export interface ProjectorWeights {
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  readonly w2: Float32Array;
  readonly b2: Float32Array;
}

export interface VisionWeights {
  readonly tower?: TowerWeights;
  readonly projector?: ProjectorWeights;
}

/** The weights the graphs of one vision ctx-bin read, as a sequence of reads. */
export function* visionWeightReads(model: ReferenceVisionModel, plans: readonly VisionGraphPlan[]): WeightReads<VisionWeights> {
  const needsTower = plans.some((p) => p.pixels !== undefined);
  const needsProjector = plans.some((p) => p.projector);
  let tower: TowerWeights | undefined;
  if (needsTower && model.tower !== undefined) {
    const shapes = visionTowerWeightShapes(model.tower);
    const read = (name: string): WeightRequest => ({ name, shape: shapes.get(name)! });
    const patchWeight = yield read(PATCH_EMBEDDING_WEIGHT);
    const patchBias = yield read(PATCH_EMBEDDING_BIAS);
    const position = yield read(POSITION_EMBEDDING);
    const layers: VisionLayerWeights[] = [];
    for (let l = 0; l < model.tower.layers; l++) {
      const weights = {} as Record<VisionLayerWeightKey, Float32Array>;
      for (const [key, name, shape] of visionLayerWeights(model.tower, l)) weights[key] = yield { name, shape };
      layers.push(weights);
    }
    const postNormWeight = yield read(POST_LAYERNORM_WEIGHT);
    const postNormBias = yield read(POST_LAYERNORM_BIAS);
    tower = { patchWeight, patchBias, position, layers, postNormWeight, postNormBias };
  }
  let projector: ProjectorWeights | undefined;
  if (needsProjector) {
    const [w1, b1, w2, b2] = [...projectorWeightShapes(model.projector)].map(([name, shape]) => ({ name, shape }));
    projector = { w1: yield w1, b1: yield b1, w2: yield w2, b2: yield b2 };
  }
  return { tower, projector };
}
