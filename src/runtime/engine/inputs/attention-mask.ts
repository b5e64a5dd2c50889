import type { IoTensor } from '../../../graphs/layout.js';
import { advanceAttentionMask, fillAttentionMask, maskValues, type AttentionMaskParams } from '../../../kv/attention-mask.js';
import type { ElementArray } from '../../../tensor/dtype.js';
import type { EngineStep } from '../step.js';
import { StepPositionPart, type InputPart, type InputPartContext, type StepInputCopy } from './input-part.js';

/**
 * `attention_mask` `[AR, CL]`: row i attends the valid KV slots and the new entries up to its own.
 * It works on slots, not positions: which entries a row sees does not depend on their RoPE angles.
 *
 * The part is the only writer of its copies and keeps what it wrote last in each (`written`): a
 * decode step that follows the one a copy holds flips one element (`advanceAttentionMask`); any
 * other step writes the whole mask.
 */
class AttentionMaskPart extends StepPositionPart {
  readonly name = 'attention mask';
  readonly tensors: readonly IoTensor[];
  private readonly written: [AttentionMaskParams, AttentionMaskParams];
  /** Whether each copy holds the mask of its `written` params (false after a write that threw). */
  private readonly hasWritten = [false, false];

  constructor(
    tensor: IoTensor,
    private readonly masks: readonly [ElementArray | null, ElementArray | null],
    private readonly params: AttentionMaskParams,
  ) {
    super([masks[0] !== null, masks[1] !== null]);
    this.tensors = [tensor];
    this.written = [{ ...params }, { ...params }];
  }

  protected write(copy: StepInputCopy, step: EngineStep): void {
    const { params } = this;
    const written = this.written[copy];
    const mask = this.masks[copy]!;
    params.ar = step.variant.ar;
    params.cl = step.variant.cl;
    params.nValid = step.nValid;
    params.nNew = step.nNew;
    const advanced = this.hasWritten[copy] && advanceAttentionMask(mask, written, params);
    this.hasWritten[copy] = false;
    if (!advanced) fillAttentionMask(mask, params);
    written.ar = params.ar;
    written.cl = params.cl;
    written.nValid = params.nValid;
    written.nNew = params.nNew;
    this.hasWritten[copy] = true;
  }
}

export function attentionMaskPart({ layout, buffers, options }: InputPartContext): InputPart | undefined {
  const tensor = layout.attentionMask;
  if (tensor === undefined) return undefined;
  const { attend, masked } = maskValues(tensor.dtype, options.maskedValue);
  const { first, rest } = buffers.stepInputViews(tensor);
  return new AttentionMaskPart(tensor, [first, rest], {
    ar: 1, cl: layout.maxContextLength, nValid: 0, nNew: 0, mode: layout.kvMode, attendValue: attend, maskedValue: masked,
  });
}
