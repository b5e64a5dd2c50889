import type { IoTensor } from '../../../graphs/layout.js';
import { RopeTable, type RopeTableArray, type RopeTableDtype } from '../../../rope/table.js';
import type { EngineStep } from '../step.js';
import type { InputPart, InputPartContext } from './input-part.js';

/**
 * `position_ids_cos` / `position_ids_sin` `[AR, ropeDim]`: rows of a table precomputed at load for
 * positions [0, largest CL) (later ones computed when gathered), by the step's positions; padded rows
 * get position 0's row.
 */
class RopeCosSinPart implements InputPart {
  readonly name = 'RoPE cos/sin';
  readonly tensors: readonly IoTensor[];

  constructor(
    cos: IoTensor,
    sin: IoTensor,
    private readonly table: RopeTable,
    private readonly cosView: RopeTableArray,
    private readonly sinView: RopeTableArray,
  ) {
    this.tensors = [cos, sin];
  }

  fill(step: EngineStep): void {
    this.table.gatherRange(step.position, step.nNew, step.variant.ar, this.cosView, this.sinView);
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
  return new RopeCosSinPart(cos, sin, table, buffers.view(cos) as RopeTableArray, buffers.view(sin) as RopeTableArray);
}
