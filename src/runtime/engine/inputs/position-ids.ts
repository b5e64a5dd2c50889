import type { IoTensor } from '../../../graphs/layout.js';
import type { EngineStep } from '../step.js';
import { StepPositionPart, type InputPart, type InputPartContext, type StepInputCopy } from './input-part.js';

/** `position_ids` `[AR]` of graphs that compute RoPE themselves: the step's positions, 0 on padded rows. */
class PositionIdsPart extends StepPositionPart {
  readonly name = 'position ids';
  readonly tensors: readonly IoTensor[];

  constructor(
    tensor: IoTensor,
    private readonly views: readonly [Int32Array | null, Int32Array | null],
  ) {
    super([views[0] !== null, views[1] !== null]);
    this.tensors = [tensor];
  }

  protected write(copy: StepInputCopy, step: EngineStep): void {
    const { position, nNew } = step;
    const ids = this.views[copy]!;
    const ar = step.variant.ar;
    for (let i = 0; i < ar; i++) ids[i] = i < nNew ? position + i : 0;
  }
}

export function positionIdsPart({ layout, buffers }: InputPartContext): InputPart | undefined {
  const tensor = layout.positionIds;
  if (tensor === undefined) return undefined;
  const { first, rest } = buffers.stepInputViews(tensor);
  return new PositionIdsPart(tensor, [first as Int32Array | null, rest as Int32Array | null]);
}
