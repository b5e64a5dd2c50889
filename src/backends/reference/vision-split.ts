/**
 * Reference ctx-bins of a vision checkpoint: the image encoder with its projector fused into one
 * graph, or the seed's layout of an encoder graph and a projector graph in ctx-bins of their own
 * (encoder -> projector -> decoder). Graph IO follows Genie's image encoder
 * (docs/genie-behaviour.md#tensor-names): `pixel_values` in, `image_features` out; a separate
 * projector takes the encoder's `image_features` and outputs `vision_embedding`, the other output
 * name Genie reads (as configs/fastvlm-0.5b expects its projector binary). Float-valued IO is
 * FLOAT_32 unless `tensorTypes` gives a tensor another dtype (float16, or fixed point with its
 * encoding), as a quantized export presents it.
 */
import { InvalidArgumentError } from '../../errors.js';
import { IMAGE_ENCODER_INPUTS, TensorNames } from '../../graphs/names.js';
import type { TensorSpec } from '../../graphs/spec.js';
import type { FloatTensor } from '../../formats/safetensors.js';
import type { ReferenceCtxBinPart } from './ctx-bin.js';
import { floatIoProblem } from './io.js';
import { CTX_BIN_FORMAT, VISION_CTX_BIN_VERSION, type ReferenceGraphMeta, type VisionGraphStages } from './metadata.js';
import type { TensorType } from './split.js';
import { visionWeightsProblem, type VisionCheckpoint } from './vision-checkpoint.js';
import {
  patchCount, projectorWeightShapes, visionModelProblem, visionTowerWeightShapes, type ReferenceVisionModel,
} from './vision-model.js';
import type { PixelLayout } from './vision-plan.js';

/** Graph names of the parts (any name works; these say what the graph is). */
export const IMAGE_ENCODER_GRAPH = 'image_encoder';
export const IMAGE_PROJECTOR_GRAPH = 'image_projector';

export interface VisionSplitOptions {
  readonly checkpoint: VisionCheckpoint;
  /**
   * `fused`: one ctx-bin whose graph runs tower and projector (`vision+projector`); `separate`: an
   * encoder ctx-bin (`vision`) and a projector ctx-bin (`projector`). A checkpoint without a tower
   * gives one projector ctx-bin either way.
   */
  readonly split: 'fused' | 'separate';
  /** Layout of `pixel_values`; default `NCHW`. */
  readonly pixelLayout?: PixelLayout;
  /**
   * Further encoder inputs from Genie's set (`position_ids_sin`, `position_ids_cos`,
   * `full_attention_mask`, `window_attention_mask`): the graph declares them, the reference tower
   * does not read them.
   */
  readonly extraInputs?: readonly TensorSpec[];
  /** Image rows N of a projector-only checkpoint (a tower gives its own patch count). */
  readonly rows?: number;
  /**
   * dtype (and encoding) of float-valued IO tensors by name (`pixel_values`, `image_features`,
   * `vision_embedding`), the same in every graph that has the tensor; unlisted ones are FLOAT_32.
   */
  readonly tensorTypes?: Readonly<Record<string, TensorType>>;
}

function fail(what: string): never {
  throw new InvalidArgumentError(`visionCtxBinParts: ${what}`);
}

function spec(name: string, shape: number[], types: Readonly<Record<string, TensorType>>): TensorSpec {
  const type = Object.hasOwn(types, name) ? types[name] : undefined;
  if (type === undefined) return { name, dtype: 'FLOAT_32', shape };
  return type.encoding === undefined
    ? { name, dtype: type.dtype, shape }
    : { name, dtype: type.dtype, shape, encoding: { scale: type.encoding.scale, offset: type.encoding.offset } };
}

function checkExtraInputs(extra: readonly TensorSpec[]): void {
  const seen = new Set<string>();
  for (const t of extra) {
    if (t.name === TensorNames.pixelValues || !IMAGE_ENCODER_INPUTS.includes(t.name)) {
      fail(`extraInputs: "${t.name}" is not one of ${IMAGE_ENCODER_INPUTS.filter((n) => n !== TensorNames.pixelValues).join(', ')}`);
    }
    if (seen.has(t.name)) fail(`extraInputs: "${t.name}" is listed twice`);
    seen.add(t.name);
  }
}

function checkTensorTypes(types: Readonly<Record<string, TensorType>>, graphs: readonly ReferenceGraphMeta[]): void {
  const names = new Set(graphs.flatMap((g) => [...g.inputs, ...g.outputs]).map((t) => t.name));
  for (const [name, type] of Object.entries(types)) {
    if (!names.has(name)) fail(`tensorTypes names "${name}", which is not an IO tensor of these graphs`);
    const problem = floatIoProblem({ name, shape: [1], ...type });
    if (problem !== null) fail(`tensorTypes["${name}"]: ${problem}`);
    const e = type.encoding;
    if (e !== undefined && !(Number.isFinite(e.scale) && e.scale > 0 && Number.isSafeInteger(e.offset))) {
      fail(`tensorTypes["${name}"].encoding ${JSON.stringify(e)} needs a finite scale > 0 and an integer offset`);
    }
  }
}

function pick(weights: ReadonlyMap<string, FloatTensor>, names: Iterable<string>): Map<string, FloatTensor> {
  return new Map([...names].map((name) => [name, weights.get(name)!]));
}

/**
 * The reference ctx-bin parts of a vision checkpoint, in run order (encoder first). Weights are
 * shared with the checkpoint, not copied.
 * @throws InvalidArgumentError naming the option, or the checkpoint's first bad weight.
 */
export function visionCtxBinParts(options: VisionSplitOptions): ReferenceCtxBinPart<ReferenceVisionModel>[] {
  const { checkpoint, split, pixelLayout = 'NCHW', extraInputs = [], tensorTypes = {} } = options;
  const { model, weights } = checkpoint;
  const problem = visionModelProblem(model) ?? visionWeightsProblem(model, weights);
  if (problem !== null) fail(`checkpoint: ${problem}`);
  if (split !== 'fused' && split !== 'separate') fail(`split "${String(split)}" is not "fused" or "separate"`);
  if (pixelLayout !== 'NCHW' && pixelLayout !== 'NHWC') fail(`pixelLayout "${String(pixelLayout)}" is not "NCHW" or "NHWC"`);
  checkExtraInputs(extraInputs);
  const { tower, projector } = model;
  const t = (name: string, shape: number[]): TensorSpec => spec(name, shape, tensorTypes);
  const graph = (name: string, kind: VisionGraphStages, inputs: TensorSpec[], outputs: TensorSpec[]): ReferenceGraphMeta => ({
    name,
    kind,
    layers: [0, kind === 'projector' ? 0 : tower!.layers],
    inputs,
    outputs,
  });
  const part = (graphs: ReferenceGraphMeta[], names: Iterable<string>): ReferenceCtxBinPart<ReferenceVisionModel> => ({
    metadata: { format: CTX_BIN_FORMAT, version: VISION_CTX_BIN_VERSION, model, graphs },
    tensors: pick(weights, names),
  });

  let rows: number;
  if (tower === undefined) {
    rows = options.rows ?? fail('rows is required for a checkpoint without a vision tower');
    if (!Number.isSafeInteger(rows) || rows < 1) fail(`rows ${rows} is not a positive integer`);
  } else {
    rows = patchCount(tower);
    if (options.rows !== undefined && options.rows !== rows) fail(`rows ${options.rows} is not the tower's patch count ${rows}`);
  }
  const features = (width: number): TensorSpec => t(TensorNames.imageFeatures, [1, rows, width]);
  const projectorGraph = graph(IMAGE_PROJECTOR_GRAPH, 'projector', [features(projector.inputSize)], [t(TensorNames.visionEmbedding, [1, rows, projector.hidden])]);
  const projectorNames = projectorWeightShapes(projector).keys();
  let parts: ReferenceCtxBinPart<ReferenceVisionModel>[];
  if (tower === undefined) {
    parts = [part([projectorGraph], projectorNames)];
  } else {
    const [height, width] = tower.imageSize;
    const pixelShape = pixelLayout === 'NCHW' ? [1, tower.channels, height, width] : [1, height, width, tower.channels];
    const inputs = [t(TensorNames.pixelValues, pixelShape), ...extraInputs.map((x) => ({ ...x, shape: [...x.shape] }))];
    const towerNames = visionTowerWeightShapes(tower).keys();
    parts =
      split === 'fused'
        ? [part([graph(IMAGE_ENCODER_GRAPH, 'vision+projector', inputs, [features(projector.hidden)])], [...towerNames, ...projectorNames])]
        : [part([graph(IMAGE_ENCODER_GRAPH, 'vision', inputs, [features(tower.hidden)])], towerNames), part([projectorGraph], projectorNames)];
  }
  checkTensorTypes(tensorTypes, parts.flatMap((p) => p.metadata.graphs));
  return parts;
}
