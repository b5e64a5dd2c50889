import { InvalidArgumentError } from '../errors.js';
import { findSamplerCallback, type SamplerCallback } from './callbacks.js';
import type { SamplerParams } from './params.js';

/** A live reconfiguration: any subset of the parameters except the derived `greedy`. */
export type SamplerUpdate = Partial<Omit<SamplerParams, 'greedy'>>;

const UPDATABLE_KEYS: ReadonlySet<string> = new Set([
  'type', 'callbackName', 'seed', 'temp', 'topK', 'topP', 'minP',
  'penalizeLastN', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty',
]);

export interface ResolvedParams {
  readonly params: SamplerParams;
  /** The resolved callback when `type` is `custom`. */
  readonly callback: SamplerCallback | undefined;
}

/**
 * Genie's derivation: greedy when `temp <= 0 || topK == 1`
 * (docs/genie-behaviour.md#sampler-defaults-and-greedy).
 */
export function isGreedy(temp: number, topK: number): boolean {
  return temp <= 0 || topK === 1;
}

/** Validates full constructor parameters; `greedy` must agree with its derivation for `basic`. */
export function resolveInitialParams(params: SamplerParams): ResolvedParams {
  if (typeof params !== 'object' || params === null) {
    throw new InvalidArgumentError(`sampler params must be an object, got ${String(params)}`);
  }
  const { greedy, ...rest } = params;
  for (const key of UPDATABLE_KEYS) {
    if (key !== 'callbackName' && rest[key as keyof typeof rest] === undefined) {
      throw new InvalidArgumentError(`sampler.${key} is required`);
    }
  }
  const resolved = resolve(rest as SamplerParams);
  if (params.type === 'basic' && greedy !== resolved.params.greedy) {
    throw new InvalidArgumentError(
      `sampler.greedy is derived (temp <= 0 || topK == 1) and must be ${resolved.params.greedy} for temp ${params.temp}, topK ${params.topK}; got ${String(greedy)}`,
    );
  }
  return resolved;
}

/** Merges `update` into `current` and validates the result; throws before anything is committed. */
export function resolveUpdate(current: SamplerParams, update: SamplerUpdate): ResolvedParams {
  if (typeof update !== 'object' || update === null) {
    throw new InvalidArgumentError(`sampler update must be an object, got ${String(update)}`);
  }
  for (const key of Object.keys(update)) {
    if (key === 'greedy') {
      throw new InvalidArgumentError('sampler.greedy is derived (temp <= 0 || topK == 1); set temp or topK instead');
    }
    if (!UPDATABLE_KEYS.has(key)) throw new InvalidArgumentError(`unknown sampler parameter "${key}"`);
  }
  return resolve({ ...current, ...update });
}

function resolve(p: Omit<SamplerParams, 'greedy'>): ResolvedParams {
  if (p.type !== 'basic' && p.type !== 'custom') {
    throw new InvalidArgumentError(`sampler.type must be "basic" or "custom", got ${JSON.stringify(p.type)}`);
  }
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) {
    throw new InvalidArgumentError(`sampler.seed must be a uint32 (integer in [0, 4294967295]), got ${String(p.seed)}`);
  }
  if (typeof p.temp !== 'number' || !Number.isFinite(p.temp) || p.temp < 0) {
    throw new InvalidArgumentError(`sampler.temp must be a finite number >= 0, got ${String(p.temp)}`);
  }
  if (!Number.isSafeInteger(p.topK) || p.topK < 0) {
    throw new InvalidArgumentError(`sampler.topK must be an integer >= 0, got ${String(p.topK)}`);
  }
  if (typeof p.topP !== 'number' || !(p.topP > 0 && p.topP <= 1)) {
    throw new InvalidArgumentError(`sampler.topP must be in (0, 1], got ${String(p.topP)}`);
  }
  if (typeof p.minP !== 'number' || !(p.minP >= 0 && p.minP < 1)) {
    throw new InvalidArgumentError(`sampler.minP must be in [0, 1), got ${String(p.minP)}`);
  }
  if (!Number.isSafeInteger(p.penalizeLastN) || p.penalizeLastN < 0) {
    throw new InvalidArgumentError(`sampler.penalizeLastN must be an integer >= 0, got ${String(p.penalizeLastN)}`);
  }
  if (typeof p.repetitionPenalty !== 'number' || !Number.isFinite(p.repetitionPenalty) || p.repetitionPenalty <= 0) {
    throw new InvalidArgumentError(`sampler.repetitionPenalty must be a finite number > 0, got ${String(p.repetitionPenalty)}`);
  }
  for (const key of ['presencePenalty', 'frequencyPenalty'] as const) {
    if (typeof p[key] !== 'number' || !Number.isFinite(p[key])) {
      throw new InvalidArgumentError(`sampler.${key} must be a finite number, got ${String(p[key])}`);
    }
  }
  let callback: SamplerCallback | undefined;
  if (p.type === 'custom') {
    if (typeof p.callbackName !== 'string' || p.callbackName.length === 0) {
      throw new InvalidArgumentError(`sampler.callbackName is required for type "custom", got ${String(p.callbackName)}`);
    }
    callback = findSamplerCallback(p.callbackName);
    if (callback === undefined) {
      throw new InvalidArgumentError(
        `sampler.callbackName "${p.callbackName}" is not registered (registerSamplerCallback first)`,
      );
    }
  }
  const params: SamplerParams = Object.freeze({
    type: p.type,
    ...(p.callbackName === undefined ? {} : { callbackName: p.callbackName }),
    seed: p.seed,
    temp: p.temp,
    topK: p.topK,
    topP: p.topP,
    minP: p.minP,
    greedy: isGreedy(p.temp, p.topK),
    penalizeLastN: p.penalizeLastN,
    repetitionPenalty: p.repetitionPenalty,
    presencePenalty: p.presencePenalty,
    frequencyPenalty: p.frequencyPenalty,
  });
  return { params, callback };
}
