import type { IoTensor, Variant } from '../../../graphs/layout.js';
import { fillCacheIndex } from '../../../kv/cache-index.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/**
 * `cache_index` `[AR]` of scatter graphs (they write entry i into KV-in at `cache_index[i]`): the
 * slots nValid, nValid + 1, ... over every row, padded ones included.
 */
class CacheIndexPart implements InputPart {
  readonly name = 'cache index';
  readonly tensors: readonly IoTensor[];

  constructor(
    tensor: IoTensor,
    /** The AR-sized front of the buffer, per variant (created at load). */
    private readonly views: ReadonlyMap<Variant, Int32Array | Uint32Array>,
  ) {
    this.tensors = [tensor];
  }

  fill(step: EngineStep): void {
    fillCacheIndex(this.views.get(step.variant)!, step.nValid, step.variant.cl);
  }
}

export function cacheIndexPart({ layout, buffers }: InputPartContext): InputPart | undefined {
  const tensor = layout.cacheIndex;
  if (tensor === undefined) return undefined;
  const whole = buffers.view(tensor) as Int32Array | Uint32Array;
  return new CacheIndexPart(tensor, new Map(layout.variants.map((v) => [v, whole.subarray(0, v.ar)])));
}
