/**
 * C signatures of the functions the simulated provider serves (docs/qnn-abi.md#call-signatures,
 * docs/qnn-abi.md#rpcmem). Every pointer is `void *` so the simulator decodes what it points at by
 * offset; every QNN function returns `Qnn_ErrorHandle_t` (uint64). Prototypes are anonymous: Koffi
 * type names are global per process and belong to the binding.
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

const qnn = (args: readonly string[]): TypeObject => koffi.proto(null, 'uint64_t', [...args]);

export const CoreProtos = {
  propertyHasCapability: qnn(['uint32_t']),
  backendCreate: qnn(['void *', 'void *', 'void *']),
  backendGetApiVersion: qnn(['void *']),
  backendGetBuildId: qnn(['void *']),
  backendFree: qnn(['void *']),
  contextCreateFromBinary: qnn(['void *', 'void *', 'void *', 'void *', 'uint64_t', 'void *', 'void *']),
  contextFree: qnn(['void *', 'void *']),
  graphRetrieve: qnn(['void *', 'void *', 'void *']),
  graphExecute: qnn(['void *', 'void *', 'uint32_t', 'void *', 'uint32_t', 'void *', 'void *']),
  graphExecuteAsync: qnn(['void *', 'void *', 'uint32_t', 'void *', 'uint32_t', 'void *', 'void *', 'void *', 'void *']),
  logCreate: qnn(['void *', 'uint32_t', 'void *']),
  logSetLogLevel: qnn(['void *', 'uint32_t']),
  logFree: qnn(['void *']),
  profileCreate: qnn(['void *', 'uint32_t', 'void *']),
  profileGetEvents: qnn(['void *', 'void *', 'void *']),
  profileGetSubEvents: qnn(['uint64_t', 'void *', 'void *']),
  profileGetEventData: qnn(['uint64_t', 'void *']),
  profileFree: qnn(['void *']),
  memRegister: qnn(['void *', 'void *', 'uint32_t', 'void *']),
  memDeRegister: qnn(['void *', 'uint32_t']),
  deviceGetPlatformInfo: qnn(['void *', 'void *']),
  deviceFreePlatformInfo: qnn(['void *', 'void *']),
  deviceGetInfrastructure: qnn(['void *']),
  deviceCreate: qnn(['void *', 'void *', 'void *']),
  deviceFree: qnn(['void *']),
  errorGetMessage: qnn(['uint64_t', 'void *']),
} as const;

export type ServedCoreSlot = keyof typeof CoreProtos;

export const SystemProtos = {
  systemContextCreate: qnn(['void *']),
  systemContextGetBinaryInfo: qnn(['void *', 'void *', 'uint64_t', 'void *', 'void *']),
  systemContextGetMetaData: qnn(['void *', 'void *', 'uint64_t', 'void *']),
  systemContextFree: qnn(['void *']),
} as const;

export type ServedSystemSlot = keyof typeof SystemProtos;

/** `QnnInterface_getProviders` and `QnnSystemInterface_getProviders`: (providerList**, uint32*). */
export const GetProvidersProto = qnn(['void *', 'void *']);

/**
 * The HTP perf infrastructure functions (docs/qnn-abi.md#htp-performance-infrastructure); they also
 * return `Qnn_ErrorHandle_t`.
 */
export const PerfProtos = {
  createPowerConfigId: qnn(['uint32_t', 'uint32_t', 'void *']),
  destroyPowerConfigId: qnn(['uint32_t']),
  setPowerConfig: qnn(['uint32_t', 'void *']),
  setMemoryConfig: qnn(['uint32_t', 'uint32_t', 'void *']),
} as const;

export type PerfFunction = keyof typeof PerfProtos;

/** `Qnn_NotifyFn_t` (docs/qnn-abi.md#queued-execution): `Qnn_NotifyStatus_t` by value is a uint64. */
export const NotifyProto = koffi.proto(null, 'void', ['void *', 'uint64_t']);

/** `QnnLog_Callback_t` (docs/qnn-abi.md#log-callback): the va_list travels as a pointer. */
export const LogCallbackProto = koffi.proto(null, 'void', ['void *', 'uint32_t', 'uint64_t', 'void *']);

/** FastRPC rpcmem (docs/qnn-abi.md#rpcmem), as served by the simulator's stand-in allocator. */
export const RpcmemProtos = {
  rpcmemAlloc: koffi.proto(null, 'void *', ['int', 'uint32_t', 'int']),
  rpcmemFree: koffi.proto(null, 'void', ['void *']),
  rpcmemToFd: koffi.proto(null, 'int', ['void *']),
} as const;

export type RpcmemFunction = keyof typeof RpcmemProtos;
