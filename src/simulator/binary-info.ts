/**
 * `QnnSystemContext_BinaryInfo_t` (V1/V2/V3) for a reference ctx-bin, written into native memory
 * the way a libQnnSystem of the configured SDK lays it out
 * (docs/qnn-abi.md#context-binary-metadata): the GraphInfo array uses that build's stride whatever
 * version each element carries.
 */
import { QnnBackendId, QnnTensorVersion } from '../qnn/enums.js';
import type { GraphLayout, TensorLayout } from './graph-layout.js';
import {
  BINARY_INFO_SIZE,
  BinaryInfoV1,
  BinaryInfoV3,
  GraphBlobInfo,
  GraphInfo,
  graphInfoStride,
  HwBlobInfo,
  tensorStride,
} from './layout.js';
import { writePointer, type Address, type NativeArena } from './native.js';
import type { ApiVersionTriple, ResolvedOptions } from './options.js';
import { writePlatformInfo } from './platform-info.js';
import { buildIdOf, htpBackendApiVersionOf, writeVersion } from './sdk.js';
import { writeTensorMetadata } from './tensors.js';

/**
 * HTP context blob version of SDK 2.43 (docs/qnn-abi.md#htp-blobs); the hardware-info blob version
 * is a stand-in.
 */
const CONTEXT_BLOB_VERSION: ApiVersionTriple = { major: 3, minor: 3, patch: 4 };
const HW_INFO_BLOB_VERSION: ApiVersionTriple = { major: 1, minor: 0, patch: 0 };
const HTP_BLOB_INFO_VERSION_1 = 1;
/** Stand-ins for fields the reference executor has no notion of. */
const OPTIMIZATION_LEVEL = 2;
const HVX_THREADS = 4;

function writeTensors(arena: NativeArena, tensors: readonly TensorLayout[], coreMinor: number): Address {
  if (tensors.length === 0) return 0n;
  const stride = tensorStride(coreMinor);
  const version = coreMinor >= 14 ? QnnTensorVersion.V2 : QnnTensorVersion.V1;
  const block = arena.alloc(stride * tensors.length);
  tensors.forEach((tensor, i) => writeTensorMetadata(block.view, i * stride, tensor, version, arena));
  return block.address;
}

function writeGraphBlobInfo(arena: NativeArena, graph: GraphLayout, options: ResolvedOptions): Address {
  const blob = arena.alloc(GraphBlobInfo.size);
  blob.view.setUint32(GraphBlobInfo.version, HTP_BLOB_INFO_VERSION_1, true);
  blob.view.setBigUint64(GraphBlobInfo.spillFillBufferSize, BigInt(graph.spillFillBytes), true);
  blob.view.setUint32(GraphBlobInfo.vtcmSize, options.platform.vtcmSizeMb, true);
  blob.view.setUint32(GraphBlobInfo.optimizationLevel, OPTIMIZATION_LEVEL, true);
  blob.view.setBigUint64(GraphBlobInfo.numHvxThreads, BigInt(HVX_THREADS), true);
  return blob.address;
}

function writeGraphs(arena: NativeArena, graphs: readonly GraphLayout[], options: ResolvedOptions): Address {
  const coreMinor = options.coreApiVersion.minor;
  const stride = graphInfoStride(coreMinor);
  const version = options.graphInfoVersion;
  const block = arena.alloc(stride * graphs.length);
  const view = block.view;
  graphs.forEach((graph, i) => {
    const at = i * stride;
    view.setUint32(at + GraphInfo.version, version, true);
    writePointer(view, at + GraphInfo.graphName, arena.string(graph.name));
    view.setUint32(at + GraphInfo.numGraphInputs, graph.inputs.length, true);
    writePointer(view, at + GraphInfo.graphInputs, writeTensors(arena, graph.inputs, coreMinor));
    view.setUint32(at + GraphInfo.numGraphOutputs, graph.outputs.length, true);
    writePointer(view, at + GraphInfo.graphOutputs, writeTensors(arena, graph.outputs, coreMinor));
    // V2 adds no updateable tensors (count 0, NULL), which the zeroed block already holds.
    if (version === 3) {
      view.setUint32(at + GraphInfo.graphBlobInfoSize, GraphBlobInfo.size, true);
      writePointer(view, at + GraphInfo.graphBlobInfo, writeGraphBlobInfo(arena, graph, options));
    }
  });
  return block.address;
}

/** Writes the binary info of a `binarySize`-byte ctx-bin with `graphs` and returns its address. */
export function writeBinaryInfo(
  arena: NativeArena,
  graphs: readonly GraphLayout[],
  binarySize: number,
  options: ResolvedOptions,
): Address {
  const info = arena.alloc(BINARY_INFO_SIZE);
  const view = info.view;
  const version = options.binaryInfoVersion;
  const socVersion = `V${options.platform.arch}`;
  // The prefix up to socVersion is common to every version.
  view.setUint32(BinaryInfoV1.version, version, true);
  view.setUint32(BinaryInfoV1.backendId, QnnBackendId.HTP, true);
  writePointer(view, BinaryInfoV1.buildId, arena.string(buildIdOf(options.coreApiVersion)));
  writeVersion(view, BinaryInfoV1.coreApiVersion, options.coreApiVersion);
  writeVersion(view, BinaryInfoV1.backendApiVersion, htpBackendApiVersionOf(options.coreApiVersion));
  writePointer(view, BinaryInfoV1.socVersion, arena.string(socVersion));
  const graphsAddress = writeGraphs(arena, graphs, options);
  if (version === 3) {
    writeVersion(view, BinaryInfoV3.contextBlobVersion, CONTEXT_BLOB_VERSION);
    view.setBigUint64(BinaryInfoV3.contextBlobSize, BigInt(binarySize), true);
    view.setUint32(BinaryInfoV3.numGraphs, graphs.length, true);
    writePointer(view, BinaryInfoV3.graphs, graphsAddress);
    writePointer(view, BinaryInfoV3.platformInfo, writePlatformInfo(arena, options.platform));
    view.setUint32(BinaryInfoV3.socModel, options.platform.socModel, true);
    return info.address;
  }
  const hwBlob = arena.alloc(HwBlobInfo.size);
  hwBlob.view.setUint32(HwBlobInfo.version, HTP_BLOB_INFO_VERSION_1, true);
  const spillFill = Math.max(0, ...graphs.map((graph) => graph.spillFillBytes));
  hwBlob.view.setBigUint64(HwBlobInfo.spillFillBufferSize, BigInt(spillFill), true);
  writeVersion(view, BinaryInfoV1.hwInfoBlobVersion, HW_INFO_BLOB_VERSION);
  writeVersion(view, BinaryInfoV1.contextBlobVersion, CONTEXT_BLOB_VERSION);
  view.setUint32(BinaryInfoV1.hwInfoBlobSize, HwBlobInfo.size, true);
  writePointer(view, BinaryInfoV1.hwInfoBlob, hwBlob.address);
  view.setBigUint64(BinaryInfoV1.contextBlobSize, BigInt(binarySize), true);
  view.setUint32(BinaryInfoV1.numGraphs, graphs.length, true);
  writePointer(view, BinaryInfoV1.graphs, graphsAddress);
  if (version === 2) writePointer(view, BinaryInfoV1.platformInfo, writePlatformInfo(arena, options.platform));
  return info.address;
}
