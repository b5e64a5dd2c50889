/**
 * Reads `QnnSystemContext_BinaryInfo_t` by raw offsets (docs/qnn-abi.md#context-binary-metadata),
 * for the tests. The GraphInfo stride is passed in, as a binding must choose it from the library's
 * SDK.
 */
import { NULL, readStr, T, TENSOR_STRIDE, view, type Ptr } from './raw-client.js';

export interface ReadTensor {
  readonly version: number;
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly dataFormat: number;
  readonly dataType: number;
  readonly quant: { definition: number; encoding: number; scale: number; offset: number };
  readonly dims: number[];
  readonly memType: number;
  readonly data: Ptr;
  readonly isDynamicDimensions: Ptr;
  readonly sparseType: number;
}

export interface ReadGraph {
  readonly version: number;
  readonly name: string;
  readonly inputs: ReadTensor[];
  readonly outputs: ReadTensor[];
  readonly numUpdateable?: number;
  readonly blob?: { size: number; version: number; spillFill: bigint; vtcm: number };
}

export interface ReadBinaryInfo {
  readonly version: number;
  readonly backendId: number;
  readonly buildId: string;
  readonly core: number[];
  readonly backendApi: number[];
  readonly socVersion: string;
  readonly contextBlobVersion: number[];
  readonly contextBlobSize: bigint;
  readonly numContextTensors: number;
  readonly graphs: ReadGraph[];
  readonly platformInfo: Ptr;
  readonly socModel?: number;
  readonly hwBlob?: { size: number; version: number; spillFill: bigint };
}

const triple = (v: DataView, at: number): number[] => [0, 4, 8].map((o) => v.getUint32(at + o, true));

export function readTensorAt(address: Ptr): ReadTensor {
  const v = view(address, TENSOR_STRIDE);
  const rank = v.getUint32(T.rank, true);
  const dimsPtr = v.getBigUint64(T.dims, true);
  const dimsView = rank === 0 ? null : view(dimsPtr, rank * 4);
  return {
    version: v.getUint32(T.version, true),
    id: v.getUint32(T.id, true),
    name: readStr(v.getBigUint64(T.name, true)),
    type: v.getUint32(T.type, true),
    dataFormat: v.getUint32(T.dataFormat, true),
    dataType: v.getUint32(T.dataType, true),
    quant: {
      definition: v.getUint32(T.quantDefinition, true),
      encoding: v.getUint32(T.quantEncoding, true),
      scale: v.getFloat32(T.scale, true),
      offset: v.getInt32(T.offset, true),
    },
    dims: Array.from({ length: rank }, (_, i) => dimsView!.getUint32(i * 4, true)),
    memType: v.getUint32(T.memType, true),
    data: v.getBigUint64(T.data, true),
    isDynamicDimensions: v.getBigUint64(T.isDynamicDimensions, true),
    sparseType: v.getUint32(T.sparseType, true),
  };
}

function readTensors(first: Ptr, count: number): ReadTensor[] {
  return Array.from({ length: count }, (_, i) => readTensorAt(first + BigInt(i * TENSOR_STRIDE)));
}

function readGraph(at: Ptr): ReadGraph {
  const v = view(at, 48);
  const version = v.getUint32(0, true);
  const graph = {
    version,
    name: readStr(v.getBigUint64(8, true)),
    inputs: readTensors(v.getBigUint64(24, true), v.getUint32(16, true)),
    outputs: readTensors(v.getBigUint64(40, true), v.getUint32(32, true)),
  };
  if (version === 1) return graph;
  const v2 = view(at, 64);
  if (version === 2) return { ...graph, numUpdateable: v2.getUint32(48, true) };
  const v3 = view(at, 88);
  const blobPtr = v3.getBigUint64(72, true);
  const blob = view(blobPtr, 40);
  return {
    ...graph,
    numUpdateable: v2.getUint32(48, true),
    blob: {
      size: v3.getUint32(64, true),
      version: blob.getUint32(0, true),
      spillFill: blob.getBigUint64(8, true),
      vtcm: blob.getUint32(16, true),
    },
  };
}

export function readBinaryInfo(info: Ptr, graphStride: number): ReadBinaryInfo {
  const v = view(info, 144);
  const version = v.getUint32(0, true);
  const common = {
    version,
    backendId: v.getUint32(8, true),
    buildId: readStr(v.getBigUint64(16, true)),
    core: triple(v, 24),
    backendApi: triple(v, 36),
    socVersion: readStr(v.getBigUint64(48, true)),
  };
  const graphsAt = (count: number, first: Ptr) =>
    Array.from({ length: count }, (_, i) => readGraph(first + BigInt(i * graphStride)));
  if (version === 3) {
    return {
      ...common,
      contextBlobVersion: triple(v, 56),
      contextBlobSize: v.getBigUint64(72, true),
      numContextTensors: v.getUint32(80, true),
      graphs: graphsAt(v.getUint32(96, true), v.getBigUint64(104, true)),
      platformInfo: v.getBigUint64(112, true),
      socModel: v.getUint32(136, true),
    };
  }
  const hwBlobPtr = v.getBigUint64(88, true);
  const hw = view(hwBlobPtr, 24);
  return {
    ...common,
    contextBlobVersion: triple(v, 68),
    contextBlobSize: v.getBigUint64(96, true),
    numContextTensors: v.getUint32(104, true),
    graphs: graphsAt(v.getUint32(120, true), v.getBigUint64(128, true)),
    platformInfo: version === 2 ? v.getBigUint64(136, true) : NULL,
    hwBlob: { size: v.getUint32(80, true), version: hw.getUint32(0, true), spillFill: hw.getBigUint64(16, true) },
  };
}

/** `QnnDevice_PlatformInfo_t` -> the HTP device extension fields (docs/qnn-abi.md#device-platform-info). */
export function readPlatformInfo(info: Ptr): {
  version: number;
  numHwDevices: number;
  numCores: number;
  socModel: number;
  arch: number;
  vtcmSize: bigint;
} {
  const v = view(info, 24);
  const device = v.getBigUint64(16, true);
  const d = view(device, 40);
  const ext = view(d.getBigUint64(32, true), 32);
  return {
    version: v.getUint32(0, true),
    numHwDevices: v.getUint32(8, true),
    numCores: d.getUint32(16, true),
    socModel: ext.getUint32(16, true),
    arch: ext.getUint32(24, true),
    vtcmSize: ext.getBigUint64(8, true),
  };
}

