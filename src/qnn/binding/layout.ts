/**
 * Byte offsets the binding reads and writes in native memory, taken from the Koffi declarations in
 * abi.ts (the one place that states C layouts) so the binding never repeats a number.
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import { abi } from '../abi.js';

/** Offset of a dotted member path, e.g. `u.v2.quantizeParams` (C's anonymous unions are `u`). */
export function memberOffset(type: TypeObject, path: string): number {
  let offset = 0;
  let current = koffi.type(type);
  for (const name of path.split('.')) {
    const member = current.members?.[name];
    if (member === undefined) throw new Error(`abi: ${current.name} has no member "${name}"`);
    offset += member.offset;
    current = member.type;
  }
  return offset;
}

const T = abi.Qnn_Tensor_t;
// V1 fields are a prefix of V2 at the same offsets, so one set serves both versions.
export const TENSOR = Object.freeze({
  size: koffi.sizeof(T),
  version: memberOffset(T, 'version'),
  id: memberOffset(T, 'u.v2.id'),
  name: memberOffset(T, 'u.v2.name'),
  type: memberOffset(T, 'u.v2.type'),
  dataFormat: memberOffset(T, 'u.v2.dataFormat'),
  dataType: memberOffset(T, 'u.v2.dataType'),
  quantizeParams: memberOffset(T, 'u.v2.quantizeParams'),
  rank: memberOffset(T, 'u.v2.rank'),
  dimensions: memberOffset(T, 'u.v2.dimensions'),
  memType: memberOffset(T, 'u.v2.memType'),
  clientBufData: memberOffset(T, 'u.v2.u.clientBuf.data'),
  clientBufDataSize: memberOffset(T, 'u.v2.u.clientBuf.dataSize'),
  memHandle: memberOffset(T, 'u.v2.u.memHandle'),
});

const Q = abi.Qnn_QuantizeParams_t;
/** Offsets inside `Qnn_QuantizeParams_t`. */
export const QUANT = Object.freeze({
  size: koffi.sizeof(Q),
  encodingDefinition: memberOffset(Q, 'encodingDefinition'),
  quantizationEncoding: memberOffset(Q, 'quantizationEncoding'),
  scale: memberOffset(Q, 'u.scaleOffsetEncoding.scale'),
  offset: memberOffset(Q, 'u.scaleOffsetEncoding.offset'),
  bwBitwidth: memberOffset(Q, 'u.bwScaleOffsetEncoding.bitwidth'),
  bwScale: memberOffset(Q, 'u.bwScaleOffsetEncoding.scale'),
  bwOffset: memberOffset(Q, 'u.bwScaleOffsetEncoding.offset'),
});

const B = abi.QnnSystemContext_BinaryInfo_t;
function binaryInfoFields(member: 'contextBinaryInfoV1' | 'contextBinaryInfoV2' | 'contextBinaryInfoV3') {
  return Object.freeze({
    backendId: memberOffset(B, `u.${member}.backendId`),
    buildId: memberOffset(B, `u.${member}.buildId`),
    coreApiVersion: memberOffset(B, `u.${member}.coreApiVersion`),
    socVersion: memberOffset(B, `u.${member}.socVersion`),
    numGraphs: memberOffset(B, `u.${member}.numGraphs`),
    graphs: memberOffset(B, `u.${member}.graphs`),
  });
}
/** Offsets inside `QnnSystemContext_BinaryInfo_t`, per version (V3 moved everything after socVersion). */
export const BINARY_INFO = Object.freeze({
  version: memberOffset(B, 'version'),
  byVersion: new Map([
    [1, binaryInfoFields('contextBinaryInfoV1')],
    [2, binaryInfoFields('contextBinaryInfoV2')],
    [3, binaryInfoFields('contextBinaryInfoV3')],
  ]),
});

const G = abi.QnnSystemContext_GraphInfo_t;
// V1 fields are a prefix of V2 and V3 at the same offsets.
export const GRAPH_INFO = Object.freeze({
  version: memberOffset(G, 'version'),
  graphName: memberOffset(G, 'u.graphInfoV1.graphName'),
  numGraphInputs: memberOffset(G, 'u.graphInfoV1.numGraphInputs'),
  graphInputs: memberOffset(G, 'u.graphInfoV1.graphInputs'),
  numGraphOutputs: memberOffset(G, 'u.graphInfoV1.numGraphOutputs'),
  graphOutputs: memberOffset(G, 'u.graphInfoV1.graphOutputs'),
});

const I = abi.QnnInterface_t;
/** Offsets of the ABI-stable prefix of `QnnInterface_t`. */
export const INTERFACE = Object.freeze({
  backendId: memberOffset(I, 'backendId'),
  providerName: memberOffset(I, 'providerName'),
  coreApiVersion: memberOffset(I, 'apiVersion.coreApiVersion'),
  backendApiVersion: memberOffset(I, 'apiVersion.backendApiVersion'),
});

const S = abi.QnnSystemInterface_t;
/** Offsets of the ABI-stable prefix of `QnnSystemInterface_t`. */
export const SYSTEM_INTERFACE = Object.freeze({
  backendId: memberOffset(S, 'backendId'),
  providerName: memberOffset(S, 'providerName'),
  systemApiVersion: memberOffset(S, 'systemApiVersion'),
});

const P = abi.QnnDevice_PlatformInfo_t;
const H = abi.QnnDevice_HardwareDeviceInfo_t;
const X = abi.QnnHtpDevice_DeviceInfoExtension_t;
/** Offsets for reading `QnnDevice_PlatformInfo_t` and the HTP device extension it points to. */
export const PLATFORM_INFO = Object.freeze({
  version: memberOffset(P, 'version'),
  numHwDevices: memberOffset(P, 'u.v1.numHwDevices'),
  hwDevices: memberOffset(P, 'u.v1.hwDevices'),
  deviceStride: koffi.sizeof(H),
  deviceId: memberOffset(H, 'u.v1.deviceId'),
  deviceType: memberOffset(H, 'u.v1.deviceType'),
  numCores: memberOffset(H, 'u.v1.numCores'),
  deviceInfoExtension: memberOffset(H, 'u.v1.deviceInfoExtension'),
  htpDevType: memberOffset(X, 'devType'),
  htpVtcmSize: memberOffset(X, 'u.onChipDevice.vtcmSize'),
  htpSocModel: memberOffset(X, 'u.onChipDevice.socModel'),
  htpArch: memberOffset(X, 'u.onChipDevice.arch'),
});

const D = abi.QnnHtpDevice_Infrastructure_t;
/** Offsets inside `QnnHtpDevice_Infrastructure_t`. */
export const HTP_INFRASTRUCTURE = Object.freeze({
  infraType: memberOffset(D, 'infraType'),
  createPowerConfigId: memberOffset(D, 'perfInfra.createPowerConfigId'),
  destroyPowerConfigId: memberOffset(D, 'perfInfra.destroyPowerConfigId'),
  setPowerConfig: memberOffset(D, 'perfInfra.setPowerConfig'),
});

export const POINTER_SIZE = koffi.sizeof('void *');
