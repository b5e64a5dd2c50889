import { splitQwen2Checkpoint, type Qwen2Checkpoint, type ReferenceCtxBinPart } from '../backends/reference/index.js';
import type { TensorType } from '../backends/reference/split.js';
import type { DemoOptions } from './options.js';

/** The demo's reference ctx-bin parts; float-valued IO is FLOAT_32 unless `tensorTypes` says otherwise. */
export function demoParts(
  options: DemoOptions,
  checkpoint: Qwen2Checkpoint,
  tensorTypes: Readonly<Record<string, TensorType>> = {},
): ReferenceCtxBinPart[] {
  return splitQwen2Checkpoint({
    config: checkpoint.config,
    weights: checkpoint.weights,
    arSet: options.ar,
    cl: options.cl,
    splits: options.splits,
    embeddingPart: options.input === 'ids' && options.splits > 1,
    inputKind: options.input,
    tensorTypes,
  });
}
