import type { IoTensor } from '../../../graphs/layout.js';
import { RopeTable, type RopeTableArray, type RopeTableDtype } from '../../../rope/table.js';
import type { EngineStep } from '../step.js';
import { StepPositionPart, type InputPart, type InputPartContext, type StepInputCopy } from './input-part.js';

/**
 * `position_ids_cos` / `position_ids_sin` `[AR, ropeDim]`: rows of a table precomputed at load for
 * positions [0, largest CL) (later ones computed when gathered), by the step's positions; padded rows
 * get position 0's row.
 */
class RopeCosSinPart extends StepPositionPart {
  readonly name = 'RoPE cos/sin';
  readonly tensors: readonly IoTensor[];

  constructor(
    cos: IoTensor,
    sin: IoTensor,
    private readonly table: RopeTable,
    private readonly cosViews: readonly [RopeTableArray | null, RopeTableArray | null],
    private readonly sinViews: readonly [RopeTableArray | null, RopeTableArray | null],
  ) {
    super([cosViews[0] !== null, cosViews[1] !== null]);
    this.tensors = [cos, sin];
  }

  protected write(copy: StepInputCopy, step: EngineStep): void {
    this.table.gatherRange(step.position, step.nNew, step.variant.ar, this.cosViews[copy]!, this.sinViews[copy]!);
  }
}

export function ropeCosSinPart({ layout, buffers, options }: InputPartContext): InputPart | undefined {
  const { positionCos: cos, positionSin: sin, ropeDim } = layout;
  if (cos === undefined || sin === undefined || ropeDim === undefined) return undefined;
  const table = new RopeTable({
    ropeDim,
    theta: options.rope.theta,
    scaling: options.rope.scaling,
    contextLength: layout.maxContextLength,
    dtype: cos.dtype as RopeTableDtype,
    cosEncoding: cos.encoding,
    sinEncoding: sin.encoding,
  });
  const cosViews = buffers.stepInputViews(cos);
  const sinViews = buffers.stepInputViews(sin);
  const first = copyPair(cosViews.first as RopeTableArray | null, sinViews.first as RopeTableArray | null);
  const rest = copyPair(cosViews.rest as RopeTableArray | null, sinViews.rest as RopeTableArray | null);
  return new RopeCosSinPart(cos, sin, table, [first[0], rest[0]], [first[1], rest[1]]);
}

/**
 * One copy's cos and sin views; where a model's graphs read only one of the two in that copy, the
 * other is a scratch array the gather writes and no graph reads.
 */
function copyPair(cos: RopeTableArray | null, sin: RopeTableArray | null): [RopeTableArray | null, RopeTableArray | null] {
  const scratch = (like: RopeTableArray): RopeTableArray => new (like.constructor as new (length: number) => RopeTableArray)(like.length);
  if (cos === null && sin === null) return [null, null];
  return [cos ?? scratch(sin!), sin ?? scratch(cos!)];
}
