import { GenieError } from '../errors.js';
import type { ChainEntry } from '../sampler/chain.js';
import type { SamplerStage, StageContext } from '../sampler/stage.js';
import type { Candidates } from '../sampler/candidates.js';
import type { QueryOptions } from './dialog-types.js';
import type { TurnPrompt } from './turn-ledger.js';

/**
 * A callback the caller passed to a query (`onLogits`, `onToken`, `tokenToEmbedding`), or a method
 * of a sampler stage of theirs, threw: the query ends with this error, `callback` naming it and the
 * thrown value as its `cause`.
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

/**
 * The caller's `SamplerStage` objects of a chain (`DialogOptions.samplerStages`) behind wrappers:
 * what their `apply`, `accept` or `reset` throws arrives as a `CallbackError` (callback
 * `sampler stage "NAME" apply`, ...). The wrappers delegate to the stage object, which keeps its
 * state; built-in stage specs, and values that are no stage (the chain's check reports them), pass
 * as they are. The wrappers take fixed arguments: they run for every token.
 */
export function wrapStageCallbacks(chain: readonly ChainEntry[]): ChainEntry[] {
  return chain.map((entry) => (typeof (entry as Partial<SamplerStage> | null)?.apply === 'function' ? wrapStage(entry as SamplerStage) : entry));
}

function wrapStage(stage: SamplerStage): SamplerStage {
  const fail = (method: string, error: unknown): CallbackError => new CallbackError(`sampler stage "${String(stage.name)}" ${method}`, error);
  const wrapped: SamplerStage = {
    name: stage.name,
    stateSize: stage.stateSize,
    apply(candidates: Candidates, context: StageContext): void {
      try {
        stage.apply(candidates, context);
      } catch (error) {
        throw fail('apply', error);
      }
    },
  };
  // A value that is no function stays as it is, for the chain's check to report.
  wrapped.accept = stage.accept;
  wrapped.reset = stage.reset;
  if (typeof stage.accept === 'function') {
    wrapped.accept = (token: number, context: StageContext): void => {
      try {
        stage.accept!(token, context);
      } catch (error) {
        throw fail('accept', error);
      }
    };
  }
  if (typeof stage.reset === 'function') {
    wrapped.reset = (): void => {
      try {
        stage.reset!();
      } catch (error) {
        throw fail('reset', error);
      }
    };
  }
  const guardState = (method: 'writeState' | 'readState'): SamplerStage['writeState'] => {
    const fn = stage[method];
    if (typeof fn !== 'function') return fn;
    return (data: Float64Array, offset: number): void => {
      try {
        fn.call(stage, data, offset);
      } catch (error) {
        throw fail(method, error);
      }
    };
  };
  wrapped.writeState = guardState('writeState');
  wrapped.readState = guardState('readState');
  return wrapped;
}
