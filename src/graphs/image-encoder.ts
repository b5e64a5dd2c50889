/**
 * The layout of an image encoder's graphs (Genie's image-encoder node, engine mode "image"): the
 * encoder graph, which takes `pixel_values` and the other inputs Genie's image encoder accepts
 * (docs/genie-behaviour.md#tensor-names) and outputs `image_features*` or `vision_embedding*`; and
 * an optional separate projector graph that takes the encoder's output, tensor for tensor (the
 * seed's layout: encoder -> projector -> decoder). The final rows are the projector's output, or
 * the encoder's when the projector is inside the encoder graph.
 */
import { ModelLayoutError } from './errors.js';
import { IMAGE_ENCODER_INPUTS, IMAGE_FEATURE_PREFIXES, tensorRole, TensorNames } from './names.js';
import type { GraphSpec, TensorSpec } from './spec.js';
import { isFixedPoint } from '../tensor/dtype.js';

export interface ImageEncoderLayout {
  /** The graph that takes `pixel_values`. */
  readonly encoder: GraphSpec;
  /** The encoder's `pixel_values` input. */
  readonly pixelValues: TensorSpec;
  /** Every input of the encoder graph, in its order (`pixel_values` and any of Genie's optional inputs). */
  readonly inputs: readonly TensorSpec[];
  /** The encoder's image-features output. */
  readonly encoderOutput: TensorSpec;
  /** The separate projector graph, if there is one; it takes `encoderOutput`. */
  readonly projector?: GraphSpec;
  /** The final rows: the projector's output, else `encoderOutput`. `[1, rows, width]` or `[rows, width]`. */
  readonly output: TensorSpec;
  /** N: image rows. */
  readonly rows: number;
  /** Elements per row. */
  readonly width: number;
  /** The graphs in run order: the encoder, then the projector. */
  readonly graphs: readonly GraphSpec[];
}

const show = (t: TensorSpec): string => {
  const encoding = t.encoding === undefined ? '' : ` scale=${t.encoding.scale} offset=${t.encoding.offset}`;
  return `"${t.name}" [${t.shape.join(', ')}] ${t.dtype}${encoding}`;
};

const FEATURE_NAMES = IMAGE_FEATURE_PREFIXES.map((p) => `${p}*`).join(' or ');

/** `[rows, width]` of a `[1, N, D]` or `[N, D]` tensor, else undefined. */
function rowsOf(shape: readonly number[]): { rows: number; width: number } | undefined {
  if (shape.length === 3 && shape[0] === 1) return { rows: shape[1], width: shape[2] };
  if (shape.length === 2) return { rows: shape[0], width: shape[1] };
  return undefined;
}

/** Float-valued rows: FLOAT_32, FLOAT_16, or fixed point with an encoding. */
function rowsProblem(t: TensorSpec): string | null {
  if (t.dtype === 'FLOAT_32' || t.dtype === 'FLOAT_16') return null;
  if (isFixedPoint(t.dtype)) return t.encoding === undefined ? `is ${t.dtype} without an encoding` : null;
  return `has dtype ${t.dtype}, not a float or fixed-point type`;
}

function checkRows(graph: GraphSpec, t: TensorSpec, what: string): { rows: number; width: number } {
  const size = rowsOf(t.shape);
  if (size === undefined) {
    throw new ModelLayoutError(`${what} ${show(t)} of graph "${graph.name}" must be [1, N, D] or [N, D] (N image rows of D elements)`);
  }
  const problem = rowsProblem(t);
  if (problem !== null) throw new ModelLayoutError(`${what} ${show(t)} of graph "${graph.name}" ${problem}`);
  return size;
}

const sameSpec = (a: TensorSpec, b: TensorSpec): boolean =>
  a.dtype === b.dtype &&
  a.shape.length === b.shape.length &&
  a.shape.every((d, i) => d === b.shape[i]) &&
  a.encoding?.scale === b.encoding?.scale &&
  a.encoding?.offset === b.encoding?.offset;

/**
 * The image-encoder layout of `graphs` (all the graphs of an image-encoder engine's ctx-bins).
 * @throws ModelLayoutError naming the graph and tensor: no graph or several graphs take
 * `pixel_values`; the encoder takes an input Genie's image encoder does not accept; it outputs no
 * (or several) `image_features*` / `vision_embedding*` tensors; an output is not `[1, N, D]` /
 * `[N, D]` rows of a float or fixed-point type; a further graph is not a projector of the
 * encoder's output (one input equal to that output in shape, dtype and encoding, one output of as
 * many rows); or there is more than one further graph.
 */
export function discoverImageEncoderLayout(graphs: readonly GraphSpec[]): ImageEncoderLayout {
  const list = graphs.map((g) => `"${g.name}"`).join(', ');
  if (graphs.length === 0) throw new ModelLayoutError('an image encoder needs at least one graph, found none');
  const encoders = graphs.filter((g) => g.inputs.some((t) => t.name === TensorNames.pixelValues));
  if (encoders.length === 0) {
    throw new ModelLayoutError(`no graph takes "${TensorNames.pixelValues}": an image encoder's graph must (graphs: ${list})`);
  }
  if (encoders.length > 1) {
    throw new ModelLayoutError(
      `graphs "${encoders[0].name}" and "${encoders[1].name}" both take "${TensorNames.pixelValues}": an image encoder has one encoder graph`,
    );
  }
  const encoder = encoders[0];
  for (const t of encoder.inputs) {
    if (!IMAGE_ENCODER_INPUTS.includes(t.name)) {
      throw new ModelLayoutError(
        `image encoder graph "${encoder.name}" has unsupported input "${t.name}" (Genie's image encoder accepts only ` +
          `${IMAGE_ENCODER_INPUTS.join(', ')})`,
      );
    }
  }
  const pixelValues = encoder.inputs.find((t) => t.name === TensorNames.pixelValues)!;
  const features = encoder.outputs.filter((t) => tensorRole(t.name).kind === 'image_features');
  if (features.length !== 1) {
    const outputs = encoder.outputs.map((t) => `"${t.name}"`).join(', ') || 'none';
    throw new ModelLayoutError(
      `image encoder graph "${encoder.name}" must output exactly one ${FEATURE_NAMES} tensor, found ${features.length} (outputs: ${outputs})`,
    );
  }
  const encoderOutput = features[0];
  const encoded = checkRows(encoder, encoderOutput, 'output');

  const others = graphs.filter((g) => g !== encoder);
  if (others.length > 1) {
    throw new ModelLayoutError(
      `an image encoder has at most one graph besides the encoder "${encoder.name}" (its projector), found ${others.length}: ` +
        others.map((g) => `"${g.name}"`).join(', '),
    );
  }
  if (others.length === 0) {
    return { encoder, pixelValues, inputs: encoder.inputs, encoderOutput, output: encoderOutput, ...encoded, graphs: [encoder] };
  }
  const projector = others[0];
  const input = projector.inputs.find((t) => t.name === encoderOutput.name);
  if (projector.inputs.length !== 1 || input === undefined) {
    const inputs = projector.inputs.map((t) => `"${t.name}"`).join(', ') || 'none';
    throw new ModelLayoutError(
      `graph "${projector.name}" does not take "${pixelValues.name}", so it must be the projector of image encoder graph ` +
        `"${encoder.name}": one input, its output "${encoderOutput.name}" (inputs: ${inputs})`,
    );
  }
  if (!sameSpec(input, encoderOutput)) {
    throw new ModelLayoutError(
      `projector graph "${projector.name}" input ${show(input)} does not match image encoder graph "${encoder.name}" ` +
        `output ${show(encoderOutput)}: the projector must take the encoder's output as it is`,
    );
  }
  if (projector.outputs.length !== 1) {
    throw new ModelLayoutError(`projector graph "${projector.name}" must have exactly one output (the image rows), found ${projector.outputs.length}`);
  }
  const output = projector.outputs[0];
  const projected = checkRows(projector, output, 'output');
  if (projected.rows !== encoded.rows) {
    throw new ModelLayoutError(
      `projector graph "${projector.name}" output ${show(output)} has ${projected.rows} rows but image encoder graph ` +
        `"${encoder.name}" output ${show(encoderOutput)} has ${encoded.rows}`,
    );
  }
  return { encoder, pixelValues, inputs: encoder.inputs, encoderOutput, projector, output, ...projected, graphs: [encoder, projector] };
}
