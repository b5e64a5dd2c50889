import { InvalidArgumentError } from '../errors.js';

/**
 * A custom sampler (Genie `type: "custom"`): gets the dequantized float32 logits of one row (a scratch
 * buffer of exactly `vocab` entries, valid only during the call) and returns the chosen token.
 */
export type SamplerCallback = (logits: Float32Array, vocab: number) => number;

const registry = new Map<string, SamplerCallback>();

/** Registers (or replaces) the callback a `callbackName` refers to. Samplers resolve names at configure time. */
export function registerSamplerCallback(name: string, fn: SamplerCallback): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`sampler callback name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`sampler callback "${name}" must be a function, got ${typeof fn}`);
  }
  registry.set(name, fn);
}

/** Removes a registered callback; returns whether it existed. Samplers already configured keep theirs. */
export function unregisterSamplerCallback(name: string): boolean {
  return registry.delete(name);
}

export function findSamplerCallback(name: string): SamplerCallback | undefined {
  return registry.get(name);
}
