import { InvalidArgumentError } from '../errors.js';
import { ModelLayoutError } from './errors.js';
import type { ModelLayout } from './layout.js';

/**
 * Genie's load-time check of `context.size` against the binaries. With long context (KV eviction)
 * it may exceed the largest CL (docs/genie-behaviour.md#long-context): the cache then holds what
 * the binaries hold and evicts to go on.
 * @throws InvalidArgumentError when `size` is not a positive integer.
 * @throws ModelLayoutError when `size` exceeds the largest CL without long context.
 */
export function checkContextSize(layout: Pick<ModelLayout, 'maxContextLength'>, size: number, longContext = false): void {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new InvalidArgumentError(`context.size must be a positive integer, got ${size}`);
  }
  if (size > layout.maxContextLength && !longContext) {
    throw new ModelLayoutError(
      `Config specifies context.size=${size}, but the largest CL in the binaries is ${layout.maxContextLength}`,
    );
  }
}
