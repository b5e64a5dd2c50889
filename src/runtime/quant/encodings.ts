/**
 * The IO types of a quantized export, derived from a float32 model's graphs: HTP-style fixed point
 * from calibrated ranges (docs/genie-behaviour.md#ai-hub-quantization), or float16 everywhere (AI
 * Hub's "w4").
 */
import { InvalidArgumentError } from '../../errors.js';
import { DEFAULT_CACHE_GROUP, tensorRole } from '../../graphs/names.js';
import type { GraphSpec, TensorSpec } from '../../graphs/spec.js';
import { codeRange, type Encoding } from '../../tensor/dtype.js';
import type { TensorRanges, ValueRange } from './ranges.js';

/** How a graph presents one IO tensor (dtype, and the encoding of a fixed-point one). */
export type IoType = Pick<TensorSpec, 'dtype' | 'encoding'>;

type UnsignedFixed = 'UFIXED_POINT_8' | 'UFIXED_POINT_16';

/**
 * AI Hub clips the additive attention mask to [-50, 0] before quantizing it
 * (docs/genie-behaviour.md#attention-mask-values).
 */
export const MASK_FLOAT_RANGE: ValueRange = Object.freeze({ min: -50, max: 0 });
const ROPE_RANGE: ValueRange = Object.freeze({ min: -1, max: 1 });
/** Default widening of calibrated ranges, as a fraction of their width (KV: of max |x|). */
export const DEFAULT_CALIBRATION_MARGIN = 0.1;

function levels(dtype: UnsignedFixed): number {
  return codeRange(dtype).max;
}

/**
 * The asymmetric encoding covering `[min, max]` extended to include 0: `scale = width / (2^bits - 1)`,
 * `offset = round(min / scale)`, so 0.0 is exactly code `-offset`. A zero-width range becomes [0, 1].
 * Scales are float32 values, as QNN stores them (Qnn_ScaleOffset_t).
 */
export function rangeEncoding(range: ValueRange, dtype: UnsignedFixed): Encoding {
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  const width = hi > lo ? hi - lo : 1;
  const scale = Math.fround(width / levels(dtype));
  return { scale, offset: Math.round(lo / scale) + 0 };
}

/** Symmetric around code 2^(bits-1) (uint8: offset -128): `scale = maxAbs / (2^(bits-1) - 1)`, a float32. */
export function symmetricEncoding(maxAbs: number, dtype: UnsignedFixed): Encoding {
  const half = (levels(dtype) + 1) / 2;
  return { scale: Math.fround((maxAbs > 0 ? maxAbs : 1) / (half - 1)), offset: -half };
}

export interface HtpTypesOptions {
  /** KV cache-group prefixes (default `past_`). */
  readonly cacheGroups?: readonly string[];
  /** Widening of calibrated ranges (default `DEFAULT_CALIBRATION_MARGIN`). */
  readonly margin?: number;
}

/** The IO lists of a graph (a `GraphSpec`, or a reference ctx-bin's graph metadata). */
export type GraphIo = Pick<GraphSpec, 'inputs' | 'outputs'>;

/** Every FLOAT_32 IO tensor of `graphs`, by name (same-named tensors are one entry). */
function floatTensorNames(graphs: readonly GraphIo[]): string[] {
  const names = new Set<string>();
  for (const graph of graphs) for (const t of [...graph.inputs, ...graph.outputs]) if (t.dtype === 'FLOAT_32') names.add(t.name);
  return [...names];
}

/**
 * HTP-style IO types for every FLOAT_32 IO tensor of `graphs`
 * (docs/genie-behaviour.md#ai-hub-quantization):
 * - KV `_in`/`_out`: uint8 symmetric (offset -128) from max |x| over both tensors of the pair, widened
 *   by `margin`, so `_in` and `_out` share one encoding and the clear value 128 is 0.0;
 * - `attention_mask`: uint16 over [-50, 0] (code 65535 = 0.0 attends, code 0 = -50 masks);
 * - `position_ids_cos/sin`: uint16 over [-1, 1];
 * - everything else (input embeddings, hidden-state handoffs, logits): uint16 over the calibrated
 *   [min, max] widened by `margin` of its width on each side.
 * `input_ids` and other integer tensors keep their type.
 * @throws InvalidArgumentError naming a tensor `ranges` has no range for, or a bad margin.
 */
export function htpIoTypes(graphs: readonly GraphIo[], ranges: TensorRanges, options: HtpTypesOptions = {}): Record<string, IoType> {
  const { cacheGroups = [DEFAULT_CACHE_GROUP], margin = DEFAULT_CALIBRATION_MARGIN } = options;
  if (!Number.isFinite(margin) || margin < 0) throw new InvalidArgumentError(`margin must be a finite number >= 0, got ${margin}`);
  const missing = (name: string): InvalidArgumentError =>
    new InvalidArgumentError(`tensor "${name}" has no calibrated range (the calibration never ran it)`);
  const rangeOf = (name: string): ValueRange => {
    const range = ranges.get(name);
    if (range === undefined) throw missing(name);
    return range;
  };
  const types: Record<string, IoType> = {};
  for (const name of floatTensorNames(graphs)) {
    const role = tensorRole(name, cacheGroups);
    switch (role.kind) {
      case 'attention_mask':
        types[name] = { dtype: 'UFIXED_POINT_16', encoding: rangeEncoding(MASK_FLOAT_RANGE, 'UFIXED_POINT_16') };
        break;
      case 'position_ids_cos':
      case 'position_ids_sin':
        types[name] = { dtype: 'UFIXED_POINT_16', encoding: rangeEncoding(ROPE_RANGE, 'UFIXED_POINT_16') };
        break;
      case 'kv': {
        const pair = [`${role.region}_in`, `${role.region}_out`].map((n) => ranges.get(n)).filter((r) => r !== undefined);
        if (pair.length === 0) throw missing(name);
        const maxAbs = Math.max(...pair.map((r) => Math.max(-r.min, r.max)));
        types[name] = { dtype: 'UFIXED_POINT_8', encoding: symmetricEncoding(maxAbs * (1 + margin), 'UFIXED_POINT_8') };
        break;
      }
      default: {
        const { min, max } = rangeOf(name);
        const pad = margin * (max - min);
        types[name] = { dtype: 'UFIXED_POINT_16', encoding: rangeEncoding({ min: min - pad, max: max + pad }, 'UFIXED_POINT_16') };
      }
    }
  }
  return types;
}

/** FLOAT_16 for every FLOAT_32 IO tensor of `graphs` (AI Hub's "w4" precision: all activations float16). */
export function float16IoTypes(graphs: readonly GraphIo[]): Record<string, IoType> {
  return Object.fromEntries(floatTensorNames(graphs).map((name) => [name, { dtype: 'FLOAT_16' } as IoType]));
}
