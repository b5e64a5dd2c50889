/** The float32 weights one reference ctx-bin holds, loaded for the stages its graphs run. */
import type { SafetensorsReader } from '../../formats/safetensors.js';
import { CtxBinError } from './errors.js';
import { layerWeights, sameShape, type ReferenceModel } from './model.js';
import { EMBED_TOKENS, FINAL_NORM, LM_HEAD, type LayerWeightKey } from './names.js';

export type LayerWeights = Readonly<Record<LayerWeightKey, Float32Array>>;

export interface PartWeights {
  readonly embedding?: Float32Array;
  readonly layers: ReadonlyMap<number, LayerWeights>;
  readonly finalNorm?: Float32Array;
  /** `[vocab, hidden]`; the embedding table itself when the model ties them. */
  readonly lmHead?: Float32Array;
}

export interface WeightNeeds {
  readonly embedding: boolean;
  readonly layers: ReadonlySet<number>;
  readonly lmHead: boolean;
}

/**
 * Reads the weights `needs` asks for, checking presence and shape. The LM head is `lm_head.weight`,
 * or `model.embed_tokens.weight` when the model ties them and the file has no separate head.
 */
export async function loadPartWeights(
  reader: SafetensorsReader,
  model: ReferenceModel,
  needs: WeightNeeds,
): Promise<PartWeights> {
  const read = async (name: string, shape: readonly number[]): Promise<Float32Array> => {
    const info = reader.tensors.get(name);
    if (info === undefined) throw new CtxBinError(`reference ctx-bin "${reader.path}": missing weight tensor "${name}"`);
    if (!sameShape(info.shape, shape)) {
      throw new CtxBinError(
        `reference ctx-bin "${reader.path}": weight tensor "${name}" has shape [${info.shape}], expected [${shape}]`,
      );
    }
    return reader.readFloat32(name);
  };
  const tableShape = [model.vocab, model.hidden];
  const embedding = needs.embedding ? await read(EMBED_TOKENS, tableShape) : undefined;
  const layers = new Map<number, LayerWeights>();
  for (const layer of [...needs.layers].sort((a, b) => a - b)) {
    const weights = {} as Record<LayerWeightKey, Float32Array>;
    for (const [key, name, shape] of layerWeights(model, layer)) weights[key] = await read(name, shape);
    layers.set(layer, weights);
  }
  let finalNorm: Float32Array | undefined;
  let lmHead: Float32Array | undefined;
  if (needs.lmHead) {
    finalNorm = await read(FINAL_NORM, [model.hidden]);
    const headName = model.tieWordEmbeddings && !reader.tensors.has(LM_HEAD) ? EMBED_TOKENS : LM_HEAD;
    lmHead = headName === EMBED_TOKENS && embedding !== undefined ? embedding : await read(headName, tableShape);
  }
  return { embedding, layers, finalNorm, lmHead };
}
