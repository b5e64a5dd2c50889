import { InvalidArgumentError } from '../errors.js';
import { findSamplerCallback, type SamplerCallback } from './callbacks.js';
import type { SamplerParams } from './params.js';

/**
 * A live reconfiguration: any subset of the parameters. `greedy` is derived from `temp` and `topK`;
 * it may be given (so that `samplerParams` read back can be passed in whole) when it agrees with
 * the derivation of the merged parameters.
 */
export type SamplerUpdate = Partial<SamplerParams>;

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
  if (typeof update !== 'object' || update === null || Array.isArray(update)) {
    throw new InvalidArgumentError(`sampler update must be an object, got ${Array.isArray(update) ? 'an array' : String(update)}`);
  }
  for (const key of Object.keys(update)) {
    if (key !== 'greedy' && !UPDATABLE_KEYS.has(key)) throw new InvalidArgumentError(`unknown sampler parameter "${key}"`);
  }
  const { greedy, ...rest } = update;
  const resolved = resolve({ ...current, ...rest });
  if (update.callbackName !== undefined && resolved.params.type !== 'custom') {
    throw new InvalidArgumentError(`sampler.callbackName ${show(update.callbackName)} applies only to type "custom"; the type is "${resolved.params.type}"`);
  }
  if (greedy !== undefined && greedy !== resolved.params.greedy) {
    throw new InvalidArgumentError(
      `sampler.greedy is derived (temp <= 0 || topK == 1) and is ${resolved.params.greedy} for temp ${resolved.params.temp}, ` +
        `topK ${resolved.params.topK}; got ${String(greedy)} (set temp or topK instead)`,
    );
  }
  return resolved;
}

function resolve(p: Omit<SamplerParams, 'greedy'>): ResolvedParams {
  if (p.type !== 'basic' && p.type !== 'custom') {
    throw new InvalidArgumentError(`sampler.type must be "basic" or "custom", got ${JSON.stringify(p.type)}`);
  }
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) {
    throw new InvalidArgumentError(`sampler.seed must be a uint32 (integer in [0, 4294967295]), got ${show(p.seed)}`);
  }
  if (typeof p.temp !== 'number' || !Number.isFinite(p.temp) || p.temp < 0) {
    throw new InvalidArgumentError(`sampler.temp must be a finite number >= 0, got ${show(p.temp)}`);
  }
  if (!Number.isSafeInteger(p.topK) || p.topK < 0) {
    throw new InvalidArgumentError(`sampler.topK must be an integer >= 0, got ${show(p.topK)}`);
  }
  // 0 keeps the best token alone (Genie's top-p keeps at least one), docs/genie-behaviour.md#sampler-chain.
  if (typeof p.topP !== 'number' || !(p.topP >= 0 && p.topP <= 1)) {
    throw new InvalidArgumentError(`sampler.topP must be in [0, 1], got ${show(p.topP)}`);
  }
  if (typeof p.minP !== 'number' || !(p.minP >= 0 && p.minP < 1)) {
    throw new InvalidArgumentError(`sampler.minP must be in [0, 1), got ${show(p.minP)}`);
  }
  if (!Number.isSafeInteger(p.penalizeLastN) || p.penalizeLastN < 0) {
    throw new InvalidArgumentError(`sampler.penalizeLastN must be an integer >= 0, got ${show(p.penalizeLastN)}`);
  }
  if (typeof p.repetitionPenalty !== 'number' || !Number.isFinite(p.repetitionPenalty) || p.repetitionPenalty <= 0) {
    throw new InvalidArgumentError(`sampler.repetitionPenalty must be a finite number > 0, got ${show(p.repetitionPenalty)}`);
  }
  for (const key of ['presencePenalty', 'frequencyPenalty'] as const) {
    if (typeof p[key] !== 'number' || !Number.isFinite(p[key])) {
      throw new InvalidArgumentError(`sampler.${key} must be a finite number, got ${show(p[key])}`);
    }
  }
  let callback: SamplerCallback | undefined;
  if (p.type === 'custom') {
    if (typeof p.callbackName !== 'string' || p.callbackName.length === 0) {
      throw new InvalidArgumentError(`sampler.callbackName is required for type "custom", got ${show(p.callbackName)}`);
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
    // Only a custom sampler has a callback: switching to basic forgets it.
    ...(p.type === 'custom' ? { callbackName: p.callbackName } : {}),
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

/** A value in a message: strings quoted, so that "16" does not read as the number 16. */
function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
