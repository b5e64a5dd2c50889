import type { IoTensor } from '../../../graphs/layout.js';
import type { ElementArray } from '../../../tensor/dtype.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/** `input_ids` of a model whose first part embeds tokens itself: the step's ids, then the pad token. */
class TokenIdsPart implements InputPart {
  readonly name = 'token ids';
  readonly tensors: readonly IoTensor[];

  constructor(
    tensor: IoTensor,
    private readonly ids: ElementArray,
    private readonly padToken: number,
  ) {
    this.tensors = [tensor];
  }

  fill(step: EngineStep): void {
    const { tokens, start, nNew } = step;
    const ids = this.ids;
    const ar = step.variant.ar;
    for (let i = 0; i < ar; i++) ids[i] = i < nNew ? tokens[start + i] : this.padToken;
  }
}

export function tokenIdsPart({ layout, buffers, options }: InputPartContext): InputPart | undefined {
  if (layout.input.kind !== 'ids') return undefined;
  const tensor = layout.input.tensor;
  return new TokenIdsPart(tensor, buffers.view(tensor), options.padToken);
}
