import type { DataTypeName, Encoding } from '../tensor/dtype.js';

/** One input or output tensor of a compiled graph, as the backend reports it. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DataTypeName;
  /** Dimensions as compiled, e.g. `[1, 1, 128, 4096]` for an AR-128/CL-4096 attention mask. */
  readonly shape: readonly number[];
  /** Present for fixed-point dtypes: `float = (q + offset) * scale`. */
  readonly encoding?: Encoding;
}

/** A compiled graph: its name and IO, in the order the backend lists them. */
export interface GraphSpec {
  readonly name: string;
  /** Index of the ctx-bin (in `model.binary.ctx-bins` order) that holds this graph. */
  readonly ctxBin: number;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}
