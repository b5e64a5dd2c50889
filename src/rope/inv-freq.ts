/**
 * RoPE inverse frequencies with Genie's scalings (docs/genie-behaviour.md#rope-tables, Genie's
 * `calculate_rope_embeddings`). `ropeDim` is Genie's `pos-id-dim` = head_dim / 2: the half-dim table.
 */
import { InvalidArgumentError } from '../errors.js';

export type RopeScaling =
  | { readonly type: 'default' }
  /** Positions divided by `factor` (HF "linear"), i.e. every inv_freq divided by it. */
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    }
  | {
      readonly type: 'longrope';
      readonly factor: number;
      /** One divisor per frequency (length ropeDim), used when contextLength <= originalMaxPositionEmbeddings. */
      readonly shortFactor: ArrayLike<number>;
      /** One divisor per frequency (length ropeDim), used when contextLength > originalMaxPositionEmbeddings. */
      readonly longFactor: ArrayLike<number>;
      readonly originalMaxPositionEmbeddings: number;
    };

export type RopeScalingType = RopeScaling['type'];

export interface RopeFrequencyOptions {
  /** Number of frequencies = head_dim / 2 (Genie `pos-id-dim` / `rope-dim`). */
  readonly ropeDim: number;
  /** RoPE base (Genie `rope-theta`). */
  readonly theta: number;
  /** Positions the table covers (CL); longrope picks its factors from it. */
  readonly contextLength: number;
  /** Defaults to `{ type: 'default' }`. */
  readonly scaling?: RopeScaling;
}

const SCALING_TYPES: readonly RopeScalingType[] = ['default', 'linear', 'llama3', 'longrope'];

function fail(message: string): never {
  throw new InvalidArgumentError(message);
}

function requirePositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) fail(`${name} must be a positive integer, got ${String(value)}`);
}

function requirePositive(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(`${name} must be a finite number > 0, got ${String(value)}`);
  }
}

function requireFactors(factors: ArrayLike<number>, ropeDim: number, name: string): void {
  if (factors === null || typeof factors !== 'object' || typeof factors.length !== 'number') {
    fail(`${name} must be an array of ${ropeDim} numbers, got ${String(factors)}`);
  }
  if (factors.length !== ropeDim) fail(`${name} has length ${factors.length}, expected ropeDim = ${ropeDim}`);
  for (let j = 0; j < ropeDim; j++) requirePositive(factors[j], `${name}[${j}]`);
}

/** Throws `InvalidArgumentError` naming the first bad option; returns the scaling with its default applied. */
export function validateRopeFrequencyOptions(options: RopeFrequencyOptions): RopeScaling {
  if (options === null || typeof options !== 'object') fail(`rope options must be an object, got ${String(options)}`);
  requirePositiveInteger(options.ropeDim, 'ropeDim');
  requirePositive(options.theta, 'theta');
  requirePositiveInteger(options.contextLength, 'contextLength');
  const scaling = options.scaling ?? { type: 'default' };
  if (scaling === null || typeof scaling !== 'object' || !SCALING_TYPES.includes(scaling.type)) {
    const type = (scaling as { type?: unknown } | null)?.type;
    fail(`scaling.type must be one of ${SCALING_TYPES.join(', ')}, got ${JSON.stringify(type) ?? String(type)}`);
  }
  switch (scaling.type) {
    case 'default':
      break;
    case 'linear':
      requirePositive(scaling.factor, 'scaling.factor');
      break;
    case 'llama3':
      requirePositive(scaling.factor, 'scaling.factor');
      requirePositive(scaling.lowFreqFactor, 'scaling.lowFreqFactor');
      requirePositive(scaling.highFreqFactor, 'scaling.highFreqFactor');
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        fail(
          `scaling.highFreqFactor (${scaling.highFreqFactor}) must be greater than scaling.lowFreqFactor (${scaling.lowFreqFactor})`,
        );
      }
      requirePositiveInteger(scaling.originalMaxPositionEmbeddings, 'scaling.originalMaxPositionEmbeddings');
      break;
    case 'longrope':
      // factor < 1 would make the attention factor sqrt(1 + ln(factor)/ln(orig)) shrink the embeddings.
      if (typeof scaling.factor !== 'number' || !Number.isFinite(scaling.factor) || scaling.factor < 1) {
        fail(`scaling.factor must be a finite number >= 1 for longrope, got ${String(scaling.factor)}`);
      }
      requirePositiveInteger(scaling.originalMaxPositionEmbeddings, 'scaling.originalMaxPositionEmbeddings');
      if (scaling.originalMaxPositionEmbeddings < 2) {
        fail(`scaling.originalMaxPositionEmbeddings must be >= 2 for longrope (its log divides), got ${scaling.originalMaxPositionEmbeddings}`);
      }
      requireFactors(scaling.shortFactor, options.ropeDim, 'scaling.shortFactor');
      requireFactors(scaling.longFactor, options.ropeDim, 'scaling.longFactor');
      break;
  }
  return scaling;
}

/**
 * `inv_freq[j]` for j < ropeDim, scaled as Genie does.
 *
 * Genie writes the base frequencies as `1 / theta^(j / rope_dim)`; Hugging Face writes
 * `1 / theta^(2j / head_dim)` over j = 0, 1, ..., head_dim/2 - 1. With rope_dim = head_dim / 2 the exponents
 * are equal (2j / head_dim = j / rope_dim), so both give the same frequencies.
 */
export function ropeInvFreq(options: RopeFrequencyOptions): Float64Array {
  const scaling = validateRopeFrequencyOptions(options);
  const { ropeDim, theta, contextLength } = options;
  const inv = new Float64Array(ropeDim);
  for (let j = 0; j < ropeDim; j++) inv[j] = 1 / Math.pow(theta, j / ropeDim);

  switch (scaling.type) {
    case 'default':
      break;
    case 'linear':
      for (let j = 0; j < ropeDim; j++) inv[j] /= scaling.factor;
      break;
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: orig } = scaling;
      const lowFreqWavelen = orig / lowFreqFactor;
      const highFreqWavelen = orig / highFreqFactor;
      for (let j = 0; j < ropeDim; j++) {
        const wavelen = (2 * Math.PI) / inv[j];
        if (wavelen < highFreqWavelen) continue;
        if (wavelen > lowFreqWavelen) {
          inv[j] /= factor;
        } else {
          const smooth = (orig / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
          inv[j] = ((1 - smooth) * inv[j]) / factor + smooth * inv[j];
        }
      }
      break;
    }
    case 'longrope': {
      const factors = contextLength > scaling.originalMaxPositionEmbeddings ? scaling.longFactor : scaling.shortFactor;
      for (let j = 0; j < ropeDim; j++) inv[j] /= factors[j];
      break;
    }
  }
  return inv;
}

/**
 * The factor the cos/sin values are multiplied by: `sqrt(1 + ln(factor) / ln(original_max))` for longrope,
 * 1 for every other scaling.
 */
export function ropeAttentionFactor(options: RopeFrequencyOptions): number {
  const scaling = validateRopeFrequencyOptions(options);
  if (scaling.type !== 'longrope') return 1;
  return Math.sqrt(1 + Math.log(scaling.factor) / Math.log(scaling.originalMaxPositionEmbeddings));
}
