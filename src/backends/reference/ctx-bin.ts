import { writeSafetensors, type FloatTensor } from '../../formats/safetensors.js';
import { encodeCtxBinMetadata, parseCtxBinMetadata, type ReferenceCtxBinMetadata } from './metadata.js';
import { planGraph } from './plan.js';

/** One reference ctx-bin before it is written: graph metadata plus the weights its graphs use. */
export interface ReferenceCtxBinPart {
  readonly metadata: ReferenceCtxBinMetadata;
  /** Weights in Hugging Face Qwen2 naming. */
  readonly tensors: ReadonlyMap<string, FloatTensor>;
}

/**
 * Writes `part` as a safetensors file. The metadata is validated as a reader would (throws
 * `CtxBinError` naming `path` and the key) before anything is written.
 */
export async function writeReferenceCtxBin(path: string, part: ReferenceCtxBinPart): Promise<void> {
  const encoded = encodeCtxBinMetadata(part.metadata);
  const { model, graphs } = parseCtxBinMetadata(encoded, path);
  graphs.forEach((graph, i) => planGraph(graph, i, 0, model, path));
  await writeSafetensors(path, part.tensors, encoded);
}
