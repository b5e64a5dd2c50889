export {
  ForeignBufferError,
  QnnContextBinaryError,
  QnnDisposedError,
  QnnEnvironmentError,
  QnnExecutionNotRunError,
  QnnFunctionUnavailableError,
  QnnGraphNotBoundError,
  QnnLibraryLoadError,
  QnnLibraryNotFoundError,
  QnnProviderError,
  type QnnLibraryProblem,
} from './errors.js';
export { libraryHeaderProblem, librarySymbol, loadLibraryFile } from './library-file.js';
export {
  BACKEND_LIB_ENV,
  SYSTEM_LIB_ENV,
  libraryFileName,
  librarySearchDirs,
  processLibraryHost,
  resolveQnnLibrary,
  type LibraryHost,
  type QnnLibraryKind,
  type ResolvedLibrary,
} from './library-paths.js';
export { ADSP_LIBRARY_PATH, ADSP_SYSTEM_DIRS, checkAdspLibraryPath, type AdspCheck } from './adsp.js';
export {
  loadQnnLibraries,
  loadQnnSystemLibrary,
  providerSourceFromPointers,
  selectInterfaceProvider,
  selectSystemProvider,
  systemProviderSourceFromPointer,
  type QnnProvider,
  type QnnProviderSource,
  type QnnSystemProviderSource,
} from './providers.js';
export { QnnCoreApi, QnnSystemApi, type CoreFunctionName, type SystemFunctionName } from './function-table.js';
export {
  QNN_LOG_LEVELS,
  QnnLogger,
  isQnnLogLevelName,
  logLevelAdmits,
  stderrLogSink,
  type QnnLogLevelName,
  type QnnLogSink,
} from './log.js';
export {
  checkGraphNamesUnique,
  decodeBinaryInfo,
  readBinaryInfo,
  type QnnBinaryInfo,
  type QnnGraphInfo,
  type QnnQuantization,
  type QnnScaleOffset,
  type QnnTensorInfo,
} from './metadata.js';
export {
  NativeBufferPool,
  loadRpcmem,
  rpcmemAllocator,
  type BufferLocation,
  type RpcmemFunctions,
  type NativeAllocation,
  type SharedMemoryAllocator,
} from './memory.js';
export {
  DEFAULT_RPC_CONTROL_LATENCY_US,
  DEFAULT_RPC_POLLING_TIME_US,
  HTP_PERF_PROFILES,
  HtpPerfVote,
  isHtpPerfProfile,
  powerConfigs,
  type HtpPerfProfile,
  type HtpPerfSettings,
} from './perf.js';
export {
  QNN_PROFILING_LEVELS,
  QnnProfiler,
  isQnnProfilingLevel,
  type QnnProfileEvent,
  type QnnProfileRecord,
  type QnnProfilingLevel,
} from './profile.js';
export { describeDevices, readPlatformInfo, type QnnHardwareDevice, type QnnHtpDeviceInfo } from './platform.js';
export { DEFAULT_HTP_CONTEXT_SETTINGS, encodeContextConfigs, type HtpContextSettings } from './context-config.js';
export { NativeContextBinary } from './context-binary.js';
export { readContextBinaryInfos } from './binary-info-file.js';
export { QnnGraph, type QnnExecuteMode } from './graph.js';
export { QnnSession, type QnnSessionOptions } from './session.js';
