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
   * `execute` waits for work done off the JS thread (a native worker), so the event loop runs
   * during every step. Absent or false: `execute` may do its work on the JS thread (Reference, QNN
   * `executeMode: 'sync'`), and the engine yields a macrotask turn before each step so that timers,
   * signals and I/O still run.
   */
  readonly executesOffThread?: boolean;
  /**
   * `execute` only submits: executions of one queue (`executionQueue`) run one after the other in
   * call order, each after the previous one has ended (QNN's graphExecuteAsync FIFO of a context),
   * so the engine submits a step's parts of one queue back to back and awaits them in order. Absent
   * or false: an execute may start at once, beside a previous one still running, so the engine
   * awaits each before the next.
   */
  readonly queuesExecutions?: boolean;
  /**
   * With `queuesExecutions`: the queue `graph`'s executions join. Executions in one queue run in
   * call order; executions in different queues run in no order with each other, so the engine
   * submits a part in another queue only once the parts before it have ended. Absent: a queue per
   * graph (a wrapper that forwards `queuesExecutions` but not this stays correct, if slower).
   */
  executionQueue?(graph: string): number;
  /**
   * With `queuesExecutions`: runs `graph` once the execution of `previous` submitted last has ended
   * with success, whatever queue each is in. The backend submits it the moment it learns of that
   * end, before the promise continuations of that end run, so a step's parts in different queues
   * follow each other without waiting for a turn of the JS thread. When that execution fails (or
   * was itself not run), `graph` is not run and the promise rejects (the failure is reported by
   * `previous`'s own promise). Absent: the engine awaits `previous`, then calls `execute`.
   */
  executeAfter?(graph: string, previous: string): Promise<void>;
  /**
   * Zeroed memory for one of the engine's IO buffers, which the backend's graphs read and write in
   * place (zero-copy). After `dispose` it must be unusable rather than freed under its views: the
   * backend detaches it before freeing it (every view then has length 0: reads give undefined,
   * typed-array methods throw TypeError), on every backend, so a view may be kept past dispose and
   * dispose returns the memory whatever views are kept. QnnHtp's native blocks (rpcmem shared memory
   * on a device) are detached too (src/qnn/binding/memory.ts); a block whose memory the caller moved
   * to another ArrayBuffer itself (a BYOB read into it) stays allocated, never freed under that one.
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
  /**
   * Frees everything after any running `execute` has finished; idempotent. Any later call throws a
   * typed error.
   */
  dispose(): Promise<void>;
}
