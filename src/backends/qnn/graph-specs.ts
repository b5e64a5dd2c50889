/** QNN graph metadata as the backend-neutral `GraphSpec`s the runtime plans with. */
import type { GraphSpec, TensorSpec } from '../../graphs/spec.js';
import type { QnnGraphInfo, QnnTensorInfo } from '../../qnn/binding/metadata.js';
import { dataTypeName } from '../../tensor/dtype.js';

/** A tensor's spec; the encoding comes from its SCALE_OFFSET (or BW_SCALE_OFFSET) quant params. */
export function toTensorSpec(tensor: QnnTensorInfo): TensorSpec {
  const spec = { name: tensor.name, dtype: dataTypeName(tensor.dataType), shape: [...tensor.dims] };
  const scaleOffset = tensor.quantization.scaleOffset;
  return scaleOffset === undefined ? spec : { ...spec, encoding: { scale: scaleOffset.scale, offset: scaleOffset.offset } };
}

/** A graph of the context binary at index `ctxBin` of the model's ctx-bins (a retrieved QnnGraph is one too). */
export function toGraphSpec(graph: QnnGraphInfo, ctxBin: number): GraphSpec {
  return {
    name: graph.name,
    ctxBin,
    inputs: graph.inputs.map(toTensorSpec),
    outputs: graph.outputs.map(toTensorSpec),
  };
}
