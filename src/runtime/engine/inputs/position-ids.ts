import type { IoTensor } from '../../../graphs/layout.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/** `position_ids` `[AR]` of graphs that compute RoPE themselves: the step's positions, 0 on padded rows. */
class PositionIdsPart implements InputPart {
  readonly name = 'position ids';
  readonly tensors: readonly IoTensor[];

  constructor(
    tensor: IoTensor,
    private readonly ids: Int32Array,
  ) {
    this.tensors = [tensor];
  }

  fill(step: EngineStep): void {
    const { position, nNew } = step;
    const ids = this.ids;
    const ar = step.variant.ar;
    for (let i = 0; i < ar; i++) ids[i] = i < nNew ? position + i : 0;
  }
}

export function positionIdsPart({ layout, buffers }: InputPartContext): InputPart | undefined {
  const tensor = layout.positionIds;
  if (tensor === undefined) return undefined;
  return new PositionIdsPart(tensor, buffers.view(tensor) as Int32Array);
}
