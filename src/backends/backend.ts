import type { GraphSpec } from '../graphs/spec.js';

/**
 * What the runtime needs from anything that executes compiled graphs (the pure-TS reference
 * executor, QNN HTP through Koffi, ...). The runtime never knows which one it drives.
 *
 * Lifecycle: open (factory) -> `graphs` -> `allocate` the engine's buffers -> `bind` each graph's
 * IO to them once -> `execute` per step -> `dispose`.
 */
export interface GraphBackend {
  /** Backend type as in `engine.backend.type`, for messages and KPIs. */
  readonly type: string;
  /** Every graph of every ctx-bin, in ctx-bin order then the order the binary lists them. */
  readonly graphs: readonly GraphSpec[];
  /**
   * Memory for one of the engine's IO buffers. Backends with shared device memory (rpcmem) hand
   * out native memory here so execution is zero-copy; others return ordinary heap memory.
   */
  allocate(byteLength: number): Uint8Array;
  /**
   * Binds a graph's IO tensors, by tensor name, to byte views of the engine's buffers. Called once
   * per graph after allocation; `execute` then reads inputs from and writes outputs into them.
   */
  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void;
  /** Runs one graph on the bound buffers. */
  execute(graph: string): Promise<void>;
  /** Backend profiling records collected since the last call (QNN: QnnProfile events), if it profiles. */
  takeProfile?(): readonly object[];
  /** Frees everything; idempotent. Any later call throws a typed error. */
  dispose(): Promise<void>;
}
