import { isGreedy } from '../../sampler/resolve-params.js';
import type { SamplerParams } from '../../sampler/params.js';
import type { SamplerConfig } from './schema/sampler.js';

/**
 * Genie's (qualla's) values for absent sampler keys
 * (docs/genie-behaviour.md#sampler-defaults-and-greedy).
 */
export const GENIE_SAMPLER_DEFAULTS = { temp: 0.1, topK: 0, topP: 0.8 } as const;

export interface DeriveOptions {
  /** Milliseconds since the epoch, for the clock seed (default `Date.now`). */
  readonly clock?: () => number;
}

/**
 * Sampler parameters with Genie's defaults applied. Seed -1 or absent seeds from the clock in
 * seconds as `time()` does; greedy is always derived (`temp <= 0 || top-k == 1`), never read.
 * A negative temp means greedy, as 0 does, and is passed on as 0. `top-p` is clamped to [0, 1]: Genie
 * keeps the best token alone for any p <= 0 and skips the cut for p >= 1
 * (docs/genie-behaviour.md#sampler-chain). An absent repetition penalty is the neutral 1 (it divides
 * logits; the other penalties subtract and default to 0).
 */
export function deriveSampler(sampler: SamplerConfig | undefined, options: DeriveOptions = {}): SamplerParams {
  const type = sampler?.type ?? 'basic';
  const seed = sampler?.seed ?? -1;
  const temp = sampler?.temp ?? GENIE_SAMPLER_DEFAULTS.temp;
  const topK = sampler?.['top-k'] ?? GENIE_SAMPLER_DEFAULTS.topK;
  const penalty = sampler?.['token-penalty'];
  return {
    type,
    ...(sampler?.['callback-name'] !== undefined && { callbackName: sampler['callback-name'] }),
    seed: seed === -1 ? Math.floor((options.clock ?? Date.now)() / 1000) >>> 0 : seed,
    temp: Math.max(temp, 0),
    topK,
    topP: Math.min(Math.max(sampler?.['top-p'] ?? GENIE_SAMPLER_DEFAULTS.topP, 0), 1),
    minP: sampler?.['min-p'] ?? 0,
    greedy: type === 'basic' && isGreedy(temp, topK),
    penalizeLastN: penalty?.['penalize-last-n'] ?? 0,
    repetitionPenalty: penalty?.['repetition-penalty'] ?? 1,
    presencePenalty: penalty?.['presence-penalty'] ?? 0,
    frequencyPenalty: penalty?.['frequency-penalty'] ?? 0,
  };
}
