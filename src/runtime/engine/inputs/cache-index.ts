import type { IoTensor, Variant } from '../../../graphs/layout.js';
import { fillCacheIndex } from '../../../kv/cache-index.js';
import type { ElementArray } from '../../../tensor/dtype.js';
import type { EngineStep } from '../step.js';
import { StepPositionPart, type InputPart, type InputPartContext, type StepInputCopy } from './input-part.js';

type CacheIndexViews = ReadonlyMap<Variant, Int32Array | Uint32Array>;

/**
 * `cache_index` `[AR]` of scatter graphs (they write entry i into KV-in at `cache_index[i]`): the
 * slots nValid, nValid + 1, ... over every row, padded ones included.
 */
class CacheIndexPart extends StepPositionPart {
  readonly name = 'cache index';
  readonly tensors: readonly IoTensor[];

  constructor(
    tensor: IoTensor,
    /** Per copy, the AR-sized front of its buffer per variant (created at load). */
    private readonly views: readonly [CacheIndexViews | null, CacheIndexViews | null],
  ) {
    super([views[0] !== null, views[1] !== null]);
    this.tensors = [tensor];
  }

  protected write(copy: StepInputCopy, step: EngineStep): void {
    fillCacheIndex(this.views[copy]!.get(step.variant)!, step.nValid, step.variant.cl);
  }
}

export function cacheIndexPart({ layout, buffers }: InputPartContext): InputPart | undefined {
  const tensor = layout.cacheIndex;
  if (tensor === undefined) return undefined;
  const byVariant = (whole: ElementArray | null): CacheIndexViews | null =>
    whole === null ? null : new Map(layout.variants.map((v) => [v, (whole as Int32Array | Uint32Array).subarray(0, v.ar)]));
  const { first, rest } = buffers.stepInputViews(tensor);
  return new CacheIndexPart(tensor, [byVariant(first), byVariant(rest)]);
}
