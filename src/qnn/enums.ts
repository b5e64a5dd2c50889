/**
 * QNN enum and constant values the runtime passes to or reads from the C API, written from the
 * documented values in docs/qnn-abi.md (section cited per group). Every C enum is 4 bytes
 * wide; `UNDEFINED` is the headers' 0x7FFFFFFF padding value.
 */

const UNDEFINED = 0x7fffffff;

export const QNN_SUCCESS = 0;

/**
 * `Qnn_TensorType_t` (docs/qnn-abi.md#tensor-enums). `graphExecute` accepts only the APP_* and
 * OPTIONAL_APP_* kinds.
 */
export const QnnTensorType = {
  APP_WRITE: 0,
  APP_READ: 1,
  APP_READWRITE: 2,
  NATIVE: 3,
  STATIC: 4,
  NULL: 5,
  UPDATEABLE_STATIC: 6,
  UPDATEABLE_NATIVE: 7,
  UPDATEABLE_APP_WRITE: 8,
  UPDATEABLE_APP_READ: 9,
  UPDATEABLE_APP_READWRITE: 10,
  OPTIONAL_APP_WRITE: 11,
  OPTIONAL_APP_READ: 12,
  OPTIONAL_APP_READWRITE: 13,
  UNDEFINED,
} as const;

/** `Qnn_TensorDataFormat_t`, a plain uint32 (docs/qnn-abi.md#tensor-enums). */
export const QnnTensorDataFormat = {
  DENSE: 0,
  SPARSE: 1,
  CODEBOOK: 2,
  MX: 3,
  UBWC_RGBA8888: 4,
  UBWC_NV12: 5,
  UBWC_NV12_Y: 6,
  UBWC_NV12_UV: 7,
  HMX_WEIGHT_LAYOUT: 8,
  UBWC_NV124R: 9,
  UBWC_NV124R_Y: 10,
  UBWC_NV124R_UV: 11,
} as const;

/** `Qnn_TensorMemType_t`: what the tensor's buffer union holds (docs/qnn-abi.md#tensor-enums). */
export const QnnTensorMemType = {
  RAW: 0,
  MEMHANDLE: 1,
  RETRIEVE_RAW: 2,
  UNDEFINED,
} as const;

/** `Qnn_TensorVersion_t` (docs/qnn-abi.md#tensor-enums). V2 exists since core API 2.14. */
export const QnnTensorVersion = {
  V1: 1,
  V2: 2,
} as const;

/** `Qnn_Definition_t`, used by `Qnn_QuantizeParams_t.encodingDefinition` (docs/qnn-abi.md#tensor-enums). */
export const QnnDefinition = {
  IMPL_GENERATED: 0,
  DEFINED: 1,
  UNDEFINED,
} as const;

/** `Qnn_QuantizationEncoding_t` (docs/qnn-abi.md#tensor-enums). */
export const QnnQuantizationEncoding = {
  SCALE_OFFSET: 0,
  AXIS_SCALE_OFFSET: 1,
  BW_SCALE_OFFSET: 2,
  BW_AXIS_SCALE_OFFSET: 3,
  BLOCK: 4,
  BLOCKWISE_EXPANSION: 5,
  VECTOR: 6,
  FLOAT_BLOCK: 7,
  BW_AXIS_SCALE_OFFSET_MAPPED: 8,
  BW_BLOCK_MAPPED: 9,
  BW_BLOCKWISE_EXPANSION_MAPPED: 10,
  BW_FLOAT_BLOCK: 11,
  UNDEFINED,
} as const;

/** `QnnSparseParams` layout types (docs/qnn-abi.md#tensor-enums). */
export const QnnSparseLayout = {
  HYBRID_COO: 0,
  UNDEFINED,
} as const;

/**
 * Backend ids found in `QnnInterface_t.backendId` and in binary info
 * (docs/qnn-abi.md#interface-provider-structs).
 */
export const QnnBackendId = {
  NULL: 0,
  SAVER: 2,
  CPU: 3,
  GPU: 4,
  DSP: 5,
  HTP: 6,
  IR: 9,
  LPAI: 12,
  HTP_QEMU: 13,
  GENAI_TRANSFORMER: 14,
  LPAI_ISLAND: 16,
} as const;

/** `QnnLog_Level_t`: 1-based (docs/qnn-abi.md#log-callback). */
export const QnnLogLevel = {
  ERROR: 1,
  WARN: 2,
  INFO: 3,
  VERBOSE: 4,
  DEBUG: 5,
} as const;

/** `QnnProfile_Level_t` (docs/qnn-abi.md#profiling). */
export const QnnProfileLevel = {
  BASIC: 1,
  DETAILED: 2,
  BACKEND: 1000,
} as const;

/**
 * `QnnProfile_EventType_t`: generic types plus the HTP context-load and graph-execute timings
 * (docs/qnn-abi.md#profiling).
 */
export const QnnProfileEventType = {
  INIT: 100,
  FINALIZE: 300,
  EXECUTE: 400,
  NODE: 404,
  EXECUTE_QUEUE_WAIT: 405,
  EXECUTE_PREPROCESS: 406,
  EXECUTE_DEVICE: 407,
  EXECUTE_POSTPROCESS: 408,
  DEINIT: 500,
  TRACE: 600,
  BACKEND: 1000,
  HTP_CONTEXT_LOAD_BIN_HOST_RPC_TIME_MICROSEC: 1002,
  HTP_CONTEXT_LOAD_BIN_HTP_RPC_TIME_MICROSEC: 1003,
  HTP_CONTEXT_LOAD_BIN_ACCEL_TIME_MICROSEC: 1004,
  HTP_GRAPH_EXECUTE_HOST_RPC_TIME_MICROSEC: 3001,
  HTP_GRAPH_EXECUTE_HTP_RPC_TIME_MICROSEC: 3002,
  HTP_GRAPH_EXECUTE_ACCEL_TIME_CYCLE: 3003,
  HTP_GRAPH_EXECUTE_ACCEL_TIME_MICROSEC: 3004,
} as const;

/** `QnnProfile_EventUnit_t` (docs/qnn-abi.md#profiling). */
export const QnnProfileEventUnit = {
  MICROSEC: 1,
  BYTES: 2,
  CYCLES: 3,
  COUNT: 4,
  OBJECT: 5,
  NONE: 6,
  BACKEND: 1000,
} as const;

/** `Qnn_MemType_t`, the kind of a `Qnn_MemDescriptor_t` (docs/qnn-abi.md#mem-descriptor). */
export const QnnMemType = {
  ION: 1,
  CUSTOM: 2,
  DMA_BUF: 3,
  UNDEFINED,
} as const;

/**
 * `QnnMemHtp_Type_t`, the kind of a `QnnMemHtp_Descriptor_t` passed as CUSTOM mem info
 * (docs/qnn-abi.md#htp-shared-buffer-descriptor).
 */
export const QnnHtpMemType = {
  QURT: 0,
  SHARED_BUFFER: 1,
  WEIGHTS_BUFFER: 2,
  SHARED_SPILLFILL_BUFFER: 3,
} as const;

/** `QNN_MEM_INVALID_FD` (docs/qnn-abi.md#mem-descriptor). */
export const QNN_MEM_INVALID_FD = -1;

/** `Qnn_Priority_t` (docs/qnn-abi.md#priority-soc-models-and-htp-arch). */
export const QnnPriority = {
  LOW: 0,
  NORMAL: 100,
  NORMAL_HIGH: 150,
  HIGH: 200,
} as const;

/** `QnnBackend_ConfigOption_t` (docs/qnn-abi.md#config-structs). */
export const QnnBackendConfigOption = {
  CUSTOM: 0,
  ERROR_REPORTING: 1,
  PLATFORM: 2,
} as const;

/** `QnnDevice_ConfigOption_t` (docs/qnn-abi.md#config-structs). */
export const QnnDeviceConfigOption = {
  CUSTOM: 0,
  PLATFORM_INFO: 1,
} as const;

/**
 * `QnnHtpDevice_ConfigOption_t`, the option of a `QnnHtpDevice_CustomConfig_t`
 * (docs/qnn-abi.md#config-structs).
 */
export const QnnHtpDeviceConfigOption = {
  SOC: 0,
  ARCH: 1,
  SIGNEDPD: 2,
  SECUREPD: 3,
} as const;

/** `QnnHtpDevice_Arch_t` (docs/qnn-abi.md#priority-soc-models-and-htp-arch). */
export const QnnHtpDeviceArch = {
  NONE: 0,
  V68: 68,
  V69: 69,
  V73: 73,
  V75: 75,
  V79: 79,
  V81: 81,
  V85: 85,
} as const;

/** `QnnContext_ConfigOption_t` (docs/qnn-abi.md#config-structs). */
export const QnnContextConfigOption = {
  CUSTOM: 0,
  PRIORITY: 1,
  ERROR_REPORTING: 2,
  OEM_STRING: 3,
  ASYNC_EXECUTION_QUEUE_DEPTH: 4,
  ENABLE_GRAPHS: 5,
  MEMORY_LIMIT_HINT: 6,
  PERSISTENT_BINARY: 7,
  BINARY_COMPATIBILITY: 8,
  DEFER_GRAPH_INIT: 9,
  GRAPH_RETENTION_ORDER: 10,
} as const;

/**
 * `QnnHtpContext_ConfigOption_t`, the option of a `QnnHtpContext_CustomConfig_t`
 * (docs/qnn-abi.md#config-structs).
 */
export const QnnHtpContextConfigOption = {
  WEIGHT_SHARING_ENABLED: 1,
  REGISTER_MULTI_CONTEXTS: 2,
  FILE_READ_MEMORY_BUDGET: 3,
  DSP_MEMORY_PROFILING_ENABLED: 4,
  SHARE_RESOURCES: 5,
  IO_MEM_ESTIMATION: 6,
  PREPARE_ONLY: 7,
  INIT_ACCELERATION: 8,
  SKIP_VALIDATION_ON_BINARY_SECTION: 9,
  SHARE_RESOURCES_OPTIMIZATION_TYPE: 10,
  USE_EXTENDED_UDMA: 11,
  REGISTER_CONCURRENT_RESOURCE_SHARING: 12,
  LORA_WEIGHT_SHARING_ENABLED: 13,
} as const;

/** `QnnGraph_ConfigOption_t` (docs/qnn-abi.md#config-structs). */
export const QnnGraphConfigOption = {
  CUSTOM: 0,
  PRIORITY: 3,
  PROFILE_HANDLE: 4,
  SET_PROFILING_STATE: 5,
  SET_PROFILING_NUM_EXECUTIONS: 6,
  ENABLE_BINARY_SECTION_WEIGHTS_UPDATES: 7,
} as const;

/**
 * `QnnHtpDevice_InfrastructureType_t`: the infrastructure `deviceGetInfrastructure` returns
 * (docs/qnn-abi.md#htp-performance-infrastructure).
 */
export const QnnHtpInfrastructureType = {
  PERF: 0,
} as const;

/** `QnnHtpPerfInfrastructure_PowerConfigOption_t` (docs/qnn-abi.md#power-config-structs). */
export const QnnHtpPowerConfigOption = {
  DCVS_V3: 1,
  RPC_CONTROL_LATENCY: 2,
  RPC_POLLING_TIME: 3,
  HMX_TIMEOUT_INTERVAL_US: 4,
  HMX_V2: 5,
  ADAPTIVE_POLLING_TIME: 6,
  DDR_PERF_MODE: 7,
} as const;

/** Largest accepted RPC polling time in microseconds (docs/qnn-abi.md#power-config-structs). */
export const QNN_HTP_MAX_RPC_POLLING_TIME_US = 9999;

/** `QnnHtpPerfInfrastructure_PowerMode_t`, the DCVS V3 power mode (docs/qnn-abi.md#perf-enum-values). */
export const QnnHtpPowerMode = {
  ADJUST_UP_DOWN: 0x1,
  ADJUST_ONLY_UP: 0x2,
  POWER_SAVER: 0x4,
  POWER_SAVER_AGGRESSIVE: 0x8,
  PERFORMANCE: 0x10,
  DUTY_CYCLE: 0x20,
} as const;

/**
 * `QnnHtpPerfInfrastructure_VoltageCorner_t`, DCVS V3 bus/core corners
 * (docs/qnn-abi.md#perf-enum-values).
 */
export const QnnHtpVoltageCorner = {
  DISABLE: 0x10,
  MIN: 0x20,
  SVS2: 0x30,
  SVS: 0x40,
  SVS_PLUS: 0x50,
  NOM: 0x60,
  NOM_PLUS: 0x70,
  TURBO: 0x80,
  TURBO_PLUS: 0x90,
  TURBO_L2: 0x92,
  TURBO_L3: 0x93,
  TURBO_L4: 0x94,
  TURBO_L5: 0x95,
  MAX: 0xa0,
} as const;

/** `QnnHtpPerfInfrastructure_ExpVoltageCorner_t`, the HMX V2 corners (docs/qnn-abi.md#perf-enum-values). */
export const QnnHtpExpVoltageCorner = {
  DISABLE: 0,
  MIN: 0x100,
  LOW_SVS_D2: 0x134,
  LOW_SVS_D1: 0x138,
  LOW_SVS: 0x140,
  LOW_SVS_L0: 0x14c,
  SVS: 0x180,
  SVS_L0: 0x190,
  SVS_L1: 0x1c0,
  SVS_L2: 0x1e0,
  NOM: 0x200,
  NOM_L1: 0x240,
  NOM_L2: 0x250,
  TUR: 0x280,
  TUR_L1: 0x2a0,
  TUR_L2: 0x2b0,
  TUR_L3: 0x2c0,
  MAX: 0xffff,
} as const;

/** `QnnHtpPerfInfrastructure_HmxClkPerfMode_t` (docs/qnn-abi.md#perf-enum-values). */
export const QnnHtpHmxPerfMode = {
  HIGH: 0,
  LOW: 1,
} as const;

/** `QnnHtpPerfInfrastructure_MemoryConfigOption_t` (docs/qnn-abi.md#power-config-structs). */
export const QnnHtpMemoryConfigOption = {
  GROW_SIZE: 1,
} as const;

/** Capability keys for `propertyHasCapability` the runtime checks (docs/qnn-abi.md#capability-keys). */
export const QnnPropertyKey = {
  ERROR_GET_VERBOSE_MESSAGE: 1002,
  MEMORY_SUPPORT_MEM_TYPE_ION: 1102,
  MEMORY_SUPPORT_MEM_TYPE_CUSTOM: 1103,
  MEMORY_SUPPORT_MEM_TYPE_DMA_BUF: 1104,
  PROFILE_SUPPORTS_EXTENDED_EVENT: 1404,
} as const;

/** What `propertyHasCapability` returns (docs/qnn-abi.md#capability-keys). */
export const QnnPropertyResult = {
  SUPPORTED: 0,
  NOT_SUPPORTED: 1000,
  ERROR_UNKNOWN_KEY: 2000,
} as const;

/** `QnnSystemContext_BinaryInfoVersion_t` (docs/qnn-abi.md#binary-info). V3 since core API 2.21. */
export const QnnSystemBinaryInfoVersion = {
  V1: 1,
  V2: 2,
  V3: 3,
} as const;

/**
 * `QnnSystemContext_GraphInfoVersion_t` (docs/qnn-abi.md#graph-info-and-its-stride). V2 since core
 * API 2.17, V3 since 2.21.
 */
export const QnnSystemGraphInfoVersion = {
  V1: 1,
  V2: 2,
  V3: 3,
} as const;

/** `QnnHtpSystemContext_GraphBlobInfoVersion_t` (docs/qnn-abi.md#htp-blobs). */
export const QnnHtpGraphBlobInfoVersion = {
  V1: 1,
  V2: 2,
} as const;
