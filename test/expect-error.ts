import { expect } from 'vitest';

/**
 * Matches an error of exactly the class `type` (a subclass does not match) whose message is exactly
 * `message`: `expect(() => run()).toThrow(exactError(ContextLimitError, '...'))`, or with `rejects`.
 */
export function exactError(type: abstract new (...args: never[]) => Error, message: string): unknown {
  return expect.objectContaining({ constructor: type, message });
}
