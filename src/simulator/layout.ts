/**
 * Byte offsets of every C struct the simulated provider reads or writes, written from
 * docs/qnn-abi.md (section per struct) and deliberately independent of the binding's
 * Koffi declarations: a layout mistake on either side then shows up as a failure. LP64; all
 * offsets are absolute from the start of the struct. Only the fields the simulator touches are
 * listed; it writes into zero-filled blocks, so every other field reads as 0 / NULL.
 */

export const POINTER_SIZE = 8;

/** `QnnInterface_t` (docs/qnn-abi.md#interface-provider-structs): the function table starts at 40. */
export const Interface = {
  backendId: 0,
  providerName: 8,
  coreApiVersion: 16,
  backendApiVersion: 28,
  table: 40,
} as const;

/** `QnnSystemInterface_t` (docs/qnn-abi.md#interface-provider-structs): the function table starts at 32. */
export const SystemInterface = {
  providerName: 8,
  systemApiVersion: 16,
  table: 32,
} as const;

/** `Qnn_Version_t`: three uint32 (docs/qnn-abi.md#scalars-handles-and-versions). */
export const Version = { major: 0, minor: 4, patch: 8, size: 12 } as const;

/**
 * `Qnn_Tensor_t` = {version; union {v1; v2}} with the V1/V2 fields at +8
 * (docs/qnn-abi.md#tensor-structs). V1 fields are a prefix of V2; the buffer union at 104 holds
 * clientBuf {data, dataSize} or a mem handle.
 */
export const Tensor = {
  version: 0,
  id: 8,
  name: 16,
  type: 24,
  dataFormat: 28,
  dataType: 32,
  quantEncodingDefinition: 40,
  quantEncoding: 44,
  quantScale: 48,
  quantOffset: 52,
  rank: 80,
  dimensions: 88,
  memType: 96,
  clientBufData: 104,
  clientBufDataSize: 112,
  isDynamicDimensions: 120,
  sparseType: 128,
} as const;

/**
 * Array stride of `Qnn_Tensor_t`: 144 since core API 2.14 (V2 exists), 120 before
 * (docs/qnn-abi.md#tensor-structs).
 */
export const tensorStride = (coreApiMinor: number): number => (coreApiMinor >= 14 ? 144 : 120);

/**
 * `QnnSystemContext_BinaryInfo_t` V1 and V2 (V2 adds platformInfo), 144 bytes
 * (docs/qnn-abi.md#binary-info).
 */
export const BinaryInfoV1 = {
  version: 0,
  backendId: 8,
  buildId: 16,
  coreApiVersion: 24,
  backendApiVersion: 36,
  socVersion: 48,
  hwInfoBlobVersion: 56,
  contextBlobVersion: 68,
  hwInfoBlobSize: 80,
  hwInfoBlob: 88,
  contextBlobSize: 96,
  numGraphs: 120,
  graphs: 128,
  platformInfo: 136,
} as const;

/**
 * `QnnSystemContext_BinaryInfo_t` V3 (docs/qnn-abi.md#binary-info): V1's prefix up to socVersion,
 * then these.
 */
export const BinaryInfoV3 = {
  contextBlobVersion: 56,
  contextBlobSize: 72,
  numGraphs: 96,
  graphs: 104,
  platformInfo: 112,
  socModel: 136,
} as const;

export const BINARY_INFO_SIZE = 144;

/**
 * `QnnSystemContext_GraphInfo_t` = {version; union} (docs/qnn-abi.md#graph-info-and-its-stride); V2
 * and V3 extend V1.
 */
export const GraphInfo = {
  version: 0,
  graphName: 8,
  numGraphInputs: 16,
  graphInputs: 24,
  numGraphOutputs: 32,
  graphOutputs: 40,
  graphBlobInfoSize: 64,
  graphBlobInfo: 72,
} as const;

/** Size of a GraphInfo holding version 1, 2 or 3. */
export const GRAPH_INFO_SIZE = { 1: 48, 2: 64, 3: 88 } as const;

/**
 * Stride of the GraphInfo array written by the libQnnSystem of the SDK with this core API minor
 * (docs/qnn-abi.md#graph-info-and-its-stride): 88 from SDK 2.28 (API 2.21), 64 for SDK 2.24-2.27
 * (API 2.17), 48 before.
 */
export function graphInfoStride(coreApiMinor: number): 48 | 64 | 88 {
  if (coreApiMinor >= 21) return 88;
  if (coreApiMinor >= 17) return 64;
  return 48;
}

/** `QnnHtpSystemContext_GraphBlobInfo_t` V1 (docs/qnn-abi.md#htp-blobs), 40 bytes. */
export const GraphBlobInfo = {
  version: 0,
  spillFillBufferSize: 8,
  vtcmSize: 16,
  optimizationLevel: 20,
  numHvxThreads: 32,
  size: 40,
} as const;

/** `QnnHtpSystemContext_HwBlobInfo_t` V1 (docs/qnn-abi.md#htp-blobs), 24 bytes. */
export const HwBlobInfo = { version: 0, spillFillBufferSize: 16, size: 24 } as const;

/** `QnnDevice_PlatformInfo_t` (docs/qnn-abi.md#device-platform-info), 24 bytes. */
export const PlatformInfo = { version: 0, numHwDevices: 8, hwDevices: 16, size: 24 } as const;

/** `QnnDevice_HardwareDeviceInfo_t` (docs/qnn-abi.md#device-platform-info), 40 bytes. */
export const HardwareDeviceInfo = {
  version: 0,
  numCores: 16,
  cores: 24,
  deviceInfoExtension: 32,
  size: 40,
} as const;

/** `QnnDevice_CoreInfo_t` (docs/qnn-abi.md#device-platform-info), 24 bytes. */
export const CoreInfo = { version: 0, size: 24 } as const;

/**
 * `QnnHtpDevice_DeviceInfoExtension_t` (docs/qnn-abi.md#device-platform-info), 32 bytes; vtcmSize
 * is a size_t in MB.
 */
export const HtpDeviceInfoExtension = {
  devType: 0,
  vtcmSize: 8,
  socModel: 16,
  signedPdSupport: 20,
  dlbcSupport: 21,
  arch: 24,
  size: 32,
} as const;

/**
 * Every "option + union" config struct (QnnBackend/Device/Context_Config_t,
 * docs/qnn-abi.md#config-structs): 16 bytes.
 */
export const Config = { option: 0, value: 8 } as const;

/** `QnnHtpDevice_CustomConfig_t` (docs/qnn-abi.md#config-structs), 12 bytes, no pointers. */
export const HtpDeviceCustomConfig = { option: 0, socModel: 4, arch: 8 } as const;

/** `QnnHtpContext_CustomConfig_t` (docs/qnn-abi.md#config-structs), 24 bytes. */
export const HtpContextCustomConfig = {
  option: 0,
  firstGroupHandle: 8,
  maxSpillFillBuffer: 16,
} as const;

/** `Qnn_MemDescriptor_t` (docs/qnn-abi.md#mem-descriptor), 48 bytes. */
export const MemDescriptor = {
  numDim: 0,
  dimSize: 8,
  dataType: 24,
  memType: 28,
  ionFd: 32,
  customInfo: 32,
  size: 48,
} as const;

/** `QnnMemHtp_Descriptor_t` (docs/qnn-abi.md#htp-shared-buffer-descriptor), 32 bytes. */
export const HtpMemDescriptor = { type: 0, size: 8, fd: 16, offset: 24 } as const;

/**
 * `QnnHtpDevice_Infrastructure_t` (docs/qnn-abi.md#htp-performance-infrastructure): infraType then
 * the four perf function pointers.
 */
export const HtpInfrastructure = {
  infraType: 0,
  createPowerConfigId: 8,
  destroyPowerConfigId: 16,
  setPowerConfig: 24,
  setMemoryConfig: 32,
  size: 40,
} as const;

/**
 * `QnnHtpPerfInfrastructure_PowerConfig_t` (docs/qnn-abi.md#power-config-structs), 68 bytes: option
 * then a union at 4.
 */
export const PowerConfig = { option: 0, value: 4 } as const;

/** DCVS V3 fields, all uint32, in order from `PowerConfig.value` (docs/qnn-abi.md#power-config-structs). */
export const DCVS_V3_FIELDS = [
  'contextId',
  'setDcvsEnable',
  'dcvsEnable',
  'powerMode',
  'setSleepLatency',
  'sleepLatency',
  'setSleepDisable',
  'sleepDisable',
  'setBusParams',
  'busVoltageCornerMin',
  'busVoltageCornerTarget',
  'busVoltageCornerMax',
  'setCoreParams',
  'coreVoltageCornerMin',
  'coreVoltageCornerTarget',
  'coreVoltageCornerMax',
] as const;

/** HMX V2 fields, all uint32, in order from `PowerConfig.value` (docs/qnn-abi.md#power-config-structs). */
export const HMX_V2_FIELDS = [
  'hmxPickDefault',
  'hmxVoltageCornerMin',
  'hmxVoltageCornerTarget',
  'hmxVoltageCornerMax',
  'hmxPerfMode',
] as const;

/** `QnnHtpPerfInfrastructure_MemoryConfig_t` (docs/qnn-abi.md#power-config-structs), 8 bytes. */
export const MemoryConfig = { option: 0, growSize: 4 } as const;

/** `QnnProfile_EventData_t` (docs/qnn-abi.md#profiling), 24 bytes. */
export const ProfileEventData = { type: 0, unit: 4, value: 8, identifier: 16, size: 24 } as const;

/**
 * Storage of the `va_list` argument of `QnnLog_Callback_t` for the x86-64 System V ABI
 * (docs/qnn-abi.md#log-callback): {gp_offset u32, fp_offset u32, overflow_arg_area ptr,
 * reg_save_area ptr}. Offsets at their maximum (48 = six GP registers, 176 = plus eight vector
 * registers) send every va_arg to the overflow area.
 */
export const SysVVaList = {
  gpOffset: 0,
  fpOffset: 4,
  overflowArgArea: 8,
  size: 24,
  gpOffsetExhausted: 48,
  fpOffsetExhausted: 176,
} as const;
