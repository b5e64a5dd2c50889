import type { IoTensor, ModelLayout } from '../../../graphs/layout.js';
import type { EngineBuffers } from '../buffers.js';
import type { EngineOptions } from '../options.js';
import type { EngineStep } from '../step.js';

/**
 * One family of graph inputs (token ids, embedding rows, attention mask, cos/sin, ...): it owns
 * views of its tensors' buffers, created once, and writes them for each step. `fill` runs on the
 * per-token path: it must not allocate, and must leave every element a graph reads as the step
 * needs it, whatever an earlier step left behind; a part may rewrite only what changed since its
 * own previous fill when it knows exactly what that wrote (the attention mask does).
 */
export interface InputPart {
  /** What the part fills, in errors and step reports (e.g. `attention mask`). */
  readonly name: string;
  /** The model tensors it writes. */
  readonly tensors: readonly IoTensor[];
  fill(step: EngineStep): void;
}

/** What a factory may read to build its part; it throws InvalidArgumentError for a model it cannot feed. */
export interface InputPartContext {
  readonly layout: ModelLayout;
  readonly buffers: EngineBuffers;
  readonly options: EngineOptions;
}

/** Builds the part for a model, or returns undefined when the model's graphs do not take that input. */
export type InputPartFactory = (context: InputPartContext) => InputPart | undefined;
