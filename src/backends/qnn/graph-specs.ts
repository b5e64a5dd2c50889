/** QNN graph metadata as the backend-neutral `GraphSpec`s the runtime plans with. */
import type { GraphSpec, TensorSpec } from '../../graphs/spec.js';
import type { QnnGraph } from '../../qnn/binding/graph.js';
import type { QnnTensorInfo } from '../../qnn/binding/metadata.js';
import { dataTypeName } from '../../tensor/dtype.js';

/** A tensor's spec; the encoding comes from its SCALE_OFFSET (or BW_SCALE_OFFSET) quant params. */
export function toTensorSpec(tensor: QnnTensorInfo): TensorSpec {
  const spec = { name: tensor.name, dtype: dataTypeName(tensor.dataType), shape: [...tensor.dims] };
  const scaleOffset = tensor.quantization.scaleOffset;
  return scaleOffset === undefined ? spec : { ...spec, encoding: { scale: scaleOffset.scale, offset: scaleOffset.offset } };
}

export function toGraphSpec(graph: QnnGraph): GraphSpec {
  return {
    name: graph.name,
    ctxBin: graph.ctxBin,
    inputs: graph.inputs.map(toTensorSpec),
    outputs: graph.outputs.map(toTensorSpec),
  };
}
