/**
 * Splits a decoder checkpoint (Qwen2, Llama, Phi-3) into reference ctx-bin parts the way AI Hub splits its exports: an
 * optional embedding-only first part, decoder layers spread over the remaining parts, final norm
 * and LM head in the last one. Each part holds one graph per AR at a single CL. Float-valued IO is
 * FLOAT_32 unless `tensorTypes` gives a tensor another dtype (float16, or fixed point with its
 * encoding), as a quantized export presents it.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { FloatTensor } from '../../formats/safetensors.js';
import { graphName, kvTensorName, TensorNames, type GraphNaming } from '../../graphs/names.js';
import type { TensorSpec } from '../../graphs/spec.js';
import type { ReferenceCtxBinPart } from './ctx-bin.js';
import { floatIoProblem } from './io.js';
import { CTX_BIN_FORMAT, ctxBinVersionOf, type GraphStages, type ReferenceGraphMeta } from './metadata.js';
import { layerWeights, type ReferenceModel } from './model.js';
import { EMBED_TOKENS, FINAL_NORM, LM_HEAD, layerOutput } from './names.js';
import { qwen2ConfigProblem, qwen2WeightsProblem, referenceModelOf, type Qwen2Config } from './qwen2.js';
import type { WeightNeeds } from './weights.js';

export interface SplitOptions {
  readonly config: Qwen2Config;
  readonly weights: ReadonlyMap<string, FloatTensor>;
  /** One graph per AR in each part; every AR must be below `cl`. */
  readonly arSet: readonly number[];
  readonly cl: number;
  /** Number of parts (files), the embedding part included. */
  readonly splits: number;
  /** Part 1 is only the embedding lookup (AI Hub `split_embedding`). Needs `inputKind: 'ids'`. */
  readonly embeddingPart?: boolean;
  /** The first part takes `input_ids` (and embeds them) or `input_embeds` (the host embeds). */
  readonly inputKind: 'ids' | 'embeds';
  /** Default `'ai-hub'`. */
  readonly naming?: GraphNaming;
  /**
   * dtype (and encoding) of float-valued IO tensors by name, the same in every graph that has the
   * tensor; unlisted ones are FLOAT_32. Every name must be a float-valued IO tensor of the split.
   */
  readonly tensorTypes?: Readonly<Record<string, TensorType>>;
}

/** How a graph presents one IO tensor: FLOAT_32, FLOAT_16, or fixed point with its encoding. */
export type TensorType = Pick<TensorSpec, 'dtype' | 'encoding'>;

interface PartLayout {
  readonly embedding: boolean;
  readonly first: number;
  readonly end: number;
  readonly lmHead: boolean;
}

function fail(what: string): never {
  throw new InvalidArgumentError(`splitQwen2Checkpoint: ${what}`);
}

function checkOptions(options: SplitOptions): void {
  const { config, weights, arSet, cl, splits, embeddingPart = false, inputKind, naming = 'ai-hub' } = options;
  const configProblem = qwen2ConfigProblem(config);
  if (configProblem !== null) fail(`config ${configProblem}`);
  const weightsProblem = qwen2WeightsProblem(config, weights);
  if (weightsProblem !== null) fail(`weights: ${weightsProblem}`);
  if (!Number.isSafeInteger(cl) || cl < 2) fail(`cl ${cl} is not an integer >= 2`);
  if (arSet.length === 0) fail('arSet is empty');
  for (const ar of arSet) {
    if (!Number.isSafeInteger(ar) || ar < 1 || ar >= cl) fail(`arSet entry ${ar} is not an integer in [1, cl ${cl})`);
  }
  if (new Set(arSet).size !== arSet.length) fail(`arSet [${arSet}] repeats an AR`);
  if (inputKind !== 'ids' && inputKind !== 'embeds') fail(`inputKind "${String(inputKind)}" is not "ids" or "embeds"`);
  if (naming !== 'ai-hub' && naming !== 'neutral') fail(`naming "${String(naming)}" is not "ai-hub" or "neutral"`);
  if (embeddingPart && inputKind !== 'ids') {
    fail('embeddingPart needs inputKind "ids" (an embeds model has no embedding graph)');
  }
  const decoderParts = splits - (embeddingPart ? 1 : 0);
  if (!Number.isSafeInteger(splits) || decoderParts < 1 || decoderParts > config.numHiddenLayers) {
    fail(
      `splits ${splits} leaves ${decoderParts} decoder part(s) for ${config.numHiddenLayers} layers ` +
        `(need 1..${config.numHiddenLayers}${embeddingPart ? ' plus the embedding part' : ''})`,
    );
  }
}

/** Layers spread as evenly as possible, earlier parts taking the remainder. */
function layout(layers: number, splits: number, embeddingPart: boolean, inputKind: 'ids' | 'embeds'): PartLayout[] {
  const parts: PartLayout[] = [];
  if (embeddingPart) parts.push({ embedding: true, first: 0, end: 0, lmHead: false });
  const decoderParts = splits - parts.length;
  let first = 0;
  for (let p = 0; p < decoderParts; p++) {
    const count = Math.floor(layers / decoderParts) + (p < layers % decoderParts ? 1 : 0);
    parts.push({
      embedding: !embeddingPart && p === 0 && inputKind === 'ids',
      first,
      end: first + count,
      lmHead: p === decoderParts - 1,
    });
    first += count;
  }
  return parts;
}

function kindOf(part: PartLayout): GraphStages {
  const stages = [part.embedding && 'embedding', part.end > part.first && 'decoder', part.lmHead && 'lm-head'];
  return stages.filter(Boolean).join('+') as GraphStages;
}

type FloatSpec = (name: string, shape: number[]) => TensorSpec;

function floatSpecs(types: Readonly<Record<string, TensorType>>): FloatSpec {
  return (name, shape) => {
    const type = Object.prototype.hasOwnProperty.call(types, name) ? types[name] : undefined;
    if (type === undefined) return { name, dtype: 'FLOAT_32', shape };
    return type.encoding === undefined
      ? { name, dtype: type.dtype, shape }
      : { name, dtype: type.dtype, shape, encoding: { scale: type.encoding.scale, offset: type.encoding.offset } };
  };
}

/** Every listed type is admissible for a float-valued tensor, and names a tensor of the split. */
function checkTensorTypes(types: Readonly<Record<string, TensorType>>, graphs: readonly ReferenceGraphMeta[]): void {
  const floatNames = new Set<string>();
  for (const graph of graphs) {
    for (const t of [...graph.inputs, ...graph.outputs]) if (t.name !== TensorNames.inputIds) floatNames.add(t.name);
  }
  for (const [name, type] of Object.entries(types)) {
    if (!floatNames.has(name)) fail(`tensorTypes names "${name}", which is not a float-valued IO tensor of these graphs`);
    const problem = floatIoProblem({ name, shape: [1], ...type });
    if (problem !== null) fail(`tensorTypes["${name}"]: ${problem}`);
    const e = type.encoding;
    if (e !== undefined && !(Number.isFinite(e.scale) && e.scale > 0 && Number.isSafeInteger(e.offset))) {
      fail(`tensorTypes["${name}"].encoding ${JSON.stringify(e)} needs a finite scale > 0 and an integer offset`);
    }
  }
}

function graphIo(model: ReferenceModel, parts: readonly PartLayout[], index: number, ar: number, cl: number, float: FloatSpec) {
  const part = parts[index];
  const { hidden, kvHeads, headDim, vocab } = model;
  const inputs: TensorSpec[] = [];
  const outputs: TensorSpec[] = [];
  if (part.embedding) inputs.push({ name: TensorNames.inputIds, dtype: 'INT_32', shape: [1, ar] });
  else inputs.push(float(index === 0 ? TensorNames.inputEmbeds : handoffName(parts[index - 1]), [1, ar, hidden]));
  outputs.push(part.lmHead ? float(TensorNames.logits, [1, ar, vocab]) : float(handoffName(part), [1, ar, hidden]));
  if (part.end > part.first) {
    inputs.push(
      float(TensorNames.attentionMask, [1, 1, ar, cl]),
      float(TensorNames.positionCos, [1, 1, ar, headDim / 2]),
      float(TensorNames.positionSin, [1, 1, ar, headDim / 2]),
    );
    for (let l = part.first; l < part.end; l++) {
      inputs.push(float(kvTensorName('key', l, 'in'), [kvHeads, 1, headDim, cl - ar]));
      inputs.push(float(kvTensorName('value', l, 'in'), [kvHeads, 1, cl - ar, headDim]));
      outputs.push(float(kvTensorName('key', l, 'out'), [kvHeads, 1, headDim, ar]));
      outputs.push(float(kvTensorName('value', l, 'out'), [kvHeads, 1, ar, headDim]));
    }
  }
  return { inputs, outputs };
}

function handoffName(part: PartLayout): string {
  return part.end > part.first ? layerOutput(part.end - 1) : TensorNames.embeddingGather;
}

/** The weights a ctx-bin holding stages `needs` stores (shared with `weights`, not copied). */
export function partTensors(model: ReferenceModel, needs: WeightNeeds, weights: ReadonlyMap<string, FloatTensor>): Map<string, FloatTensor> {
  const tensors = new Map<string, FloatTensor>();
  const copy = (name: string, as = name): void => void tensors.set(as, weights.get(name)!);
  if (needs.embedding) copy(EMBED_TOKENS);
  for (const l of needs.layers) for (const [, name] of layerWeights(model, l)) copy(name);
  if (needs.lmHead) {
    copy(FINAL_NORM);
    // A tied head is the embedding table: stored once when this part already has it.
    if (!model.tieWordEmbeddings) copy(LM_HEAD);
    else if (!needs.embedding) copy(EMBED_TOKENS, LM_HEAD);
  }
  return tensors;
}

const needsOf = (part: PartLayout): WeightNeeds => ({
  embedding: part.embedding,
  layers: new Set(Array.from({ length: part.end - part.first }, (_, i) => part.first + i)),
  lmHead: part.lmHead,
});

/** The parts (in order `1_of_N` ... `N_of_N`) of a reference model; weights are shared, not copied. */
export function splitQwen2Checkpoint(options: SplitOptions): ReferenceCtxBinPart<ReferenceModel>[] {
  return splitCheckpoint(options);
}

/** The parts (in order `1_of_N` ... `N_of_N`) of a reference model of any decoder architecture. */
export function splitCheckpoint(options: SplitOptions): ReferenceCtxBinPart<ReferenceModel>[] {
  checkOptions(options);
  const { config, weights, cl, splits, embeddingPart = false, inputKind, naming = 'ai-hub', tensorTypes = {} } = options;
  const model = referenceModelOf(config);
  const arSet = [...options.arSet].sort((a, b) => a - b);
  const parts = layout(model.layers, splits, embeddingPart, inputKind);
  const float = floatSpecs(tensorTypes);
  const graphsOf = parts.map((part, index) =>
    arSet.map((ar): ReferenceGraphMeta => ({
      name: graphName(naming, ar, cl, index + 1, splits),
      kind: kindOf(part),
      layers: [part.first, part.end],
      ...graphIo(model, parts, index, ar, cl, float),
    })),
  );
  checkTensorTypes(tensorTypes, graphsOf.flat());
  return parts.map((part, index) => ({
    metadata: { format: CTX_BIN_FORMAT, version: ctxBinVersionOf(model), model, graphs: graphsOf[index] },
    tensors: partTensors(model, needsOf(part), weights),
  }));
}
