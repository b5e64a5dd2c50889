/** What each live handle of the simulated provider stands for. */
import type { ReferenceCtxBinProgram } from '../backends/reference/from-bytes.js';
import type { DataTypeName } from '../tensor/dtype.js';
import type { GraphExecution } from './execute.js';
import type { GraphLayout } from './graph-layout.js';
import type { Address } from './native.js';

export interface SimBackend {
  readonly log: Address;
}

export interface SimDevice {
  readonly log: Address;
}

/** The context configs a caller passed, decoded (docs/qnn-abi.md#config-structs). */
export interface ContextConfig {
  readonly priority?: number;
  readonly memoryLimitHint?: bigint;
  readonly persistentBinary: boolean;
  readonly enabledGraphs?: readonly string[];
  /** HTP REGISTER_MULTI_CONTEXTS: NULL first handle = this context heads a new spill-fill group. */
  readonly spillFillGroup?: { readonly firstGroupHandle: Address; readonly maxSpillFillBuffer: bigint };
  /** Options of the other HTP custom context configs passed (accepted, no effect here). */
  readonly htpOptions: readonly number[];
}

export interface SimContext {
  readonly backend: Address;
  readonly device: Address;
  readonly program: ReferenceCtxBinProgram;
  readonly graphs: ReadonlyMap<string, GraphLayout>;
  readonly config: ContextConfig;
  readonly binarySize: number;
  /** Graph name -> handle, for graphs retrieved so far. */
  readonly retrieved: Map<string, Address>;
  readonly memHandles: Set<Address>;
}

export interface SimGraph {
  readonly context: Address;
  readonly layout: GraphLayout;
  readonly execution: GraphExecution;
}

/** A registered shared buffer: the tensor shape it was registered for and the memory behind it. */
export interface SimMem {
  readonly context: Address;
  readonly dataType: DataTypeName;
  readonly dims: readonly number[];
  readonly fd: number;
  readonly offset: bigint;
  readonly address: Address;
  readonly bytes: number;
}
