/**
 * The QNN view of a reference ctx-bin's graphs: tensor ids, tensor types, QNN data types and byte
 * sizes. Ids are numbered 1.. over the whole binary (graph by graph, inputs then outputs), so
 * binary info and execution agree on them without sharing state.
 */
import { tensorByteLength } from '../graphs/sizes.js';
import type { GraphSpec, TensorSpec } from '../graphs/spec.js';
import { QnnDataType } from '../tensor/dtype.js';
import { QnnTensorType } from '../qnn/enums.js';

export interface TensorLayout {
  readonly id: number;
  readonly spec: TensorSpec;
  /** APP_WRITE for inputs, APP_READ for outputs. */
  readonly type: number;
  readonly dataType: number;
  readonly bytes: number;
}

export interface GraphLayout {
  readonly name: string;
  readonly inputs: readonly TensorLayout[];
  readonly outputs: readonly TensorLayout[];
  /**
   * Stand-in for the HTP spill-fill buffer size the binary reports: the graph's total IO bytes.
   * The reference executor has no spill-fill; a non-zero value keeps the field observable.
   */
  readonly spillFillBytes: number;
}

export function layoutGraphs(graphs: readonly GraphSpec[]): GraphLayout[] {
  let nextId = 1;
  const tensor = (spec: TensorSpec, type: number): TensorLayout => ({
    id: nextId++,
    spec,
    type,
    dataType: QnnDataType[spec.dtype],
    bytes: tensorByteLength(spec),
  });
  return graphs.map((graph) => {
    const inputs = graph.inputs.map((spec) => tensor(spec, QnnTensorType.APP_WRITE));
    const outputs = graph.outputs.map((spec) => tensor(spec, QnnTensorType.APP_READ));
    const spillFillBytes = [...inputs, ...outputs].reduce((sum, t) => sum + t.bytes, 0);
    return { name: graph.name, inputs, outputs, spillFillBytes };
  });
}
