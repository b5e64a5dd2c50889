import { GenieError } from '../errors.js';

/**
 * The compiled graphs do not form a model genie-ts can drive (missing logits, unpaired KV tensors,
 * conflicting quantization, undeterminable AR/CL, inconsistent splits, ...). The message names the
 * graph(s) and tensor(s) involved.
 */
export class ModelLayoutError extends GenieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_LAYOUT', message, options);
  }
}

/** A request needs more KV entries than any variant of the model can hold (Genie's ContextLimitException). */
export class ContextLimitError extends GenieError {
  /**
   * Set by a `Dialog` when a reply filled the context: its `QueryResult` so far (stop reason
   * `context-limit`), the same object as `dialog.lastResult`. Undefined when the prompt did not fit.
   */
  result: object | undefined = undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super('CONTEXT_LIMIT', message, options);
  }
}
