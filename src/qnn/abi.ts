/**
 * Koffi declarations of the QNN C ABI (LP64; also valid on LLP64 Windows since no struct here uses
 * `long`), written from the documented layouts in docs/qnn-abi.md, not from Qualcomm's
 * headers. Koffi type names are global per process, so each type is declared here exactly once,
 * under its C name; inline structs whose C name is not documented stay anonymous.
 *
 * Conventions:
 * - C anonymous unions become a member named `u` (e.g. `tensor.u.v2.name` for C's `tensor.v2.name`).
 * - Handles are `void *`, out-handles `_Out_ void **` (call with a one-element array).
 * - Config lists are NULL-terminated `const T **` arrays, and `graphExecute` takes arrays of
 *   `Qnn_Tensor_t` structs: pass native memory (a Koffi pointer) built with `koffi.alloc`/`encode`
 *   for anything QNN reads after the call or on the hot path. Koffi marshals JS objects, strings and
 *   arrays into memory that lives only for the duration of one call.
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import { requireSupportedCoreApiMinor, type CoreSlotName, type SystemSlotName } from './slots.js';

// ---- scalars (docs/qnn-abi.md#scalars-handles-and-versions) ----

const Qnn_ErrorHandle_t = koffi.alias('Qnn_ErrorHandle_t', 'uint64_t');
const Qnn_ContextBinarySize_t = koffi.alias('Qnn_ContextBinarySize_t', 'uint64_t');

const Qnn_Version_t = koffi.struct('Qnn_Version_t', {
  major: 'uint32_t',
  minor: 'uint32_t',
  patch: 'uint32_t',
});

const Qnn_ApiVersion_t = koffi.struct('Qnn_ApiVersion_t', {
  coreApiVersion: Qnn_Version_t,
  backendApiVersion: Qnn_Version_t,
});

// ---- quantization (docs/qnn-abi.md#quantization-structs) ----

const Qnn_ScaleOffset_t = koffi.struct('Qnn_ScaleOffset_t', {
  scale: 'float',
  offset: 'int32_t',
});

const Qnn_BwScaleOffset_t = koffi.struct('Qnn_BwScaleOffset_t', {
  bitwidth: 'uint32_t',
  scale: 'float',
  offset: 'int32_t',
});

const Qnn_AxisScaleOffset_t = koffi.struct('Qnn_AxisScaleOffset_t', {
  axis: 'int32_t',
  numScaleOffsets: 'uint32_t',
  scaleOffset: koffi.pointer(Qnn_ScaleOffset_t),
});

const Qnn_BwAxisScaleOffset_t = koffi.struct('Qnn_BwAxisScaleOffset_t', {
  bitwidth: 'uint32_t',
  axis: 'int32_t',
  numElements: 'uint32_t',
  scales: 'float *',
  /** NULL means symmetric (all offsets 0). */
  offsets: 'int32_t *',
});

const Qnn_BlockEncoding_t = koffi.struct('Qnn_BlockEncoding_t', {
  blockSize: 'uint32_t *',
  scaleOffset: koffi.pointer(Qnn_ScaleOffset_t),
});

const Qnn_BlockwiseExpansion_t = koffi.struct('Qnn_BlockwiseExpansion_t', {
  axis: 'int32_t',
  scaleOffsets: koffi.pointer(Qnn_ScaleOffset_t),
  numBlocksPerAxis: 'uint32_t',
  blockScaleBitwidth: 'uint32_t',
  /** 0: 8-bit block scales, 1: 16-bit. */
  blockScaleStorageType: 'uint32_t',
  u: koffi.union({ blocksScale8: 'uint8_t *', blocksScale16: 'uint16_t *' }),
});

const Qnn_VectorEncoding_t = koffi.struct('Qnn_VectorEncoding_t', {
  bwAxisScaleOffset: Qnn_BwAxisScaleOffset_t,
  rowsPerBlock: 'uint32_t',
  columnsPerBlock: 'uint32_t',
  vectorDimension: 'uint8_t',
  vectorStride: 'uint8_t',
  indexBitwidth: 'uint8_t',
});

/** 40 bytes; the union (32 bytes, sized by the bit-width axis encoding) starts at 8. */
const Qnn_QuantizeParams_t = koffi.struct('Qnn_QuantizeParams_t', {
  encodingDefinition: 'uint32_t',
  quantizationEncoding: 'uint32_t',
  u: koffi.union({
    scaleOffsetEncoding: Qnn_ScaleOffset_t,
    axisScaleOffsetEncoding: Qnn_AxisScaleOffset_t,
    bwScaleOffsetEncoding: Qnn_BwScaleOffset_t,
    bwAxisScaleOffsetEncoding: Qnn_BwAxisScaleOffset_t,
    blockEncoding: Qnn_BlockEncoding_t,
    blockwiseExpansion: koffi.pointer(Qnn_BlockwiseExpansion_t),
    vectorEncoding: koffi.pointer(Qnn_VectorEncoding_t),
  }),
});

// ---- tensors (docs/qnn-abi.md#tensor-structs) ----

/** A tensor buffer; `dataSize` is 32-bit, so one buffer is < 4 GiB. */
const Qnn_ClientBuffer_t = koffi.struct('Qnn_ClientBuffer_t', {
  data: 'void *',
  dataSize: 'uint32_t',
});

const Qnn_SparseLayoutHybridCoo_t = koffi.struct('Qnn_SparseLayoutHybridCoo_t', {
  numSpecifiedElements: 'uint32_t',
  numSparseDimensions: 'uint32_t',
});

const Qnn_SparseParams_t = koffi.struct('Qnn_SparseParams_t', {
  type: 'uint32_t',
  u: koffi.union({ hybridCoo: Qnn_SparseLayoutHybridCoo_t }),
});

const tensorV1Fields = {
  id: 'uint32_t',
  name: 'const char *',
  type: 'uint32_t',
  dataFormat: 'uint32_t',
  dataType: 'uint32_t',
  quantizeParams: Qnn_QuantizeParams_t,
  rank: 'uint32_t',
  /** uint32[rank]; NULL iff rank is 0. Outputs with dynamic dims get them written back here. */
  dimensions: 'uint32_t *',
  memType: 'uint32_t',
} as const;

/** 112 bytes. */
const Qnn_TensorV1_t = koffi.struct('Qnn_TensorV1_t', {
  ...tensorV1Fields,
  u: koffi.union({ clientBuf: Qnn_ClientBuffer_t, memHandle: 'void *' }),
});

/** 136 bytes; the V1 fields are a prefix at the same offsets. */
const Qnn_TensorV2_t = koffi.struct('Qnn_TensorV2_t', {
  ...tensorV1Fields,
  u: koffi.union({ clientBuf: Qnn_ClientBuffer_t, memHandle: 'void *', retrieveRaw: 'void *' }),
  /** uint8[rank]; NULL means all dimensions are static. */
  isDynamicDimensions: 'uint8_t *',
  sparseParams: Qnn_SparseParams_t,
  isProduced: 'uint8_t',
});

/** 144 bytes, align 8: the stride of every tensor array in libraries from SDK 2.20 (core API 2.14) on. */
const Qnn_Tensor_t = koffi.struct('Qnn_Tensor_t', {
  version: 'uint32_t',
  u: koffi.union({ v1: Qnn_TensorV1_t, v2: Qnn_TensorV2_t }),
});

// ---- shared memory (docs/qnn-abi.md#shared-memory) ----

const Qnn_MemShape_t = koffi.struct('Qnn_MemShape_t', {
  numDim: 'uint32_t',
  dimSize: 'uint32_t *',
  shapeConfig: 'const char *',
});

/** 48 bytes (since core API 2.15, which added DMA-BUF). */
const Qnn_MemDescriptor_t = koffi.struct('Qnn_MemDescriptor_t', {
  memShape: Qnn_MemShape_t,
  dataType: 'uint32_t',
  memType: 'uint32_t',
  u: koffi.union({
    ionInfo: koffi.struct({ fd: 'int32_t' }),
    customInfo: 'void *',
    dmaBufInfo: koffi.struct({ fd: 'int32_t', data: 'void *' }),
  }),
});

/** HTP custom mem info: several tensors at offsets in one rpcmem allocation (SHARED_BUFFER). */
const QnnMemHtp_Descriptor_t = koffi.struct('QnnMemHtp_Descriptor_t', {
  type: 'uint32_t',
  /** For SHARED_BUFFER: the total size of the rpcmem allocation. */
  size: 'uint64_t',
  u: koffi.union({
    qurtAddress: 'uint32_t',
    sharedBufferConfig: koffi.struct({ fd: 'int32_t', offset: 'uint64_t' }),
  }),
});

// ---- device platform info (docs/qnn-abi.md#device-platform-info) ----

const QnnDevice_CoreInfo_t = koffi.struct('QnnDevice_CoreInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    v1: koffi.struct({ coreId: 'uint32_t', coreType: 'uint32_t', coreInfoExtension: 'void *' }),
  }),
});

const QnnDevice_HardwareDeviceInfo_t = koffi.struct('QnnDevice_HardwareDeviceInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    v1: koffi.struct({
      deviceId: 'uint32_t',
      deviceType: 'uint32_t',
      numCores: 'uint32_t',
      cores: koffi.pointer(QnnDevice_CoreInfo_t),
      /** HTP: a `QnnHtpDevice_DeviceInfoExtension_t`. */
      deviceInfoExtension: 'void *',
    }),
  }),
});

const QnnDevice_PlatformInfo_t = koffi.struct('QnnDevice_PlatformInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    v1: koffi.struct({ numHwDevices: 'uint32_t', hwDevices: koffi.pointer(QnnDevice_HardwareDeviceInfo_t) }),
  }),
});

const QnnHtpDevice_DeviceInfoExtension_t = koffi.struct('QnnHtpDevice_DeviceInfoExtension_t', {
  devType: 'uint32_t',
  u: koffi.union({
    onChipDevice: koffi.struct({
      vtcmSize: 'size_t',
      socModel: 'uint32_t',
      signedPdSupport: 'bool',
      dlbcSupport: 'bool',
      arch: 'uint32_t',
    }),
  }),
});

// ---- configs (docs/qnn-abi.md#config-structs) ----
// Each list is passed as a NULL-terminated array of pointers.

const Qnn_ErrorReportingConfig_t = koffi.struct('Qnn_ErrorReportingConfig_t', {
  reportingLevel: 'uint32_t',
  /** KB. */
  storageLimit: 'uint32_t',
});

const QnnBackend_Config_t = koffi.struct('QnnBackend_Config_t', {
  option: 'uint32_t',
  u: koffi.union({
    customConfig: 'void *',
    errorConfig: Qnn_ErrorReportingConfig_t,
    platformOption: 'const char *',
  }),
});

const QnnDevice_Config_t = koffi.struct('QnnDevice_Config_t', {
  option: 'uint32_t',
  u: koffi.union({
    customConfig: 'void *',
    hardwareInfo: koffi.pointer(QnnDevice_PlatformInfo_t),
  }),
});

/** 12 bytes, align 4 (no pointers). */
const QnnHtpDevice_CustomConfig_t = koffi.struct('QnnHtpDevice_CustomConfig_t', {
  option: 'uint32_t',
  u: koffi.union({
    socModel: 'uint32_t',
    arch: koffi.struct({ deviceId: 'uint32_t', arch: 'uint32_t' }),
    signedPd: koffi.struct({ deviceId: 'uint32_t', useSignedProcessDomain: 'bool' }),
    securePd: koffi.struct({ deviceId: 'uint32_t', useSecureProcessDomain: 'bool' }),
  }),
});

const QnnContext_Config_t = koffi.struct('QnnContext_Config_t', {
  option: 'uint32_t',
  u: koffi.union({
    customConfig: 'void *',
    priority: 'uint32_t',
    errorConfig: Qnn_ErrorReportingConfig_t,
    oemString: 'const char *',
    asyncExeQueueDepth: koffi.struct({ type: 'uint32_t', depth: 'uint32_t' }),
    /** NULL-terminated list of graph names. */
    enableGraphs: 'const char **',
    memoryLimitHint: 'uint64_t',
    isPersistentBinary: 'uint8_t',
    binaryCompatibilityType: 'uint32_t',
    isGraphInitDeferred: 'uint8_t',
    /** NULL-terminated list of graph names. */
    graphRetentionOrder: 'const char **',
  }),
});

/** 24 bytes; passed as `QnnContext_Config_t { option: CUSTOM, customConfig: &this }`. */
const QnnHtpContext_CustomConfig_t = koffi.struct('QnnHtpContext_CustomConfig_t', {
  option: 'uint32_t',
  u: koffi.union({
    weightSharingEnabled: 'bool',
    /** Spill-fill sharing: the first context passes NULL, later ones the first context's handle. */
    groupRegistration: koffi.struct({ firstGroupHandle: 'void *', maxSpillFillBuffer: 'uint64_t' }),
    fileReadMemoryBudgetInMb: 'uint64_t',
    dspMemoryProfilingEnabled: 'bool',
    shareResources: 'bool',
    ioMemEstimation: 'bool',
    isPrepareOnly: 'bool',
    initAcceleration: 'bool',
    skipValidationOnBinarySection: 'bool',
    useExtendedUdma: 'bool',
    loraWeightSharingEnabled: 'bool',
    shareResOptType: 'uint32_t',
  }),
});

const QnnGraph_Config_t = koffi.struct('QnnGraph_Config_t', {
  option: 'uint32_t',
  u: koffi.union({
    customConfig: 'void *',
    priority: 'uint32_t',
    profileHandle: 'void *',
    profilingState: 'uint32_t',
    numProfilingExecutions: 'uint32_t',
    enableBinarySectionWeightsUpdates: 'uint8_t',
  }),
});

// ---- HTP performance infrastructure (docs/qnn-abi.md#htp-performance-infrastructure) ----

/** All fields u32; `contextId` is the power config id. */
const QnnHtpPerfInfrastructure_DcvsV3_t = koffi.struct('QnnHtpPerfInfrastructure_DcvsV3_t', {
  contextId: 'uint32_t',
  setDcvsEnable: 'uint32_t',
  dcvsEnable: 'uint32_t',
  powerMode: 'uint32_t',
  setSleepLatency: 'uint32_t',
  /** Microseconds. */
  sleepLatency: 'uint32_t',
  setSleepDisable: 'uint32_t',
  sleepDisable: 'uint32_t',
  setBusParams: 'uint32_t',
  busVoltageCornerMin: 'uint32_t',
  busVoltageCornerTarget: 'uint32_t',
  busVoltageCornerMax: 'uint32_t',
  setCoreParams: 'uint32_t',
  coreVoltageCornerMin: 'uint32_t',
  coreVoltageCornerTarget: 'uint32_t',
  coreVoltageCornerMax: 'uint32_t',
});

const QnnHtpPerfInfrastructure_HmxV2_t = koffi.struct('QnnHtpPerfInfrastructure_HmxV2_t', {
  hmxPickDefault: 'uint32_t',
  hmxVoltageCornerMin: 'uint32_t',
  hmxVoltageCornerTarget: 'uint32_t',
  hmxVoltageCornerMax: 'uint32_t',
  hmxPerfMode: 'uint32_t',
});

/** 68 bytes, align 4; the union starts at 4. */
const QnnHtpPerfInfrastructure_PowerConfig_t = koffi.struct('QnnHtpPerfInfrastructure_PowerConfig_t', {
  option: 'uint32_t',
  u: koffi.union({
    dcvsV3Config: QnnHtpPerfInfrastructure_DcvsV3_t,
    /** Microseconds. */
    rpcControlLatencyConfig: 'uint32_t',
    /** Microseconds, at most QNN_HTP_MAX_RPC_POLLING_TIME_US. */
    rpcPollingTimeConfig: 'uint32_t',
    hmxTimeoutIntervalUsConfig: 'uint32_t',
    hmxV2Config: QnnHtpPerfInfrastructure_HmxV2_t,
  }),
});

const QnnHtpPerfInfrastructure_MemoryConfig_t = koffi.struct('QnnHtpPerfInfrastructure_MemoryConfig_t', {
  option: 'uint32_t',
  u: koffi.union({ memGrowSizeConfig: 'uint32_t' }),
});

const QnnHtpPerfInfrastructure_CreatePowerConfigIdFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnHtpPerfInfrastructure_CreatePowerConfigIdFn_t(uint32_t deviceId, uint32_t coreId, _Out_ uint32_t *powerConfigId)',
);
const QnnHtpPerfInfrastructure_DestroyPowerConfigIdFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnHtpPerfInfrastructure_DestroyPowerConfigIdFn_t(uint32_t powerConfigId)',
);
const QnnHtpPerfInfrastructure_SetPowerConfigFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnHtpPerfInfrastructure_SetPowerConfigFn_t(uint32_t powerConfigId, const QnnHtpPerfInfrastructure_PowerConfig_t **config)',
);
const QnnHtpPerfInfrastructure_SetMemoryConfigFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnHtpPerfInfrastructure_SetMemoryConfigFn_t(uint32_t deviceId, uint32_t coreId, const QnnHtpPerfInfrastructure_MemoryConfig_t **config)',
);

const QnnHtpDevice_PerfInfrastructure_t = koffi.struct('QnnHtpDevice_PerfInfrastructure_t', {
  createPowerConfigId: koffi.pointer(QnnHtpPerfInfrastructure_CreatePowerConfigIdFn_t),
  destroyPowerConfigId: koffi.pointer(QnnHtpPerfInfrastructure_DestroyPowerConfigIdFn_t),
  setPowerConfig: koffi.pointer(QnnHtpPerfInfrastructure_SetPowerConfigFn_t),
  setMemoryConfig: koffi.pointer(QnnHtpPerfInfrastructure_SetMemoryConfigFn_t),
});

/** What `deviceGetInfrastructure` points to on HTP; check `infraType == PERF` before use. */
const QnnHtpDevice_Infrastructure_t = koffi.struct('QnnHtpDevice_Infrastructure_t', {
  infraType: 'uint32_t',
  perfInfra: QnnHtpDevice_PerfInfrastructure_t,
});

// ---- profiling (docs/qnn-abi.md#profiling) ----

const QnnProfile_EventData_t = koffi.struct('QnnProfile_EventData_t', {
  type: 'uint32_t',
  unit: 'uint32_t',
  value: 'uint64_t',
  identifier: 'const char *',
});

// ---- QnnSystem context-binary metadata (docs/qnn-abi.md#context-binary-metadata) ----

const graphInfoV1Fields = {
  graphName: 'const char *',
  numGraphInputs: 'uint32_t',
  graphInputs: koffi.pointer(Qnn_Tensor_t),
  numGraphOutputs: 'uint32_t',
  graphOutputs: koffi.pointer(Qnn_Tensor_t),
} as const;

const graphInfoV2Fields = {
  ...graphInfoV1Fields,
  numUpdateableTensors: 'uint32_t',
  updateableTensors: koffi.pointer(Qnn_Tensor_t),
} as const;

const QnnSystemContext_GraphInfoV1_t = koffi.struct('QnnSystemContext_GraphInfoV1_t', graphInfoV1Fields);
const QnnSystemContext_GraphInfoV2_t = koffi.struct('QnnSystemContext_GraphInfoV2_t', graphInfoV2Fields);
const QnnSystemContext_GraphInfoV3_t = koffi.struct('QnnSystemContext_GraphInfoV3_t', {
  ...graphInfoV2Fields,
  graphBlobInfoSize: 'uint32_t',
  /** HTP: a `QnnHtpSystemContext_GraphBlobInfo_t`. */
  graphBlobInfo: 'void *',
  startOpIndex: 'uint32_t',
  endOpIndex: 'uint32_t',
});

/**
 * The SDK >= 2.28 layout (88 bytes). Older libQnnSystem builds lay out arrays of this struct with a
 * smaller stride, whatever each element's version says: see `graphInfoStride`.
 */
const QnnSystemContext_GraphInfo_t = koffi.struct('QnnSystemContext_GraphInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    graphInfoV1: QnnSystemContext_GraphInfoV1_t,
    graphInfoV2: QnnSystemContext_GraphInfoV2_t,
    graphInfoV3: QnnSystemContext_GraphInfoV3_t,
  }),
});

const binaryInfoHeadFields = {
  backendId: 'uint32_t',
  buildId: 'const char *',
  coreApiVersion: Qnn_Version_t,
  backendApiVersion: Qnn_Version_t,
  socVersion: 'const char *',
} as const;

const binaryInfoV1Fields = {
  ...binaryInfoHeadFields,
  hwInfoBlobVersion: Qnn_Version_t,
  contextBlobVersion: Qnn_Version_t,
  hwInfoBlobSize: 'uint32_t',
  /** HTP: a `QnnHtpSystemContext_HwBlobInfo_t`. */
  hwInfoBlob: 'void *',
  contextBlobSize: 'uint64_t',
  numContextTensors: 'uint32_t',
  contextTensors: koffi.pointer(Qnn_Tensor_t),
  numGraphs: 'uint32_t',
  graphs: koffi.pointer(QnnSystemContext_GraphInfo_t),
} as const;

const QnnSystemContext_BinaryInfoV1_t = koffi.struct('QnnSystemContext_BinaryInfoV1_t', binaryInfoV1Fields);
const QnnSystemContext_BinaryInfoV2_t = koffi.struct('QnnSystemContext_BinaryInfoV2_t', {
  ...binaryInfoV1Fields,
  platformInfo: koffi.pointer(QnnDevice_PlatformInfo_t),
});
/** V3 (core API 2.21+) drops the hw-info blob fields, so everything after socVersion moves. */
const QnnSystemContext_BinaryInfoV3_t = koffi.struct('QnnSystemContext_BinaryInfoV3_t', {
  ...binaryInfoHeadFields,
  contextBlobVersion: Qnn_Version_t,
  contextBlobSize: 'uint64_t',
  numContextTensors: 'uint32_t',
  contextTensors: koffi.pointer(Qnn_Tensor_t),
  numGraphs: 'uint32_t',
  graphs: koffi.pointer(QnnSystemContext_GraphInfo_t),
  platformInfo: koffi.pointer(QnnDevice_PlatformInfo_t),
  contextMetadataSize: 'uint32_t',
  contextMetadata: 'void *',
  socModel: 'uint32_t',
});

/** 144 bytes in every supported SDK. */
const QnnSystemContext_BinaryInfo_t = koffi.struct('QnnSystemContext_BinaryInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    contextBinaryInfoV1: QnnSystemContext_BinaryInfoV1_t,
    contextBinaryInfoV2: QnnSystemContext_BinaryInfoV2_t,
    contextBinaryInfoV3: QnnSystemContext_BinaryInfoV3_t,
  }),
});

/**
 * HTP per-graph blob of V3 graph infos: spill-fill size for multi-context sharing
 * (docs/qnn-abi.md#htp-blobs).
 */
const QnnHtpSystemContext_GraphBlobInfo_t = koffi.struct('QnnHtpSystemContext_GraphBlobInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    graphBlobInfoV1: koffi.struct({
      spillFillBufferSize: 'uint64_t',
      vtcmSize: 'uint32_t',
      optimizationLevel: 'uint32_t',
      htpDlbc: 'uint8_t',
      numHvxThreads: 'uint64_t',
    }),
  }),
});

/** HTP hw-info blob of V1/V2 binary infos (docs/qnn-abi.md#htp-blobs). */
const QnnHtpSystemContext_HwBlobInfo_t = koffi.struct('QnnHtpSystemContext_HwBlobInfo_t', {
  version: 'uint32_t',
  u: koffi.union({
    hwBlobInfoV1: koffi.struct({ graphListIndex: 'uint32_t', spillFillBufferSize: 'uint64_t' }),
  }),
});

// ---- interface providers (docs/qnn-abi.md#entry-points-and-interface-tables) ----

/**
 * Declared with the 71 slots of core API 2.32. Libraries with an older minor have fewer slots, so
 * never decode the whole struct from a provider pointer: read single slots at
 * `INTERFACE_TABLE_OFFSET + 8 * index` below `validSlotCount(minor)`, and null-check each.
 */
const QnnInterface_t = koffi.struct('QnnInterface_t', {
  backendId: 'uint32_t',
  providerName: 'const char *',
  apiVersion: Qnn_ApiVersion_t,
  functionTable: koffi.array('void *', 71),
});

/**
 * Declared with only system slots 0-3: the later slots broke ABI once (SDK 2.44) and are not needed
 * for context-binary metadata. Real providers are larger (160 bytes in SDK 2.43).
 */
const QnnSystemInterface_t = koffi.struct('QnnSystemInterface_t', {
  backendId: 'uint32_t',
  providerName: 'const char *',
  systemApiVersion: Qnn_Version_t,
  functionTable: koffi.array('void *', 4),
});

// ---- function prototypes (docs/qnn-abi.md#call-signatures, docs/qnn-abi.md#qnnsystem-calls) ----

/**
 * `va_list` has no portable FFI type; as a parameter it is pointer-sized on every target
 * (docs/qnn-abi.md#log-callback).
 */
const QnnLog_Callback_t = koffi.proto(
  'void QnnLog_Callback_t(const char *fmt, uint32_t level, uint64_t timestamp, void *args)',
);

const QnnInterface_GetProvidersFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnInterface_GetProvidersFn_t(_Out_ const QnnInterface_t ***providerList, _Out_ uint32_t *numProviders)',
);
const QnnSystemInterface_GetProvidersFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnSystemInterface_GetProvidersFn_t(_Out_ const QnnSystemInterface_t ***providerList, _Out_ uint32_t *numProviders)',
);

const QnnProperty_HasCapabilityFn_t = koffi.proto('Qnn_ErrorHandle_t QnnProperty_HasCapabilityFn_t(uint32_t key)');

const QnnBackend_CreateFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnBackend_CreateFn_t(void *logger, const QnnBackend_Config_t **config, _Out_ void **backend)',
);
const QnnBackend_GetBuildIdFn_t = koffi.proto('Qnn_ErrorHandle_t QnnBackend_GetBuildIdFn_t(_Out_ const char **id)');
const QnnBackend_FreeFn_t = koffi.proto('Qnn_ErrorHandle_t QnnBackend_FreeFn_t(void *backend)');

const QnnContext_SetConfigFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnContext_SetConfigFn_t(void *context, const QnnContext_Config_t **config)',
);
const QnnContext_CreateFromBinaryFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnContext_CreateFromBinaryFn_t(void *backend, void *device, const QnnContext_Config_t **config, ' +
    'const void *binaryBuffer, Qnn_ContextBinarySize_t binaryBufferSize, _Out_ void **context, void *profile)',
);
const QnnContext_FreeFn_t = koffi.proto('Qnn_ErrorHandle_t QnnContext_FreeFn_t(void *context, void *profile)');

const QnnGraph_RetrieveFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnGraph_RetrieveFn_t(void *context, const char *graphName, _Out_ void **graph)',
);
const QnnGraph_ExecuteFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnGraph_ExecuteFn_t(void *graph, const Qnn_Tensor_t *inputs, uint32_t numInputs, ' +
    'Qnn_Tensor_t *outputs, uint32_t numOutputs, void *profile, void *signal)',
);
/**
 * `Qnn_NotifyFn_t`: the status is `Qnn_NotifyStatus_t` = { Qnn_ErrorHandle_t error } passed by value,
 * which is a uint64 argument on every ABI genie-ts runs on (docs/qnn-abi.md#call-signatures).
 */
const Qnn_NotifyFn_t = koffi.proto('void Qnn_NotifyFn_t(void *notifyParam, uint64_t status)');
const QnnGraph_ExecuteAsyncFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnGraph_ExecuteAsyncFn_t(void *graph, const Qnn_Tensor_t *inputs, uint32_t numInputs, ' +
    'Qnn_Tensor_t *outputs, uint32_t numOutputs, void *profile, void *signal, Qnn_NotifyFn_t *notifyFn, void *notifyParam)',
);

const QnnLog_CreateFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnLog_CreateFn_t(QnnLog_Callback_t *callback, uint32_t maxLogLevel, _Out_ void **logger)',
);
const QnnLog_FreeFn_t = koffi.proto('Qnn_ErrorHandle_t QnnLog_FreeFn_t(void *logger)');

const QnnProfile_CreateFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnProfile_CreateFn_t(void *backend, uint32_t level, _Out_ void **profile)',
);
const QnnProfile_GetEventsFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnProfile_GetEventsFn_t(void *profile, _Out_ const uint64_t **profileEventIds, _Out_ uint32_t *numEvents)',
);
const QnnProfile_GetSubEventsFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnProfile_GetSubEventsFn_t(uint64_t eventId, _Out_ const uint64_t **subEventIds, _Out_ uint32_t *numSubEvents)',
);
const QnnProfile_GetEventDataFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnProfile_GetEventDataFn_t(uint64_t eventId, _Out_ QnnProfile_EventData_t *eventData)',
);
const QnnProfile_FreeFn_t = koffi.proto('Qnn_ErrorHandle_t QnnProfile_FreeFn_t(void *profile)');

const QnnMem_RegisterFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnMem_RegisterFn_t(void *context, const Qnn_MemDescriptor_t *memDescriptors, ' +
    'uint32_t numDescriptors, _Out_ void **memHandles)',
);
const QnnMem_DeRegisterFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnMem_DeRegisterFn_t(void **memHandles, uint32_t numHandles)',
);

const QnnDevice_GetPlatformInfoFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnDevice_GetPlatformInfoFn_t(void *logger, _Out_ const QnnDevice_PlatformInfo_t **platformInfo)',
);
const QnnDevice_FreePlatformInfoFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnDevice_FreePlatformInfoFn_t(void *logger, const QnnDevice_PlatformInfo_t *platformInfo)',
);
/** `QnnDevice_Infrastructure_t` is itself a pointer typedef, so this is an out-pointer. */
const QnnDevice_GetInfrastructureFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnDevice_GetInfrastructureFn_t(_Out_ void **deviceInfra)',
);
const QnnDevice_CreateFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnDevice_CreateFn_t(void *logger, const QnnDevice_Config_t **config, _Out_ void **device)',
);
const QnnDevice_FreeFn_t = koffi.proto('Qnn_ErrorHandle_t QnnDevice_FreeFn_t(void *device)');

const QnnError_GetMessageFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnError_GetMessageFn_t(Qnn_ErrorHandle_t errorHandle, _Out_ const char **errorMessage)',
);

const QnnSystemContext_CreateFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnSystemContext_CreateFn_t(_Out_ void **sysCtxHandle)',
);
/** Deprecated in favour of GetMetadata; the buffer is non-const here. */
const QnnSystemContext_GetBinaryInfoFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnSystemContext_GetBinaryInfoFn_t(void *sysCtxHandle, void *binaryBuffer, uint64_t binaryBufferSize, ' +
    '_Out_ const QnnSystemContext_BinaryInfo_t **binaryInfo, _Out_ Qnn_ContextBinarySize_t *binaryInfoSize)',
);
/** The returned info belongs to the system context: deep-copy it before `systemContextFree`. */
const QnnSystemContext_GetMetadataFn_t = koffi.proto(
  'Qnn_ErrorHandle_t QnnSystemContext_GetMetadataFn_t(void *sysCtxHandle, const void *binaryBuffer, uint64_t binaryBufferSize, ' +
    '_Out_ const QnnSystemContext_BinaryInfo_t **binaryInfo)',
);
const QnnSystemContext_FreeFn_t = koffi.proto('Qnn_ErrorHandle_t QnnSystemContext_FreeFn_t(void *sysCtxHandle)');

/** Every declared type and prototype, by C name. */
export const abi = Object.freeze({
  Qnn_ErrorHandle_t,
  Qnn_ContextBinarySize_t,
  Qnn_Version_t,
  Qnn_ApiVersion_t,
  Qnn_ScaleOffset_t,
  Qnn_BwScaleOffset_t,
  Qnn_AxisScaleOffset_t,
  Qnn_BwAxisScaleOffset_t,
  Qnn_BlockEncoding_t,
  Qnn_BlockwiseExpansion_t,
  Qnn_VectorEncoding_t,
  Qnn_QuantizeParams_t,
  Qnn_ClientBuffer_t,
  Qnn_SparseLayoutHybridCoo_t,
  Qnn_SparseParams_t,
  Qnn_TensorV1_t,
  Qnn_TensorV2_t,
  Qnn_Tensor_t,
  Qnn_MemShape_t,
  Qnn_MemDescriptor_t,
  QnnMemHtp_Descriptor_t,
  QnnDevice_CoreInfo_t,
  QnnDevice_HardwareDeviceInfo_t,
  QnnDevice_PlatformInfo_t,
  QnnHtpDevice_DeviceInfoExtension_t,
  Qnn_ErrorReportingConfig_t,
  QnnBackend_Config_t,
  QnnDevice_Config_t,
  QnnHtpDevice_CustomConfig_t,
  QnnContext_Config_t,
  QnnHtpContext_CustomConfig_t,
  QnnGraph_Config_t,
  QnnHtpPerfInfrastructure_DcvsV3_t,
  QnnHtpPerfInfrastructure_HmxV2_t,
  QnnHtpPerfInfrastructure_PowerConfig_t,
  QnnHtpPerfInfrastructure_MemoryConfig_t,
  QnnHtpPerfInfrastructure_CreatePowerConfigIdFn_t,
  QnnHtpPerfInfrastructure_DestroyPowerConfigIdFn_t,
  QnnHtpPerfInfrastructure_SetPowerConfigFn_t,
  QnnHtpPerfInfrastructure_SetMemoryConfigFn_t,
  QnnHtpDevice_PerfInfrastructure_t,
  QnnHtpDevice_Infrastructure_t,
  QnnProfile_EventData_t,
  QnnSystemContext_GraphInfoV1_t,
  QnnSystemContext_GraphInfoV2_t,
  QnnSystemContext_GraphInfoV3_t,
  QnnSystemContext_GraphInfo_t,
  QnnSystemContext_BinaryInfoV1_t,
  QnnSystemContext_BinaryInfoV2_t,
  QnnSystemContext_BinaryInfoV3_t,
  QnnSystemContext_BinaryInfo_t,
  QnnHtpSystemContext_GraphBlobInfo_t,
  QnnHtpSystemContext_HwBlobInfo_t,
  QnnInterface_t,
  QnnSystemInterface_t,
  QnnLog_Callback_t,
  QnnInterface_GetProvidersFn_t,
  QnnSystemInterface_GetProvidersFn_t,
  QnnProperty_HasCapabilityFn_t,
  QnnBackend_CreateFn_t,
  QnnBackend_GetBuildIdFn_t,
  QnnBackend_FreeFn_t,
  QnnContext_SetConfigFn_t,
  QnnContext_CreateFromBinaryFn_t,
  QnnContext_FreeFn_t,
  QnnGraph_RetrieveFn_t,
  QnnGraph_ExecuteFn_t,
  Qnn_NotifyFn_t,
  QnnGraph_ExecuteAsyncFn_t,
  QnnLog_CreateFn_t,
  QnnLog_FreeFn_t,
  QnnProfile_CreateFn_t,
  QnnProfile_GetEventsFn_t,
  QnnProfile_GetSubEventsFn_t,
  QnnProfile_GetEventDataFn_t,
  QnnProfile_FreeFn_t,
  QnnMem_RegisterFn_t,
  QnnMem_DeRegisterFn_t,
  QnnDevice_GetPlatformInfoFn_t,
  QnnDevice_FreePlatformInfoFn_t,
  QnnDevice_GetInfrastructureFn_t,
  QnnDevice_CreateFn_t,
  QnnDevice_FreeFn_t,
  QnnError_GetMessageFn_t,
  QnnSystemContext_CreateFn_t,
  QnnSystemContext_GetBinaryInfoFn_t,
  QnnSystemContext_GetMetadataFn_t,
  QnnSystemContext_FreeFn_t,
});

/** The prototype of each core-table slot the runtime calls. */
export const CORE_SLOT_PROTOS = Object.freeze({
  propertyHasCapability: QnnProperty_HasCapabilityFn_t,
  backendCreate: QnnBackend_CreateFn_t,
  backendGetBuildId: QnnBackend_GetBuildIdFn_t,
  backendFree: QnnBackend_FreeFn_t,
  contextSetConfig: QnnContext_SetConfigFn_t,
  contextCreateFromBinary: QnnContext_CreateFromBinaryFn_t,
  contextFree: QnnContext_FreeFn_t,
  graphRetrieve: QnnGraph_RetrieveFn_t,
  graphExecute: QnnGraph_ExecuteFn_t,
  graphExecuteAsync: QnnGraph_ExecuteAsyncFn_t,
  logCreate: QnnLog_CreateFn_t,
  logFree: QnnLog_FreeFn_t,
  profileCreate: QnnProfile_CreateFn_t,
  profileGetEvents: QnnProfile_GetEventsFn_t,
  profileGetSubEvents: QnnProfile_GetSubEventsFn_t,
  profileGetEventData: QnnProfile_GetEventDataFn_t,
  profileFree: QnnProfile_FreeFn_t,
  memRegister: QnnMem_RegisterFn_t,
  memDeRegister: QnnMem_DeRegisterFn_t,
  deviceGetPlatformInfo: QnnDevice_GetPlatformInfoFn_t,
  deviceFreePlatformInfo: QnnDevice_FreePlatformInfoFn_t,
  deviceGetInfrastructure: QnnDevice_GetInfrastructureFn_t,
  deviceCreate: QnnDevice_CreateFn_t,
  deviceFree: QnnDevice_FreeFn_t,
  errorGetMessage: QnnError_GetMessageFn_t,
} satisfies Partial<Record<CoreSlotName, TypeObject>>);

export type BoundCoreSlotName = keyof typeof CORE_SLOT_PROTOS;

/** The prototype of each bound QnnSystem slot. */
export const SYSTEM_SLOT_PROTOS = Object.freeze({
  systemContextCreate: QnnSystemContext_CreateFn_t,
  systemContextGetBinaryInfo: QnnSystemContext_GetBinaryInfoFn_t,
  systemContextGetMetaData: QnnSystemContext_GetMetadataFn_t,
  systemContextFree: QnnSystemContext_FreeFn_t,
} satisfies Record<SystemSlotName, TypeObject>);

/** The symbols a backend library and libQnnSystem export (the only two `dlsym`s needed). */
export const QNN_INTERFACE_GET_PROVIDERS_SYMBOL = 'QnnInterface_getProviders';
export const QNN_SYSTEM_INTERFACE_GET_PROVIDERS_SYMBOL = 'QnnSystemInterface_getProviders';

/** Byte offset of the function table in a `QnnInterface_t` provider. */
export const INTERFACE_TABLE_OFFSET = koffi.offsetof(QnnInterface_t, 'functionTable');
/** Byte offset of the function table in a `QnnSystemInterface_t` provider. */
export const SYSTEM_INTERFACE_TABLE_OFFSET = koffi.offsetof(QnnSystemInterface_t, 'functionTable');
/** Bytes per function-table slot. */
export const SLOT_SIZE = koffi.sizeof('void *');
/** Stride of `Qnn_Tensor_t` arrays (execute IO, graph info inputs/outputs). */
export const TENSOR_STRIDE = koffi.sizeof(Qnn_Tensor_t);

/** GraphInfo strides of older libQnnSystem builds: SDK 2.24-2.27 (core API 2.17-2.20) and SDK <= 2.23. */
const GRAPH_INFO_STRIDE_API_2_17 = 64;
const GRAPH_INFO_STRIDE_API_2_14 = 48;

/**
 * Stride of the `graphs` array in binary info produced by a libQnnSystem of the SDK whose core API
 * minor is given (assumes libQnnSystem and the backend library come from one SDK). The elements'
 * own version tags do not tell the stride.
 */
export function graphInfoStride(coreApiMinor: number): number {
  requireSupportedCoreApiMinor(coreApiMinor);
  if (coreApiMinor >= 21) return koffi.sizeof(QnnSystemContext_GraphInfo_t);
  if (coreApiMinor >= 17) return GRAPH_INFO_STRIDE_API_2_17;
  return GRAPH_INFO_STRIDE_API_2_14;
}
