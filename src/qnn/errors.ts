import { GenieError, InvalidArgumentError } from '../errors.js';

/**
 * QNN error codes by name (docs/qnn-abi.md#error-codes). Codes that a group reuses from the
 * common range (e.g. CONTEXT UNSUPPORTED_FEATURE = 1000) appear once, under COMMON.
 */
export const QnnErrorCode = {
  COMMON_NOT_SUPPORTED: 1000,
  COMMON_MEM_ALLOC: 1002,
  COMMON_SYSTEM: 1003,
  COMMON_INVALID_ARGUMENT: 1004,
  COMMON_OPERATION_NOT_PERMITTED: 1005,
  COMMON_PLATFORM_NOT_SUPPORTED: 1006,
  COMMON_SYSTEM_COMMUNICATION: 1007,
  COMMON_INCOMPATIBLE_BINARIES: 1008,
  COMMON_LOADING_BINARIES: 1009,
  COMMON_RESOURCE_UNAVAILABLE: 1010,
  COMMON_SYSTEM_COMMUNICATION_FATAL: 1011,
  COMMON_GENERAL: 1100,
  PROPERTY_UNKNOWN_KEY: 2000,
  BACKEND_CANNOT_INITIALIZE: 4000,
  BACKEND_TERMINATE_FAILED: 4002,
  BACKEND_NOT_SUPPORTED: 4003,
  BACKEND_INVALID_ARGUMENT: 4004,
  BACKEND_INCONSISTENT_CONFIG: 4010,
  BACKEND_INVALID_HANDLE: 4011,
  BACKEND_INVALID_CONFIG: 4012,
  CONTEXT_INVALID_ARGUMENT: 5000,
  CONTEXT_CTX_DOES_NOT_EXIST: 5001,
  CONTEXT_INVALID_HANDLE: 5002,
  CONTEXT_NOT_FINALIZED: 5003,
  CONTEXT_BINARY_VERSION: 5004,
  CONTEXT_CREATE_FROM_BINARY: 5005,
  CONTEXT_GET_BINARY_SIZE_FAILED: 5006,
  CONTEXT_GET_BINARY_FAILED: 5007,
  CONTEXT_BINARY_CONFIGURATION: 5008,
  CONTEXT_SET_PROFILE: 5009,
  CONTEXT_INVALID_CONFIG: 5010,
  CONTEXT_BINARY_SUBOPTIMAL: 5011,
  CONTEXT_ABORTED: 5012,
  CONTEXT_TIMED_OUT: 5013,
  CONTEXT_INCREMENT_INVALID_BUFFER: 5014,
  GRAPH_INVALID_ARGUMENT: 6000,
  GRAPH_INVALID_HANDLE: 6001,
  GRAPH_DOES_NOT_EXIST: 6002,
  GRAPH_INVALID_NAME: 6003,
  GRAPH_INVALID_TENSOR: 6004,
  GRAPH_INVALID_OP_CONFIG: 6005,
  GRAPH_SET_PROFILE: 6006,
  GRAPH_UNCONNECTED_NODE: 6007,
  GRAPH_CREATE_FAILED: 6020,
  GRAPH_OPTIMIZATION_FAILED: 6021,
  GRAPH_FINALIZE_FAILED: 6022,
  GRAPH_NOT_FINALIZED: 6023,
  GRAPH_FINALIZED: 6024,
  GRAPH_EXECUTION_ASYNC_FIFO_FULL: 6025,
  GRAPH_SIGNAL_IN_USE: 6030,
  GRAPH_ABORTED: 6031,
  GRAPH_PROFILE_IN_USE: 6032,
  GRAPH_TIMED_OUT: 6033,
  GRAPH_SUBGRAPH: 6034,
  GRAPH_DISABLED: 6035,
  GRAPH_DYNAMIC_TENSOR_SHAPE: 6036,
  GRAPH_TENSOR_SPARSITY: 6037,
  GRAPH_EARLY_TERMINATION: 6038,
  GRAPH_INVALID_CONTEXT: 6039,
  TENSOR_INVALID_HANDLE: 7001,
  TENSOR_DOES_NOT_EXIST: 7002,
  TENSOR_ALREADY_EXISTS: 7003,
  TENSOR_INVALID_TENSOR_PARAM: 7004,
  TENSOR_UNSUPPORTED_TENSOR_PARAM: 7005,
  TENSOR_NAME_HASH_COLLISION: 7006,
  TENSOR_INCOMPATIBLE_TENSOR_UPDATE: 7007,
  MEM_INVALID_ARGUMENT: 8000,
  MEM_INVALID_HANDLE: 8001,
  MEM_ALREADY_REGISTERED: 8002,
  MEM_MAPPING: 8003,
  MEM_INVALID_SHAPE: 8004,
  MEM_UNSUPPORTED_MEMTYPE: 8005,
  LOG_INITIALIZATION: 11002,
  LOG_INVALID_ARGUMENT: 11003,
  LOG_INVALID_HANDLE: 11004,
  PROFILE_INVALID_HANDLE: 12000,
  PROFILE_HANDLE_IN_USE: 12001,
  PROFILE_INCOMPATIBLE_EVENT: 12002,
  PERF_INFRASTRUCTURE_INVALID_HANDLE_PTR: 13000,
  PERF_INFRASTRUCTURE_INVALID_INPUT: 13001,
  PERF_INFRASTRUCTURE_UNSUPPORTED_CONFIG: 13002,
  PERF_INFRASTRUCTURE_TRANSPORT: 13003,
  PERF_INFRASTRUCTURE_UNSUPPORTED: 13004,
  PERF_INFRASTRUCTURE_MEM_ALLOC: 13005,
  PERF_INFRASTRUCTURE_FAILED: 13006,
  DEVICE_INVALID_HANDLE: 14000,
  DEVICE_INVALID_CONFIG: 14001,
  DEVICE_HARDWARE_UNAVAILABLE: 14002,
  DEVICE_ASSOCIATED_TO_CONTEXT: 14003,
  SYSTEM_CONTEXT_INVALID_HANDLE: 30000,
  SYSTEM_CONTEXT_INVALID_ARGUMENT: 30001,
  SYSTEM_CONTEXT_OPERATION_FAILED: 30002,
  SYSTEM_CONTEXT_MALFORMED_BINARY: 30010,
} as const;

const NAME_BY_CODE = new Map<number, string>(Object.entries(QnnErrorCode).map(([name, code]) => [code, name]));

/** The name of a QNN error code, e.g. 5005 -> "CONTEXT_CREATE_FROM_BINARY"; undefined if not documented. */
export function qnnErrorName(code: number): string | undefined {
  return NAME_BY_CODE.get(code);
}

/**
 * One-line usual causes of the errors users hit most (docs/qnn-abi.md#error-codes,
 * docs/qnn-abi.md#call-order-and-teardown, docs/qnn-abi.md#library-files,
 * docs/genie-behaviour.md#known-load-errors).
 */
const HINT_BY_CODE = new Map<number, string>([
  [1007, 'the DSP session was lost and recovered (subsystem restart); reported with large models near the device memory limit'],
  [1008, 'the QNN libraries come from different SDK versions; libQnnHtp, the HtpV##Stub, the DSP-side HtpV##Skel and libQnnSystem must all come from one QAIRT SDK'],
  [1009, 'a QNN backend library was loaded twice in this process, or the context binary targets another chip; load each library once and use assets compiled for this SoC'],
  [5000, 'the QAIRT libraries are older than the SDK that compiled the context binary, or the binary was built for another device'],
  [5004, 'the context binary was produced by an SDK these QNN libraries cannot load; use libraries at least as new as the SDK that compiled it'],
  [5005, 'the context binary cannot be loaded on this device: check it was compiled for this SoC and QAIRT version; a VTCM setting too large for the device also causes this'],
  [5008, 'the context binary is not configured for this device: it was compiled for another SoC model or Hexagon arch'],
  [6001, 'the graph handle is no longer valid; graph handles die with the context they were retrieved from'],
  [6002, 'no graph of that name in the context; take graph names from the binary metadata'],
  [14003, 'the device still has contexts; free in FILO order (profile, contexts, device, backend, log)'],
]);

const GRAPH_FAILURE_HINT =
  'an input or output tensor does not match the graph: each must carry the id, type, data type, rank and dims from the binary metadata and a buffer of the full size';

/** The usual cause of a QNN error code, if one is known. */
export function qnnErrorHint(code: number): string | undefined {
  const hint = HINT_BY_CODE.get(code);
  if (hint !== undefined) return hint;
  if (code >= 6000 && code < 7000) return GRAPH_FAILURE_HINT;
  return undefined;
}

/** A QNN call returned an error. `qnnCode` is the low 16 bits of its `Qnn_ErrorHandle_t`. */
export class QnnError extends GenieError {
  readonly functionName: string;
  readonly qnnCode: number;
  readonly qnnName: string | undefined;
  readonly qnnMessage: string | undefined;
  readonly hint: string | undefined;

  constructor(functionName: string, qnnCode: number, qnnMessage?: string) {
    if (!Number.isInteger(qnnCode) || qnnCode < 1 || qnnCode > 0xffff) {
      throw new InvalidArgumentError(`QnnError qnnCode must be an integer in 1..65535, got ${String(qnnCode)}`);
    }
    const qnnName = qnnErrorName(qnnCode);
    const hint = qnnErrorHint(qnnCode);
    const message = qnnMessage === undefined || qnnMessage === '' ? undefined : qnnMessage;
    super(
      'QNN_ERROR',
      `${functionName} failed with QNN error ${qnnCode}${qnnName === undefined ? '' : ` (${qnnName})`}` +
        `${message === undefined ? '' : `: ${message}`}${hint === undefined ? '' : `. Hint: ${hint}`}`,
    );
    this.functionName = functionName;
    this.qnnCode = qnnCode;
    this.qnnName = qnnName;
    this.qnnMessage = message;
    this.hint = hint;
  }
}

const UINT64_LIMIT = 1n << 64n;

/**
 * The error code of a `Qnn_ErrorHandle_t` as Koffi returns a uint64 (a number, or a bigint above
 * 2^53): the low 16 bits; the higher bits are reserved for QNN's internal tracking.
 */
export function qnnErrorCode(result: number | bigint): number {
  if (typeof result === 'bigint') {
    if (result < 0n || result >= UINT64_LIMIT) {
      throw new InvalidArgumentError(`Qnn_ErrorHandle_t result must be a uint64, got ${result}`);
    }
    return Number(result & 0xffffn);
  }
  if (typeof result !== 'number' || !Number.isSafeInteger(result) || result < 0) {
    throw new InvalidArgumentError(`Qnn_ErrorHandle_t result must be a uint64 number or bigint, got ${String(result)}`);
  }
  return result % 0x10000;
}

/**
 * Throws a `QnnError` when a QNN call failed. `getMessage` (usually a wrapper of the table's
 * `errorGetMessage`) receives the full error handle.
 */
export function checkQnn(
  functionName: string,
  result: number | bigint,
  getMessage?: (result: number | bigint) => string | undefined,
): void {
  const code = qnnErrorCode(result);
  if (code === 0) return;
  throw new QnnError(functionName, code, describe(result, getMessage));
}

function describe(
  result: number | bigint,
  getMessage: ((result: number | bigint) => string | undefined) | undefined,
): string | undefined {
  if (getMessage === undefined) return undefined;
  // A failing message lookup must not hide the error being reported.
  try {
    return getMessage(result);
  } catch {
    return undefined;
  }
}
