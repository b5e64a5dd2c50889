/**
 * Checks that a vision graph's IO fits its stages (docs/genie-behaviour.md#tensor-names) and
 * resolves each tensor to its role, once at open time, so the executor never looks at names again.
 */
import { IMAGE_ENCODER_INPUTS, IMAGE_FEATURE_PREFIXES, tensorRole, TensorNames } from '../../graphs/names.js';
import type { GraphSpec, TensorSpec } from '../../graphs/spec.js';
import { CtxBinError } from './errors.js';
import { floatIoProblem } from './io.js';
import type { ReferenceGraphMeta } from './metadata.js';
import { sameShape } from './model.js';
import { patchCount, type ReferenceVisionModel, type VisionTower } from './vision-model.js';

/** How `pixel_values` lays out an image: `[1, C, H, W]` or `[1, H, W, C]`. */
export type PixelLayout = 'NCHW' | 'NHWC';

export interface VisionGraphPlan {
  readonly spec: GraphSpec;
  /** Present when the graph runs the tower: it reads `pixel_values` in this layout. */
  readonly pixels?: { readonly spec: TensorSpec; readonly layout: PixelLayout };
  /** Present for a projector-only graph: the image features it takes. */
  readonly featuresIn?: TensorSpec;
  /** The graph runs the projector after the tower (or on `featuresIn`). */
  readonly projector: boolean;
  /** Its one output: image features (tower) or projected rows. */
  readonly output: TensorSpec;
  /** N: image rows. */
  readonly rows: number;
}

const describe = (t: TensorSpec): string => `"${t.name}" [${t.shape}]`;

/** `[1, rows, width]` or `[rows, width]`. */
function isRows(shape: readonly number[], rows: number, width: number): boolean {
  return sameShape(shape, [1, rows, width]) || sameShape(shape, [rows, width]);
}

function pixelLayoutOf(shape: readonly number[], tower: VisionTower): PixelLayout | undefined {
  const { channels: c, imageSize: [h, w] } = tower;
  if (sameShape(shape, [1, c, h, w])) return 'NCHW';
  if (sameShape(shape, [1, h, w, c])) return 'NHWC';
  return undefined;
}

/** Validates vision graph `index` of ctx-bin `file` against `model`; throws `CtxBinError` naming file and key. */
export function planVisionGraph(
  meta: ReferenceGraphMeta,
  index: number,
  ctxBin: number,
  model: ReferenceVisionModel,
  file: string,
): VisionGraphPlan {
  const fail = (what: string): never => {
    throw new CtxBinError(`reference ctx-bin "${file}": key graphs[${index}] ("${meta.name}"): ${what}`);
  };
  const stages = meta.kind.split('+');
  const hasTower = stages.includes('vision');
  const projector = stages.includes('projector');
  const tower = model.tower;
  if (hasTower && tower === undefined) fail(`kind "${meta.kind}" runs the vision tower, but the model has none (model.tower)`);
  const layers = hasTower ? tower!.layers : 0;
  if (meta.layers[0] !== 0 || meta.layers[1] !== layers) {
    fail(
      `layers: [${meta.layers}] must be [0, ${layers}] for kind "${meta.kind}" ` +
        (hasTower ? '(a vision graph runs the whole tower)' : '(a projector has no tower layers)'),
    );
  }
  const names = new Set<string>();
  for (const [side, list] of [['inputs', meta.inputs], ['outputs', meta.outputs]] as const) {
    for (const t of list) {
      if (names.has(t.name)) fail(`${side}: tensor "${t.name}" is listed twice`);
      names.add(t.name);
    }
  }
  const checkFloat = (side: string, t: TensorSpec): void => {
    const problem = floatIoProblem(t);
    if (problem !== null) fail(`${side}: tensor "${t.name}": ${problem}`);
  };

  let pixels: VisionGraphPlan['pixels'];
  let featuresIn: TensorSpec | undefined;
  let rows: number;
  if (hasTower) {
    for (const t of meta.inputs) {
      if (!IMAGE_ENCODER_INPUTS.includes(t.name)) {
        fail(`inputs: unexpected tensor "${t.name}" (an image encoder takes only ${IMAGE_ENCODER_INPUTS.join(', ')})`);
      }
    }
    const spec = meta.inputs.find((t) => t.name === TensorNames.pixelValues);
    if (spec === undefined) return fail(`inputs: missing tensor "${TensorNames.pixelValues}"`);
    const { channels: c, imageSize: [h, w] } = tower!;
    const layout = pixelLayoutOf(spec.shape, tower!);
    if (layout === undefined) {
      fail(`inputs: tensor ${describe(spec)} must be [1,${c},${h},${w}] (NCHW) or [1,${h},${w},${c}] (NHWC)`);
    }
    checkFloat('inputs', spec);
    pixels = { spec, layout: layout! };
    rows = patchCount(tower!);
  } else {
    if (meta.inputs.length !== 1) {
      fail(`inputs: a projector takes exactly one tensor (the image features), found ${meta.inputs.length}`);
    }
    featuresIn = meta.inputs[0];
    if (tensorRole(featuresIn.name).kind !== 'image_features') {
      fail(`inputs: tensor "${featuresIn.name}" is not named as image features (${IMAGE_FEATURE_PREFIXES.join('*, ')}*)`);
    }
    const { shape } = featuresIn;
    rows = shape.length === 3 && shape[0] === 1 ? shape[1] : shape.length === 2 ? shape[0] : 0;
    if (rows === 0 || !isRows(shape, rows, model.projector.inputSize)) {
      fail(`inputs: tensor ${describe(featuresIn)} must be [1,N,${model.projector.inputSize}] or [N,${model.projector.inputSize}]`);
    }
    checkFloat('inputs', featuresIn);
  }

  if (meta.outputs.length !== 1) fail(`outputs: expected exactly one tensor, found ${meta.outputs.length}`);
  const output = meta.outputs[0];
  if (hasTower && tensorRole(output.name).kind !== 'image_features') {
    fail(`outputs: tensor "${output.name}" is not named as an image encoder's output (${IMAGE_FEATURE_PREFIXES.join('*, ')}*)`);
  }
  const width = projector ? model.projector.hidden : model.projector.inputSize;
  if (!isRows(output.shape, rows, width)) fail(`outputs: tensor ${describe(output)} must be [1,${rows},${width}] or [${rows},${width}]`);
  checkFloat('outputs', output);

  return {
    spec: { name: meta.name, ctxBin, inputs: meta.inputs, outputs: meta.outputs },
    pixels,
    featuresIn,
    projector,
    output,
    rows,
  };
}
