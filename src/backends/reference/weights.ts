/** The float32 weights one reference ctx-bin holds, loaded for the stages its graphs run. */
import type { SafetensorsReader } from '../../formats/safetensors.js';
import { CtxBinError } from './errors.js';
import { layerWeights, sameShape, type ReferenceModel } from './model.js';
import { EMBED_TOKENS, FINAL_NORM, LM_HEAD, type LayerWeightKey } from './names.js';
import type { GraphPlan } from './plan.js';

/**
 * One layer as the executor runs it, whatever the architecture stores: separate projections (fused
 * Phi-3 ones are row ranges of the fused matrix, views, not copies), biases null when absent.
 */
export interface LayerWeights {
  readonly inputNorm: Float32Array;
  readonly qWeight: Float32Array;
  readonly qBias: Float32Array | null;
  readonly kWeight: Float32Array;
  readonly kBias: Float32Array | null;
  readonly vWeight: Float32Array;
  readonly vBias: Float32Array | null;
  readonly oWeight: Float32Array;
  readonly postNorm: Float32Array;
  readonly gateWeight: Float32Array;
  readonly upWeight: Float32Array;
  readonly downWeight: Float32Array;
}

/**
 * The executor's view of a layer's stored weights. Phi-3's `qkv_proj` is `[q; k; v]` by rows and
 * `gate_up_proj` `[gate; up]` (HF Phi3: `chunk(2)`, gate first); rows are contiguous in `[out, in]`
 * order, so each part is a subarray.
 */
export function executorLayer(model: ReferenceModel, stored: Partial<Record<LayerWeightKey, Float32Array>>): LayerWeights {
  const { hidden, heads, kvHeads, headDim, intermediate } = model;
  let { qWeight, kWeight, vWeight, gateWeight, upWeight } = stored;
  if (stored.qkvWeight !== undefined) {
    const q = heads * headDim * hidden;
    const kv = kvHeads * headDim * hidden;
    qWeight = stored.qkvWeight.subarray(0, q);
    kWeight = stored.qkvWeight.subarray(q, q + kv);
    vWeight = stored.qkvWeight.subarray(q + kv, q + 2 * kv);
  }
  if (stored.gateUpWeight !== undefined) {
    const half = intermediate * hidden;
    gateWeight = stored.gateUpWeight.subarray(0, half);
    upWeight = stored.gateUpWeight.subarray(half, 2 * half);
  }
  return {
    inputNorm: stored.inputNorm!,
    qWeight: qWeight!,
    qBias: stored.qBias ?? null,
    kWeight: kWeight!,
    kBias: stored.kBias ?? null,
    vWeight: vWeight!,
    vBias: stored.vBias ?? null,
    oWeight: stored.oWeight!,
    postNorm: stored.postNorm!,
    gateWeight: gateWeight!,
    upWeight: upWeight!,
    downWeight: stored.downWeight!,
  };
}

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

/** The weights the stages of `plans` (the graphs of one ctx-bin) use. */
export function weightNeedsOf(plans: readonly GraphPlan[]): WeightNeeds {
  const layers = new Set<number>();
  for (const plan of plans) for (const io of plan.decoder?.layers ?? []) layers.add(io.layer);
  return {
    embedding: plans.some((p) => p.tokenIds !== undefined),
    layers,
    lmHead: plans.some((p) => p.logits !== undefined),
  };
}

/** Tensor shapes of a weight file, and its float32 data read one tensor at a time. */
export interface WeightSource<Data> {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>;
  readFloat32(name: string): Data;
}

/** One weight a ctx-bin's graphs read: its name and expected shape. */
export interface WeightRequest {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * The weights a ctx-bin's graphs use, as a sequence of reads (each answered with the tensor's
 * float32 data) returning the assembled weights, so the file-backed and the in-memory loaders
 * share one selection.
 */
export type WeightReads<W> = Generator<WeightRequest, W, Float32Array>;

/**
 * The decoder weights `needs` asks for, as a sequence of reads. The LM head is `lm_head.weight`,
 * or `model.embed_tokens.weight` when the model ties them and the file has no separate head.
 */
export function* partWeightReads(model: ReferenceModel, needs: WeightNeeds, has: (name: string) => boolean): WeightReads<PartWeights> {
  const tableShape = [model.vocab, model.hidden];
  const embedding = needs.embedding ? yield { name: EMBED_TOKENS, shape: tableShape } : undefined;
  const layers = new Map<number, LayerWeights>();
  for (const layer of [...needs.layers].sort((a, b) => a - b)) {
    const stored: Partial<Record<LayerWeightKey, Float32Array>> = {};
    for (const [key, name, shape] of layerWeights(model, layer)) stored[key] = yield { name, shape };
    layers.set(layer, executorLayer(model, stored));
  }
  let finalNorm: Float32Array | undefined;
  let lmHead: Float32Array | undefined;
  if (needs.lmHead) {
    finalNorm = yield { name: FINAL_NORM, shape: [model.hidden] };
    const headName = model.tieWordEmbeddings && !has(LM_HEAD) ? EMBED_TOKENS : LM_HEAD;
    lmHead = headName === EMBED_TOKENS && embedding !== undefined ? embedding : yield { name: headName, shape: tableShape };
  }
  return { embedding, layers, finalNorm, lmHead };
}

/** Checks presence and shape of a requested weight; throws `CtxBinError` naming file and tensor. */
function checkWeight<Data>(source: WeightSource<Data>, { name, shape }: WeightRequest): void {
  const info = source.tensors.get(name);
  if (info === undefined) throw new CtxBinError(`reference ctx-bin "${source.path}": missing weight tensor "${name}"`);
  if (!sameShape(info.shape, shape)) {
    throw new CtxBinError(
      `reference ctx-bin "${source.path}": weight tensor "${name}" has shape [${info.shape}], expected [${shape}]`,
    );
  }
}

/**
 * Answers `reads` from an open file, checking presence and shape of each weight; `place` may move
 * each weight elsewhere (into shared memory for worker threads).
 */
export async function loadWeights<W>(
  reader: SafetensorsReader,
  reads: WeightReads<W>,
  place: (data: Float32Array) => Float32Array = (data) => data,
): Promise<W> {
  let step = reads.next();
  while (!step.done) {
    checkWeight(reader, step.value);
    step = reads.next(place(await reader.readFloat32(step.value.name)));
  }
  return step.value;
}

/** Answers `reads` from memory, checking presence and shape of each weight. */
export function readWeights<W>(source: WeightSource<Float32Array>, reads: WeightReads<W>): W {
  let step = reads.next();
  while (!step.done) {
    checkWeight(source, step.value);
    step = reads.next(source.readFloat32(step.value.name));
  }
  return step.value;
}
