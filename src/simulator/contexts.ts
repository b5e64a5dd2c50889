/**
 * Contexts from reference ctx-bins and the graphs retrieved from them (docs/qnn-abi.md#call-signatures,
 * docs/qnn-abi.md#config-structs).
 * The binary is copied during contextCreateFromBinary unless PERSISTENT_BINARY is set, in which
 * case the context keeps using the caller's memory until contextFree, as QNN allows.
 */
import { loadCtxBinProgram, type ReferenceCtxBinProgram } from '../backends/reference/from-bytes.js';
import { QnnLogLevel, QnnProfileEventType } from '../qnn/enums.js';
import { decodeContextConfigs } from './configs.js';
import { GraphExecution } from './execute.js';
import type { SimExecuteQueue } from './execute-queue.js';
import { Code, fail } from './failure.js';
import { layoutGraphs } from './graph-layout.js';
import type { SimMemory } from './memory.js';
import { addressOf, hex, MAX_VIEW_BYTES, nativeBytes, NULL, readCString, storePointer, type Address, type PointerArg } from './native.js';
import type { SimProfiles } from './profiles.js';
import type { ContextConfig } from './records.js';
import type { Handler, Simulator } from './simulator.js';

/** A live context as tests see it (`SimulatedQnn.contexts()`). */
export interface SimulatedContextInfo {
  readonly handle: bigint;
  readonly backend: bigint;
  /** NULL (0n) when created on the default device. */
  readonly device: bigint;
  readonly binarySize: number;
  readonly graphs: readonly string[];
  readonly retrievedGraphs: readonly string[];
  readonly memHandles: number;
  readonly config: ContextConfig;
}

/**
 * The bytes of the binary at `address`: a copy, or a view of the caller's memory. Fails with
 * `code` for NULL or an empty or absurd size.
 */
export function binaryBytes(address: Address, size: number | bigint, keepCallerMemory: boolean, code: number): Uint8Array {
  const length = BigInt(size);
  if (address === NULL) fail(code, 'binaryBuffer is NULL');
  if (length === 0n || length > BigInt(Number.MAX_SAFE_INTEGER)) fail(code, `binaryBufferSize ${length} is not a binary size`);
  if (length > BigInt(MAX_VIEW_BYTES)) fail(code, `binaryBufferSize ${length}: the simulated provider reads binaries of at most ${MAX_VIEW_BYTES} bytes`);
  const bytes = nativeBytes(address, Number(length));
  return keepCallerMemory ? bytes : bytes.slice();
}

export class SimContexts {
  constructor(
    private readonly sim: Simulator,
    private readonly profiles: SimProfiles,
    private readonly memory: SimMemory,
    private readonly queue: SimExecuteQueue,
  ) {}

  info(): SimulatedContextInfo[] {
    return [...this.sim.contexts.entries()].map(([handle, ctx]) => ({
      handle,
      backend: ctx.backend,
      device: ctx.device,
      binarySize: ctx.binarySize,
      graphs: [...ctx.graphs.keys()],
      retrievedGraphs: [...ctx.retrieved.keys()],
      memHandles: ctx.memHandles.size,
      config: ctx.config,
    }));
  }

  handlers(): Record<'contextCreateFromBinary' | 'contextFree' | 'graphRetrieve', Handler> {
    const sim = this.sim;
    return {
      contextCreateFromBinary: (
        backend: PointerArg,
        device: PointerArg,
        configs: PointerArg,
        buffer: PointerArg,
        size: number | bigint,
        out: PointerArg,
        profile: PointerArg,
      ): void => {
        const start = performance.now();
        if (!sim.backends.has(addressOf(backend))) {
          fail(Code.CONTEXT_INVALID_HANDLE, `backend ${hex(addressOf(backend))} is not a live backend handle`);
        }
        if (addressOf(device) !== NULL && !sim.devices.has(addressOf(device))) {
          fail(Code.CONTEXT_INVALID_HANDLE, `device ${hex(addressOf(device))} is not a live device handle`);
        }
        this.profiles.requireOptional(addressOf(profile), Code.CONTEXT_SET_PROFILE);
        if (addressOf(out) === NULL) fail(Code.CONTEXT_INVALID_ARGUMENT, 'context out-pointer is NULL');
        const config = decodeContextConfigs(addressOf(configs), Code.CONTEXT_INVALID_CONFIG, (h) => sim.contexts.has(h));
        const bytes = binaryBytes(addressOf(buffer), size, config.persistentBinary, Code.CONTEXT_INVALID_ARGUMENT);
        let program: ReferenceCtxBinProgram;
        try {
          program = loadCtxBinProgram(bytes, `binary of ${bytes.byteLength} bytes`);
        } catch (error) {
          return fail(Code.CONTEXT_CREATE_FROM_BINARY, `not a loadable context binary: ${(error as Error).message}`);
        }
        const graphs = new Map(layoutGraphs(program.graphs).map((graph) => [graph.name, graph]));
        const unknown = config.enabledGraphs?.find((name) => !graphs.has(name));
        if (unknown !== undefined) {
          fail(Code.CONTEXT_INVALID_CONFIG, `ENABLE_GRAPHS names graph "${unknown}", which the binary does not hold`);
        }
        const handle = sim.contexts.issue({
          backend: addressOf(backend),
          device: addressOf(device),
          program,
          graphs,
          config,
          binarySize: bytes.byteLength,
          retrieved: new Map(),
          memHandles: new Set(),
        });
        storePointer(addressOf(out), handle);
        sim.logs.emit(QnnLogLevel.INFO, `context ${hex(handle)} created with graphs ${[...graphs.keys()].join(', ')}`);
        this.profiles.record(addressOf(profile), [
          { type: QnnProfileEventType.INIT, microseconds: (performance.now() - start) * 1000, identifier: 'contextCreateFromBinary' },
        ]);
      },
      contextFree: (context: PointerArg, profile: PointerArg): void => {
        const start = performance.now();
        const handle = addressOf(context);
        const ctx = sim.contexts.get(handle);
        if (ctx === undefined) fail(Code.CONTEXT_INVALID_HANDLE, `context ${hex(handle)} is not a live context handle`);
        this.profiles.requireOptional(addressOf(profile), Code.CONTEXT_SET_PROFILE);
        const queued = this.queue.queuedIn(handle);
        if (queued > 0) {
          fail(Code.CONTEXT_INVALID_ARGUMENT, `context ${hex(handle)} has ${queued} queued execution(s) (graphExecuteAsync) not yet ended`);
        }
        if (ctx.memHandles.size > 0) {
          sim.logs.emit(QnnLogLevel.WARN, `context ${hex(handle)} freed with ${ctx.memHandles.size} registered mem handle(s)`);
        }
        for (const mem of [...ctx.memHandles]) this.memory.release(mem);
        for (const graph of ctx.retrieved.values()) sim.graphs.release(graph);
        sim.contexts.release(handle);
        this.profiles.record(addressOf(profile), [
          { type: QnnProfileEventType.DEINIT, microseconds: (performance.now() - start) * 1000, identifier: 'contextFree' },
        ]);
      },
      graphRetrieve: (context: PointerArg, graphName: PointerArg, out: PointerArg): void => {
        const handle = addressOf(context);
        const ctx = sim.contexts.get(handle);
        if (ctx === undefined) fail(Code.GRAPH_INVALID_CONTEXT, `context ${hex(handle)} is not a live context handle`);
        if (addressOf(graphName) === NULL) fail(Code.GRAPH_INVALID_ARGUMENT, 'graphName is NULL');
        if (addressOf(out) === NULL) fail(Code.GRAPH_INVALID_ARGUMENT, 'graph out-pointer is NULL');
        const name = readCString(addressOf(graphName));
        const layout = ctx.graphs.get(name);
        if (layout === undefined) {
          fail(Code.GRAPH_DOES_NOT_EXIST, `no graph "${name}" in context ${hex(handle)} (graphs: ${[...ctx.graphs.keys()].join(', ')})`);
        }
        if (ctx.config.enabledGraphs !== undefined && !ctx.config.enabledGraphs.includes(name)) {
          fail(Code.GRAPH_DISABLED, `graph "${name}" is not in the context's ENABLE_GRAPHS list`);
        }
        let graph = ctx.retrieved.get(name);
        if (graph === undefined) {
          const execution = new GraphExecution(sim, this.memory, this.profiles, handle, layout, ctx.program);
          graph = sim.graphs.issue({ context: handle, layout, execution });
          ctx.retrieved.set(name, graph);
        }
        storePointer(addressOf(out), graph);
        sim.logs.emit(QnnLogLevel.VERBOSE, `graph "${name}" retrieved as ${hex(graph)}`);
      },
    };
  }
}
