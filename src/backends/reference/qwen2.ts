/**
 * A Hugging Face decoder checkpoint (Qwen2, Llama or Phi-3) in memory: its config and its weights
 * by HF name. The names keep "Qwen2", the first architecture; `DecoderConfig` is the same type.
 */
import { z } from 'zod';
import type { FloatTensor } from '../../formats/safetensors.js';
import {
  decoderExtraFields, layerWeights, qwen2ShapeSchema, weightsProblem, type DecoderArchitecture, type DecoderRopeScaling, type Qwen2ShapeKey,
  type ReferenceModel,
} from './model.js';
import { EMBED_TOKENS, FINAL_NORM, LM_HEAD } from './names.js';
import { describeFirstIssue } from './zod-issue.js';

/** The `config.json` fields the executor needs, in camelCase. */
export interface Qwen2Config {
  /** Absent: Qwen2 (configs written before other architectures existed). */
  readonly architecture?: DecoderArchitecture;
  /** RoPE scaling from `rope_scaling` (llama3, longrope); absent: plain RoPE. */
  readonly ropeScaling?: DecoderRopeScaling;
  /**
   * Phi-3's `sliding_window` when it is shorter than `max_position_embeddings` (Phi-3-mini-4k: 2047):
   * each token attends to the last `slidingWindow` positions only. The executor attends to the whole
   * context, so it matches the model while the context is at most this long.
   */
  readonly slidingWindow?: number;
  readonly hiddenSize: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  /** `head_dim` when config.json has it, else `hidden_size / num_attention_heads`. */
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly rmsNormEps: number;
  readonly vocabSize: number;
  readonly ropeTheta: number;
  readonly tieWordEmbeddings: boolean;
  readonly maxPositionEmbeddings: number;
}

export type DecoderConfig = Qwen2Config;

export interface Qwen2Checkpoint {
  readonly config: Qwen2Config;
  readonly weights: ReadonlyMap<string, FloatTensor>;
}

/** Qwen2Config's name for each shape field of ReferenceModel, in ReferenceModel's order. */
const CONFIG_KEYS = {
  hidden: 'hiddenSize',
  heads: 'numAttentionHeads',
  kvHeads: 'numKeyValueHeads',
  headDim: 'headDim',
  intermediate: 'intermediateSize',
  layers: 'numHiddenLayers',
  rmsEps: 'rmsNormEps',
  vocab: 'vocabSize',
  ropeTheta: 'ropeTheta',
  maxPositions: 'maxPositionEmbeddings',
  tieWordEmbeddings: 'tieWordEmbeddings',
} as const satisfies Record<Qwen2ShapeKey, keyof Qwen2Config>;

const qwen2ConfigSchema = qwen2ShapeSchema<Qwen2Config>(CONFIG_KEYS, {
  architecture: (decoderExtraFields('any').architecture as z.ZodType).optional(),
  ropeScaling: decoderExtraFields('any').ropeScaling,
  slidingWindow: z.int().positive().optional(),
});

/** Why `config` is not a usable decoder config (`key <path>: ...`), or null. */
export function qwen2ConfigProblem(config: Qwen2Config): string | null {
  const parsed = qwen2ConfigSchema.safeParse(config);
  return parsed.success ? null : describeFirstIssue(parsed.error);
}

export function referenceModelOf(config: Qwen2Config): ReferenceModel {
  const shape = Object.fromEntries((Object.keys(CONFIG_KEYS) as Qwen2ShapeKey[]).map((key) => [key, config[CONFIG_KEYS[key]]]));
  const scaling = config.ropeScaling === undefined ? {} : { ropeScaling: config.ropeScaling };
  return { architecture: config.architecture ?? 'qwen2', ...shape, ...scaling } as unknown as ReferenceModel;
}

/** Every weight a checkpoint of the config's architecture must hold, with its shape (no `lm_head.weight` when tied). */
export function qwen2WeightShapes(config: Qwen2Config): Map<string, number[]> {
  const model = referenceModelOf(config);
  const shapes = new Map<string, number[]>([[EMBED_TOKENS, [model.vocab, model.hidden]]]);
  for (let l = 0; l < model.layers; l++) {
    for (const [, name, shape] of layerWeights(model, l)) shapes.set(name, shape);
  }
  shapes.set(FINAL_NORM, [model.hidden]);
  if (!model.tieWordEmbeddings) shapes.set(LM_HEAD, [model.vocab, model.hidden]);
  return shapes;
}

/** The first missing or mis-shaped weight of a checkpoint, described, or null. */
export function qwen2WeightsProblem(config: Qwen2Config, weights: ReadonlyMap<string, FloatTensor>): string | null {
  return weightsProblem(qwen2WeightShapes(config), weights);
}
