import type { IoTensor, ModelLayout, Variant } from '../../../graphs/layout.js';
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

/** A step-position input's two copies: the one the variants' first parts read, and the later parts' one. */
export const FIRST_COPY = 0;
export const REST_COPY = 1;
export type StepInputCopy = typeof FIRST_COPY | typeof REST_COPY;

/**
 * An input part whose values follow from where a step's entries go (its variant, slots and
 * positions), never from the fed tokens: the attention mask, cos/sin, position_ids, cache_index.
 * The variants' first parts read a copy of their own (`BufferPlan.stepInputs`), so the engine can
 * write that copy for the next decode step while the later parts of a step still run (`fillFirst`
 * with the step it expects next). Each copy remembers the step it was last written for and is
 * not written again for the same step: a decode step then finds its first parts' inputs ready.
 */
export abstract class StepPositionPart implements InputPart {
  abstract readonly name: string;
  abstract readonly tensors: readonly IoTensor[];
  private readonly writtenFor = [new WrittenFor(), new WrittenFor()];

  /** @param copies which copies exist: the first parts' and the later parts' (a model may lack either). */
  protected constructor(private readonly copies: readonly [boolean, boolean]) {}

  fill(step: EngineStep): void {
    this.fillCopy(FIRST_COPY, step);
    this.fillCopy(REST_COPY, step);
  }

  /** Writes the first parts' copy for `step` (nothing when it holds that step's values). */
  fillFirst(step: EngineStep): void {
    this.fillCopy(FIRST_COPY, step);
  }

  /** Writes the later parts' copy for `step` (nothing when it holds that step's values). */
  fillRest(step: EngineStep): void {
    this.fillCopy(REST_COPY, step);
  }

  /** Writes every element of copy `copy` (it exists) that a graph reads for `step`. */
  protected abstract write(copy: StepInputCopy, step: EngineStep): void;

  private fillCopy(copy: StepInputCopy, step: EngineStep): void {
    const written = this.writtenFor[copy];
    if (!this.copies[copy] || written.holds(step)) return;
    // Forgotten first: a write that throws leaves the copy in an unknown state.
    written.forget();
    this.write(copy, step);
    written.record(step);
  }
}

/** The step a buffer copy was last written for: what a step-position input's values follow from. */
class WrittenFor {
  private variant: Variant | null = null;
  private nValid = 0;
  private nNew = 0;
  private position = 0;

  holds(step: EngineStep): boolean {
    return this.variant === step.variant && this.nValid === step.nValid && this.nNew === step.nNew && this.position === step.position;
  }

  record(step: EngineStep): void {
    this.variant = step.variant;
    this.nValid = step.nValid;
    this.nNew = step.nNew;
    this.position = step.position;
  }

  forget(): void {
    this.variant = null;
  }
}
