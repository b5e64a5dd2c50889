import { writeSafetensors, type FloatTensor } from '../../formats/safetensors.js';
import { encodeCtxBinMetadata, parseCtxBinMetadata, type CtxBinModel, type ReferenceCtxBinMetadata } from './metadata.js';
import { planCtxBin } from './program.js';

/** One reference ctx-bin before it is written: graph metadata plus the weights its graphs use. */
export interface ReferenceCtxBinPart<M extends CtxBinModel = CtxBinModel> {
  readonly metadata: ReferenceCtxBinMetadata<M>;
  /** Weights in Hugging Face naming (Qwen2, or vision-model.ts's). */
  readonly tensors: ReadonlyMap<string, FloatTensor>;
}

/**
 * Writes `part` as a safetensors file. The metadata is validated as a reader would (throws
 * `CtxBinError` naming `path` and the key) before anything is written.
 */
export async function writeReferenceCtxBin(path: string, part: ReferenceCtxBinPart): Promise<void> {
  const encoded = encodeCtxBinMetadata(part.metadata);
  planCtxBin(parseCtxBinMetadata(encoded, path), 0, path);
  await writeSafetensors(path, part.tensors, encoded);
}
