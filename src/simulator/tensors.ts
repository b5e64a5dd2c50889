/** `Qnn_Tensor_t` by raw offsets: metadata tensors written into binary info, execute tensors read back. */
import { QnnDefinition, QnnQuantizationEncoding, QnnSparseLayout, QnnTensorMemType, QnnTensorVersion } from '../qnn/enums.js';
import type { TensorLayout } from './graph-layout.js';
import { Tensor } from './layout.js';
import { readPointer, writePointer, type Address, type NativeArena } from './native.js';

/** The fields of one `Qnn_Tensor_t` as a caller filled them in. */
export interface WireTensor {
  readonly version: number;
  readonly id: number;
  readonly name: Address;
  readonly type: number;
  readonly dataFormat: number;
  readonly dataType: number;
  readonly quantEncodingDefinition: number;
  readonly quantEncoding: number;
  readonly quantScale: number;
  readonly quantOffset: number;
  readonly rank: number;
  readonly dimensions: Address;
  readonly memType: number;
  /** clientBuf.data, or the mem handle when memType is MEMHANDLE. */
  readonly buffer: Address;
  readonly dataSize: number;
  /** V2 only (NULL for V1). */
  readonly isDynamicDimensions: Address;
}

export function readTensor(view: DataView, at: number): WireTensor {
  const version = view.getUint32(at + Tensor.version, true);
  return {
    version,
    id: view.getUint32(at + Tensor.id, true),
    name: readPointer(view, at + Tensor.name),
    type: view.getUint32(at + Tensor.type, true),
    dataFormat: view.getUint32(at + Tensor.dataFormat, true),
    dataType: view.getUint32(at + Tensor.dataType, true),
    quantEncodingDefinition: view.getUint32(at + Tensor.quantEncodingDefinition, true),
    quantEncoding: view.getUint32(at + Tensor.quantEncoding, true),
    quantScale: view.getFloat32(at + Tensor.quantScale, true),
    quantOffset: view.getInt32(at + Tensor.quantOffset, true),
    rank: view.getUint32(at + Tensor.rank, true),
    dimensions: readPointer(view, at + Tensor.dimensions),
    memType: view.getUint32(at + Tensor.memType, true),
    buffer: readPointer(view, at + Tensor.clientBufData),
    dataSize: view.getUint32(at + Tensor.clientBufDataSize, true),
    isDynamicDimensions: version === QnnTensorVersion.V2 ? readPointer(view, at + Tensor.isDynamicDimensions) : 0n,
  };
}

/**
 * Writes `tensor` as the binary metadata describes it (no buffer; RAW memType), with its name and
 * dims in `arena`. V2 extras: static dims (NULL), no sparsity, not produced.
 */
export function writeTensorMetadata(
  view: DataView,
  at: number,
  tensor: TensorLayout,
  version: number,
  arena: NativeArena,
): void {
  const { spec } = tensor;
  view.setUint32(at + Tensor.version, version, true);
  view.setUint32(at + Tensor.id, tensor.id, true);
  writePointer(view, at + Tensor.name, arena.string(spec.name));
  view.setUint32(at + Tensor.type, tensor.type, true);
  view.setUint32(at + Tensor.dataFormat, 0, true);
  view.setUint32(at + Tensor.dataType, tensor.dataType, true);
  const encoding = spec.encoding;
  view.setUint32(
    at + Tensor.quantEncodingDefinition,
    encoding === undefined ? QnnDefinition.UNDEFINED : QnnDefinition.DEFINED,
    true,
  );
  view.setUint32(
    at + Tensor.quantEncoding,
    encoding === undefined ? QnnQuantizationEncoding.UNDEFINED : QnnQuantizationEncoding.SCALE_OFFSET,
    true,
  );
  view.setFloat32(at + Tensor.quantScale, encoding?.scale ?? 0, true);
  view.setInt32(at + Tensor.quantOffset, encoding?.offset ?? 0, true);
  view.setUint32(at + Tensor.rank, spec.shape.length, true);
  writePointer(view, at + Tensor.dimensions, arena.uint32s(spec.shape));
  view.setUint32(at + Tensor.memType, QnnTensorMemType.RAW, true);
  if (version === QnnTensorVersion.V2) view.setUint32(at + Tensor.sparseType, QnnSparseLayout.UNDEFINED, true);
}
