/** The demo's Qwen2 model: Qwen2.5's vocabulary and RoPE around a small random decoder. */
import seedrandom from 'seedrandom';
import { EMBED_TOKENS } from '../backends/reference/names.js';
import { qwen2WeightShapes, type Qwen2Checkpoint, type Qwen2Config } from '../backends/reference/index.js';
import type { FloatTensor } from '../formats/index.js';
import { elementCount } from '../tensor/shape.js';
import type { DemoOptions } from './options.js';

/** Qwen2.5's padded vocabulary (the tokenizer itself has 151669 ids). */
export const DEMO_VOCAB_SIZE = 151936;
export const DEMO_ROPE_THETA = 1_000_000;
const RMS_NORM_EPS = 1e-6;

/**
 * Weight scales. Hugging Face's init (std 0.02 everywhere) leaves a small random model's layers too
 * weak to move the residual stream, so the tied LM head echoes the input token forever. Projections
 * use std 1/sqrt(fan_in) instead, so each layer's output is of the order of its input, and the
 * embedding std EMBEDDING_LOGIT_STD/sqrt(hidden) puts the logits' spread near that value for any
 * hidden size: greedy decoding then wanders over the vocabulary and top-k/top-p sampling has a
 * distribution worth shaping.
 */
export const EMBEDDING_LOGIT_STD = 0.8;
const BIAS_STD = 0.02;

export function demoQwen2Config(options: DemoOptions): Qwen2Config {
  return {
    hiddenSize: options.hidden,
    numAttentionHeads: options.heads,
    numKeyValueHeads: options.kvHeads,
    headDim: options.hidden / options.heads,
    intermediateSize: 2 * options.hidden,
    numHiddenLayers: options.layers,
    rmsNormEps: RMS_NORM_EPS,
    vocabSize: DEMO_VOCAB_SIZE,
    ropeTheta: DEMO_ROPE_THETA,
    tieWordEmbeddings: true,
    maxPositionEmbeddings: options.cl,
  };
}

/** Normal(0, std) values by Box-Muller from `random` (uniforms in [0, 1)). */
export function fillNormal(out: Float32Array, std: number, random: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const radius = std * Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
  }
}

function stdOf(name: string, shape: readonly number[]): number | null {
  if (name.endsWith('norm.weight')) return null;
  if (name === EMBED_TOKENS) return EMBEDDING_LOGIT_STD / Math.sqrt(shape[1]);
  return name.endsWith('.bias') ? BIAS_STD : 1 / Math.sqrt(shape[1]);
}

/**
 * The demo's weights: RMSNorm scales are 1, everything else is normal. Each tensor draws from its own
 * stream seeded by the seed and its name, so a tensor does not change when others are added.
 */
export function demoCheckpoint(options: DemoOptions): Qwen2Checkpoint {
  const config = demoQwen2Config(options);
  const weights = new Map<string, FloatTensor>();
  for (const [name, shape] of qwen2WeightShapes(config)) {
    const data = new Float32Array(elementCount(shape));
    const std = stdOf(name, shape);
    if (std === null) data.fill(1);
    else fillNormal(data, std, seedrandom.alea(`genie-ts-demo:${options.seed}:${name}`));
    weights.set(name, { shape, data });
  }
  return { config, weights };
}
