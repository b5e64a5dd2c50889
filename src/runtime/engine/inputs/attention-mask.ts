import type { IoTensor } from '../../../graphs/layout.js';
import { advanceAttentionMask, fillAttentionMask, maskValues, type AttentionMaskParams } from '../../../kv/attention-mask.js';
import type { ElementArray } from '../../../tensor/dtype.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/**
 * `attention_mask` `[AR, CL]`: row i attends the valid KV slots and the new entries up to its own.
 * It works on slots, not positions: which entries a row sees does not depend on their RoPE angles.
 *
 * The part is the buffer's only writer and keeps what it wrote last (`written`): a decode step that
 * follows one it wrote flips one element (`advanceAttentionMask`), which is what sits on the NPU's
 * idle time between tokens; any other step writes the whole mask.
 */
class AttentionMaskPart implements InputPart {
  readonly name = 'attention mask';
  readonly tensors: readonly IoTensor[];
  private readonly written: AttentionMaskParams;
  private hasWritten = false;

  constructor(
    tensor: IoTensor,
    private readonly mask: ElementArray,
    private readonly params: AttentionMaskParams,
  ) {
    this.tensors = [tensor];
    this.written = { ...params };
  }

  fill(step: EngineStep): void {
    const { params, written } = this;
    params.ar = step.variant.ar;
    params.cl = step.variant.cl;
    params.nValid = step.nValid;
    params.nNew = step.nNew;
    // Forgotten first: a full fill that throws leaves the buffer in an unknown state.
    const advanced = this.hasWritten && advanceAttentionMask(this.mask, written, params);
    this.hasWritten = false;
    if (!advanced) fillAttentionMask(this.mask, params);
    written.ar = params.ar;
    written.cl = params.cl;
    written.nValid = params.nValid;
    written.nNew = params.nNew;
    this.hasWritten = true;
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
