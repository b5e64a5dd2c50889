import type { IoTensor } from '../../../graphs/layout.js';
import { fillAttentionMask, maskValues, type AttentionMaskParams } from '../../../kv/attention-mask.js';
import type { ElementArray } from '../../../tensor/dtype.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/**
 * `attention_mask` `[AR, CL]`: row i attends the valid KV slots and the new entries up to its own.
 * It works on slots, not positions: which entries a row sees does not depend on their RoPE angles.
 */
class AttentionMaskPart implements InputPart {
  readonly name = 'attention mask';
  readonly tensors: readonly IoTensor[];

  constructor(
    tensor: IoTensor,
    private readonly mask: ElementArray,
    private readonly params: AttentionMaskParams,
  ) {
    this.tensors = [tensor];
  }

  fill(step: EngineStep): void {
    const params = this.params;
    params.ar = step.variant.ar;
    params.cl = step.variant.cl;
    params.nValid = step.nValid;
    params.nNew = step.nNew;
    fillAttentionMask(this.mask, params);
  }
}

export function attentionMaskPart({ layout, buffers, options }: InputPartContext): InputPart | undefined {
  const tensor = layout.attentionMask;
  if (tensor === undefined) return undefined;
  const { attend, masked } = maskValues(tensor.dtype, options.maskedValue);
  return new AttentionMaskPart(tensor, buffers.view(tensor), {
    ar: 1, cl: layout.maxContextLength, nValid: 0, nNew: 0, mode: layout.kvMode, attendValue: attend, maskedValue: masked,
  });
}
