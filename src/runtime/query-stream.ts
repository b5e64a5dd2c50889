import { GenieError } from '../errors.js';
import type { QueryResult } from './dialog-types.js';

/**
 * What `Dialog.query` (and `chat`, `tokenQuery`, `embeddingQuery`) returns: the async generator of
 * the reply's text pieces, as before, plus `result`, the query's `QueryResult` however it ends.
 *
 * ```ts
 * const reply = dialog.query(prompt);
 * for await (const piece of reply) {
 *   process.stdout.write(piece);
 *   if (enough) break;                   // the query ends here, stop reason 'cancelled'
 * }
 * const { stopReason, kpis } = await reply.result;
 * ```
 *
 * `result` resolves when the query ends: by a stop criterion, an abort, a cancel (`break`,
 * `return()`, a new query, `reset()`, `dispose()`); it rejects with the error the generator rejects
 * with (a `ContextLimitError` carrying the partial result in `error.result`, a `CallbackError`
 * wrapping what a callback threw, ...). A query starts at its first `next()`: one that is never
 * iterated has not run yet, and its `result` waits; closed before it started (`return()`,
 * `throw(error)`), it never runs: `result` rejects with `QueryNotStartedError` (or that error). A
 * rejected `result` that nobody awaits is not reported as an unhandled rejection (the generator's
 * own rejection reports the error).
 */
export interface QueryStream extends AsyncGenerator<string, QueryResult> {
  readonly result: Promise<QueryResult>;
}

/**
 * One generated token, as `QueryOptions.onToken` is told about it: its `id`, the `text` its delivery
 * released (what the generator yields for it: '' while an incomplete UTF-8 character or a possible
 * stop sequence holds text back, and then that earlier text too), and its `index` among the
 * query's generated tokens (from 0).
 */
export interface TokenEvent {
  readonly id: number;
  readonly text: string;
  readonly index: number;
}

/** The generator of a query was closed (`return()`, `throw()`) before its first `next()`: the query never ran. */
export class QueryNotStartedError extends GenieError {
  constructor() {
    super('NOT_STARTED', 'the query was closed before its first next(): it never ran, so it has no result');
  }
}

/** The `result` promise of one query, settled by the query's run (src/runtime/query-run.ts). */
export class QueryOutcome {
  readonly promise: Promise<QueryResult>;
  /** The query's run has begun (its generator's first `next()`). */
  private begun = false;
  /** Settling twice keeps the first outcome (a failing query records its partial result after rejecting). */
  readonly resolve: (result: QueryResult) => void;
  readonly reject: (error: unknown) => void;

  constructor() {
    let resolve!: (result: QueryResult) => void;
    let reject!: (error: unknown) => void;
    this.promise = new Promise<QueryResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.resolve = resolve;
    this.reject = reject;
    // Marks the promise handled: a caller who only iterates gets the error from the generator.
    this.promise.catch(() => undefined);
  }

  /**
   * The query's run begins with `take` (claiming the dialog): what it throws (busy, disposed, no
   * room left) is the query's error too.
   */
  begin<T>(take: () => T): T {
    this.begun = true;
    try {
      return take();
    } catch (error) {
      this.reject(error);
      throw error;
    }
  }

  /** The generator is being closed: before the run began, the query never runs and `result` rejects. */
  closing(error: unknown = new QueryNotStartedError()): void {
    if (!this.begun) this.reject(error);
  }
}

/**
 * `generator` with `outcome`'s promise as its `result`; its `return` and `throw` tell the outcome
 * first, so that closing a query that never started settles `result` (they run once, at the end of
 * a loop: `next`, the per-token call, is the generator's own).
 */
export function queryStream(generator: AsyncGenerator<string, QueryResult>, outcome: QueryOutcome): QueryStream {
  const { return: close, throw: fail } = generator;
  return Object.defineProperties(generator, {
    result: { value: outcome.promise, enumerable: true },
    return: {
      value: (value: QueryResult | PromiseLike<QueryResult>) => {
        outcome.closing();
        return close.call(generator, value);
      },
    },
    throw: {
      value: (error: unknown) => {
        outcome.closing(error);
        return fail.call(generator, error);
      },
    },
  }) as QueryStream;
}
