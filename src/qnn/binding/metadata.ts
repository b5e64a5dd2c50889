/**
 * Context-binary metadata through QnnSystemContext (docs/qnn-abi.md#context-binary-metadata): graph
 * names and IO tensors, deep-copied into plain objects before the system context (which owns the
 * returned memory) is freed.
 */
import { graphInfoStride, TENSOR_STRIDE } from '../abi.js';
import { QnnDefinition, QnnQuantizationEncoding } from '../enums.js';
import { MIN_CORE_API_VERSION, type QnnApiVersion } from '../slots.js';
import { QnnContextBinaryError } from './errors.js';
import type { QnnSystemApi } from './function-table.js';
import { BINARY_INFO, GRAPH_INFO, QUANT, TENSOR } from './layout.js';
import {
  readCStringAt,
  readF32,
  readI32,
  readPointer,
  readU32,
  readU32Array,
  type NativePointer,
} from './native.js';

/** A per-tensor scale/offset, as QNN stores it (`float = (q + offset) * scale`; scale is a float32). */
export interface QnnScaleOffset {
  readonly scale: number;
  readonly offset: number;
  /** Only for BW_SCALE_OFFSET. */
  readonly bitwidth?: number;
}

export interface QnnQuantization {
  /** `Qnn_Definition_t`. */
  readonly definition: number;
  /** `Qnn_QuantizationEncoding_t`. */
  readonly encoding: number;
  /** Present when the definition is DEFINED (SCALE_OFFSET or BW_SCALE_OFFSET). */
  readonly scaleOffset?: QnnScaleOffset;
}

/** One graph IO tensor as the binary describes it. */
export interface QnnTensorInfo {
  readonly id: number;
  readonly name: string;
  /** `Qnn_TensorType_t`. */
  readonly type: number;
  readonly dataFormat: number;
  /** `Qnn_DataType_t`. */
  readonly dataType: number;
  readonly quantization: QnnQuantization;
  readonly dims: readonly number[];
}

export interface QnnGraphInfo {
  readonly name: string;
  readonly inputs: readonly QnnTensorInfo[];
  readonly outputs: readonly QnnTensorInfo[];
}

export interface QnnBinaryInfo {
  /** BinaryInfo version: 1, 2 or 3. */
  readonly version: number;
  readonly backendId: number;
  readonly buildId: string | null;
  readonly coreApiVersion: QnnApiVersion;
  readonly socVersion: string | null;
  readonly graphs: readonly QnnGraphInfo[];
}

const ENCODING_NAME = new Map<number, string>(Object.entries(QnnQuantizationEncoding).map(([n, v]) => [v, n]));

function decodeQuantization(base: NativePointer, where: () => string): QnnQuantization {
  const definition = readU32(base, QUANT.encodingDefinition);
  const encoding = readU32(base, QUANT.quantizationEncoding);
  if (definition !== QnnDefinition.DEFINED) return { definition, encoding };
  if (encoding === QnnQuantizationEncoding.SCALE_OFFSET) {
    return { definition, encoding, scaleOffset: { scale: readF32(base, QUANT.scale), offset: readI32(base, QUANT.offset) } };
  }
  if (encoding === QnnQuantizationEncoding.BW_SCALE_OFFSET) {
    const scaleOffset = {
      scale: readF32(base, QUANT.bwScale),
      offset: readI32(base, QUANT.bwOffset),
      bitwidth: readU32(base, QUANT.bwBitwidth),
    };
    return { definition, encoding, scaleOffset };
  }
  // Per-axis and block encodings hold pointers into the system context's memory; graph IO of LLM
  // context binaries uses per-tensor encodings only.
  throw new QnnContextBinaryError(
    `${where()}: quantization encoding ${ENCODING_NAME.get(encoding) ?? encoding} is not supported for graph IO ` +
      '(only SCALE_OFFSET and BW_SCALE_OFFSET)',
  );
}

function decodeTensors(array: NativePointer | null, count: number, where: (i: number) => string): QnnTensorInfo[] {
  if (count > 0 && array === null) throw new QnnContextBinaryError(`${where(0)}: ${count} tensors but a NULL array`);
  const tensors: QnnTensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    const at = (array as NativePointer) + BigInt(i * TENSOR_STRIDE);
    const version = readU32(at, TENSOR.version);
    if (version !== 1 && version !== 2) throw new QnnContextBinaryError(`${where(i)}: unknown Qnn_Tensor_t version ${version}`);
    const name = readCStringAt(at, TENSOR.name);
    if (name === null) throw new QnnContextBinaryError(`${where(i)}: tensor has no name`);
    const rank = readU32(at, TENSOR.rank);
    const dimsPtr = readPointer(at, TENSOR.dimensions);
    if (rank > 0 && dimsPtr === null) throw new QnnContextBinaryError(`${where(i)} "${name}": rank ${rank} but NULL dimensions`);
    tensors.push({
      id: readU32(at, TENSOR.id),
      name,
      type: readU32(at, TENSOR.type),
      dataFormat: readU32(at, TENSOR.dataFormat),
      dataType: readU32(at, TENSOR.dataType),
      quantization: decodeQuantization(at + BigInt(TENSOR.quantizeParams), () => `${where(i)} "${name}"`),
      dims: rank === 0 ? [] : readU32Array(dimsPtr!, rank),
    });
  }
  return tensors;
}

const KNOWN_GRAPH_INFO_STRIDES = [48, 64, 88];

/** Whether every GraphInfo element at `stride` has a known version and a name. */
function plausibleStride(graphs: NativePointer, count: number, stride: number): boolean {
  for (let i = 0; i < count; i++) {
    const at = graphs + BigInt(i * stride);
    const version = readU32(at, GRAPH_INFO.version);
    if (version < 1 || version > 3 || readPointer(at, GRAPH_INFO.graphName) === null) return false;
  }
  return true;
}

/**
 * The GraphInfo stride: the one of the SDK whose core API minor is given
 * (docs/qnn-abi.md#graph-info-and-its-stride), unless its elements do not look like GraphInfos;
 * then the known strides are tried smallest first (a smaller stride never reads past a larger real
 * array).
 */
function graphStride(graphs: NativePointer, count: number, coreApiMinor: number, file: string): number {
  const preferred = graphInfoStride(coreApiMinor);
  if (count <= 1 || plausibleStride(graphs, count, preferred)) return preferred;
  const stride = KNOWN_GRAPH_INFO_STRIDES.find((s) => s !== preferred && plausibleStride(graphs, count, s));
  if (stride === undefined) {
    throw new QnnContextBinaryError(
      `context binary "${file}": its ${count} graph infos match none of the known layouts (strides ${KNOWN_GRAPH_INFO_STRIDES.join(', ')})`,
    );
  }
  return stride;
}

/**
 * The core API minor whose SDK's GraphInfo stride is tried first when no backend is loaded: the
 * binary's own (libQnnSystem is assumed to come from the SDK that built it), at least the oldest
 * this binding supports. `graphStride` checks the guess.
 */
function binaryCoreApiMinor(binaryCore: QnnApiVersion): number {
  const supported = binaryCore.major === MIN_CORE_API_VERSION.major && binaryCore.minor >= MIN_CORE_API_VERSION.minor;
  return supported ? binaryCore.minor : MIN_CORE_API_VERSION.minor;
}

/**
 * Decodes a `QnnSystemContext_BinaryInfo_t` into plain objects. `coreApiMinor` is the backend's
 * (libQnnSystem is assumed to come from the same SDK), used for the GraphInfo stride; null when
 * only libQnnSystem is loaded: the binary's own core API version stands in for it.
 */
export function decodeBinaryInfo(info: NativePointer, coreApiMinor: number | null, file: string): QnnBinaryInfo {
  const version = readU32(info, BINARY_INFO.version);
  const fields = BINARY_INFO.byVersion.get(version);
  if (fields === undefined) throw new QnnContextBinaryError(`context binary "${file}": unknown BinaryInfo version ${version}`);
  const core = fields.coreApiVersion;
  const coreApiVersion = { major: readU32(info, core), minor: readU32(info, core + 4), patch: readU32(info, core + 8) };
  const numGraphs = readU32(info, fields.numGraphs);
  const graphsPtr = readPointer(info, fields.graphs);
  if (numGraphs > 0 && graphsPtr === null) {
    throw new QnnContextBinaryError(`context binary "${file}": ${numGraphs} graphs but a NULL graph array`);
  }
  const graphs: QnnGraphInfo[] = [];
  if (graphsPtr !== null) {
    const stride = graphStride(graphsPtr, numGraphs, coreApiMinor ?? binaryCoreApiMinor(coreApiVersion), file);
    for (let g = 0; g < numGraphs; g++) {
      const at = graphsPtr + BigInt(g * stride);
      const graphVersion = readU32(at, GRAPH_INFO.version);
      if (graphVersion < 1 || graphVersion > 3) {
        throw new QnnContextBinaryError(`context binary "${file}": graph ${g} has unknown GraphInfo version ${graphVersion}`);
      }
      const name = readCStringAt(at, GRAPH_INFO.graphName);
      if (name === null) throw new QnnContextBinaryError(`context binary "${file}": graph ${g} has no name`);
      const where = (kind: string) => (i: number) => `context binary "${file}": graph "${name}" ${kind} ${i}`;
      graphs.push({
        name,
        inputs: decodeTensors(readPointer(at, GRAPH_INFO.graphInputs), readU32(at, GRAPH_INFO.numGraphInputs), where('input')),
        outputs: decodeTensors(readPointer(at, GRAPH_INFO.graphOutputs), readU32(at, GRAPH_INFO.numGraphOutputs), where('output')),
      });
    }
  }
  return {
    version,
    backendId: readU32(info, fields.backendId),
    buildId: readCStringAt(info, fields.buildId),
    coreApiVersion,
    socVersion: readCStringAt(info, fields.socVersion),
    graphs,
  };
}

/**
 * Reads a context binary's metadata: `systemContextGetMetaData` when the system library has it,
 * else the deprecated `systemContextGetBinaryInfo`. The system context is freed before returning.
 * `coreApiMinor`: as `decodeBinaryInfo`'s.
 */
export function readBinaryInfo(
  system: QnnSystemApi,
  binary: NativePointer,
  byteLength: number,
  coreApiMinor: number | null,
  file: string,
): QnnBinaryInfo {
  const handle: unknown[] = [null];
  system.check('systemContextCreate', system.fn('systemContextCreate')(handle));
  let decoded: QnnBinaryInfo | undefined;
  try {
    const info: unknown[] = [null];
    if (system.has('systemContextGetMetaData')) {
      const result = system.fn('systemContextGetMetaData')(handle[0], binary, byteLength, info);
      system.check(`systemContextGetMetaData("${file}")`, result);
    } else {
      const result = system.fn('systemContextGetBinaryInfo')(handle[0], binary, byteLength, info, [0]);
      system.check(`systemContextGetBinaryInfo("${file}")`, result);
    }
    if (info[0] === null) throw new QnnContextBinaryError(`context binary "${file}": QnnSystem returned no binary info`);
    decoded = decodeBinaryInfo(info[0] as NativePointer, coreApiMinor, file);
  } finally {
    const freed = system.fn('systemContextFree')(handle[0]);
    // A failing free must not hide the error that got us here.
    if (decoded !== undefined) system.check('systemContextFree', freed);
  }
  return decoded;
}

/**
 * Throws when `info` lists a graph twice or one another binary already holds (`binaryOf` names
 * that binary): graph names address graphs across a model's context binaries.
 */
export function checkGraphNamesUnique(info: QnnBinaryInfo, file: string, binaryOf: (graph: string) => string | undefined): void {
  const seen = new Set<string>();
  for (const { name } of info.graphs) {
    const other = binaryOf(name);
    if (other !== undefined || seen.has(name)) {
      const where = other === undefined ? 'twice' : `also in "${other}"`;
      throw new QnnContextBinaryError(`context binary "${file}": graph "${name}" is listed ${where}`);
    }
    seen.add(name);
  }
}
