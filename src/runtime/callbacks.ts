import { GenieError } from '../errors.js';
import type { QueryOptions } from './dialog-types.js';
import type { TurnPrompt } from './turn-ledger.js';

/**
 * A callback the caller passed to a query (`onLogits`, `tokenToEmbedding`) threw: the query ends
 * with this error, `callback` naming it and the thrown value as its `cause`.
 */
export class CallbackError extends GenieError {
  constructor(readonly callback: string, cause: unknown) {
    super('CALLBACK_FAILED', `the ${callback} callback threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function wrap<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A): void => {
    try {
      fn(...args);
    } catch (error) {
      throw new CallbackError(name, error);
    }
  };
}

/** The query's options with `onLogits` and `onToken` wrapped: what they throw arrives as a `CallbackError`. */
export function wrapQueryCallbacks(options: QueryOptions): QueryOptions {
  const { onLogits, onToken } = options;
  if (onLogits === undefined && onToken === undefined) return options;
  return {
    ...options,
    onLogits: onLogits === undefined ? undefined : wrap('onLogits', onLogits),
    onToken: onToken === undefined ? undefined : wrap('onToken', onToken),
  };
}

/** The prompt with an embedding query's `tokenToEmbedding` wrapped likewise. */
export function wrapPromptCallbacks(prompt: TurnPrompt): TurnPrompt {
  if (prompt.kind !== 'embeddings' || prompt.toEmbedding === undefined) return prompt;
  return { ...prompt, toEmbedding: wrap('tokenToEmbedding', prompt.toEmbedding) };
}
