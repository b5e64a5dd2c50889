/**
 * A loaded QNN model: log, backend, device (with platform info and perf vote), profile, one context
 * per context binary and every graph retrieved from it, created in QNN's documented order
 * (docs/qnn-abi.md#call-order-and-teardown) and freed in reverse. Dispose is idempotent; any later
 * call throws `QnnDisposedError` instead of touching freed native memory.
 */
import { InvalidArgumentError } from '../../errors.js';
import { QnnPropertyKey, QnnPropertyResult } from '../enums.js';
import { QnnError, qnnErrorCode } from '../errors.js';
import { formatApiVersion } from '../slots.js';
import { NativeContextBinary } from './context-binary.js';
import { DEFAULT_HTP_CONTEXT_SETTINGS, encodeContextConfigs, type HtpContextSettings } from './context-config.js';
import { DisposalStack } from './disposal-stack.js';
import { QnnDisposedError, QnnFunctionUnavailableError } from './errors.js';
import { createExecutionQueue, type ExecutionQueue, type ExecutionQueueOptions } from './execution-queue.js';
import { QnnCoreApi, QnnSystemApi } from './function-table.js';
import { QnnGraph, type GraphRuntime, type QnnExecuteMode } from './graph.js';
import { QnnLogger, stderrLogSink, type QnnLogLevelName, type QnnLogSink } from './log.js';
import { ContextMemHandles } from './mem-handles.js';
import { NativeBufferPool, type SharedMemoryAllocator } from './memory.js';
import { checkGraphNamesUnique, readBinaryInfo, type QnnBinaryInfo } from './metadata.js';
import { callAsync, NativeArena, type NativePointer } from './native.js';
import { HtpPerfVote, type HtpPerfSettings } from './perf.js';
import { describeDevices, readPlatformInfo, type QnnHardwareDevice } from './platform.js';
import { QnnProfiler, type QnnProfileRecord, type QnnProfilingLevel } from './profile.js';
import { selectInterfaceProvider, selectSystemProvider, type QnnProviderSource } from './providers.js';

export interface QnnSessionOptions {
  readonly source: QnnProviderSource;
  /** Context binaries in `model.binary.ctx-bins` order; a graph's `ctxBin` indexes this list. */
  readonly ctxBins: readonly string[];
  /** QNN log level; absent: no log callback (the backend logs to its default stream). */
  readonly logLevel?: QnnLogLevelName;
  /** Where log lines go; default stderr. */
  readonly logSink?: QnnLogSink;
  readonly htp?: Partial<HtpContextSettings>;
  /** Perf vote held while the session is open; absent: no vote. */
  readonly perf?: HtpPerfSettings;
  /** QnnProfile level; absent: no profiling. */
  readonly profiling?: QnnProfilingLevel;
  /** Shared memory for zero-copy IO (rpcmem); absent: raw client buffers on the native heap. */
  readonly sharedMemory?: SharedMemoryAllocator;
  /**
   * Default `async`. `queued` needs the backend's graphExecuteAsync (else `QnnFunctionUnavailableError`
   * at open).
   */
  readonly executeMode?: QnnExecuteMode;
  /**
   * `queued` mode: poll for an execution's end throughout it (Genie's QnnHtp `poll`: spin instead of
   * sleeping), not only from shortly before its expected end. Default false.
   */
  readonly poll?: boolean;
  /** `queued` mode: how ends reach JS (see ./execution-queue.ts); default `auto`. */
  readonly completion?: ExecutionQueueOptions['completion'];
}

const out = (): unknown[] => [null];

/** `queued` mode cannot run without graphExecuteAsync: say so at open, naming the way out. */
function requireExecuteAsync(core: QnnCoreApi): void {
  try {
    core.fn('graphExecuteAsync');
  } catch (error) {
    if (!(error instanceof QnnFunctionUnavailableError)) throw error;
    throw new QnnFunctionUnavailableError(
      'graphExecuteAsync',
      `QnnSession.open: executeMode "queued" needs graphExecuteAsync: ${error.message}; use executeMode "async"`,
    );
  }
}

export class QnnSession implements GraphRuntime {
  readonly core: QnnCoreApi;
  readonly system: QnnSystemApi;
  readonly pool: NativeBufferPool;
  readonly executeMode: QnnExecuteMode;
  readonly executionQueue: ExecutionQueue | null = null;
  /** Every graph, in ctx-bin order then the order each binary lists them. */
  readonly graphs = new Map<string, QnnGraph>();
  /** Metadata of each context binary. */
  readonly binaries: QnnBinaryInfo[] = [];
  private profilerOrNull: QnnProfiler | null = null;
  private hardwareDevices: readonly QnnHardwareDevice[] | null = null;
  private readonly ctxBins: readonly string[];
  private readonly stack = new DisposalStack();
  private readonly arena = new NativeArena();
  private readonly logger: QnnLogger | null;
  /** Executions between `executionStarted` and `executionEnded`; `dispose` waits for none. */
  private executing = 0;
  /** Set by a `dispose` waiting for the executions to end. */
  private allEnded: (() => void) | null = null;
  private disposing: Promise<void> | null = null;

  private constructor(options: QnnSessionOptions) {
    this.core = new QnnCoreApi(selectInterfaceProvider(options.source));
    this.system = new QnnSystemApi(selectSystemProvider(options.source));
    this.executeMode = options.executeMode ?? 'async';
    if (this.executeMode === 'queued') requireExecuteAsync(this.core);
    this.ctxBins = [...options.ctxBins];
    const shared = options.sharedMemory !== undefined && this.supportsSharedBuffers() ? options.sharedMemory : null;
    this.pool = new NativeBufferPool(shared);
    this.stack.defer(() => this.pool.dispose());
    this.stack.defer(() => this.arena.free());
    if (this.executeMode === 'queued') {
      const queue = createExecutionQueue({ poll: options.poll === true, ...(options.completion === undefined ? {} : { completion: options.completion }) });
      this.executionQueue = queue;
      // Unregistered once the contexts and the backend are freed: dispose has waited for every notify by then.
      this.stack.defer(() => queue.dispose());
    }
    this.logger = options.logLevel === undefined ? null : new QnnLogger(options.logLevel, options.logSink ?? stderrLogSink);
    if (this.logger !== null) {
      const logger = this.logger;
      this.stack.defer(() => logger.dispose());
    }
  }

  /** Opens every context binary of `options.ctxBins` and retrieves its graphs. */
  static async open(options: QnnSessionOptions): Promise<QnnSession> {
    if (options.ctxBins.length === 0) throw new InvalidArgumentError('QnnSession.open: ctxBins is empty');
    if (options.executeMode === 'sync' && options.logLevel !== undefined) {
      throw new InvalidArgumentError(
        'QnnSession.open: executeMode "sync" cannot be combined with logLevel: QNN may log from backend threads ' +
          'while the JS thread is blocked in graphExecute (deadlock); use executeMode "async"',
      );
    }
    const session = new QnnSession(options);
    try {
      await session.load(options);
    } catch (error) {
      // The load error is what matters; a failure while unwinding must not replace it.
      await session.dispose().catch(() => undefined);
      throw error;
    }
    return session;
  }

  get profiler(): QnnProfiler | null {
    return this.profilerOrNull;
  }

  /** Hardware devices the backend reports (null when it reports none). */
  get devices(): readonly QnnHardwareDevice[] | null {
    return this.hardwareDevices;
  }

  get isDisposed(): boolean {
    return this.disposing !== null;
  }

  assertOpen(call: string): void {
    if (this.disposing !== null) throw new QnnDisposedError(`${call}: the QNN session has been disposed`);
  }

  executionStarted(): void {
    this.executing++;
  }

  executionEnded(): void {
    if (--this.executing > 0 || this.allEnded === null) return;
    const ended = this.allEnded;
    this.allEnded = null;
    ended();
  }

  /**
   * The graph called `name`; errors name the call as `${verb} "${name}"` (built only then: this is
   * on every execute's path).
   */
  graph(name: string, verb = 'graph'): QnnGraph {
    const graph = this.graphs.get(name);
    if (this.disposing === null && graph !== undefined) return graph;
    const call = `${verb} "${name}"`;
    this.assertOpen(call);
    throw new InvalidArgumentError(`${call}: unknown graph "${name}" (graphs: ${[...this.graphs.keys()].join(', ')})`);
  }

  /** IO memory: shared (zero-copy) when available, else native heap. */
  allocate(byteLength: number): Uint8Array {
    this.assertOpen('allocate');
    return this.pool.allocate(byteLength);
  }

  /** Profile records collected since the last call (empty without profiling). */
  takeProfile(): QnnProfileRecord[] {
    this.assertOpen('takeProfile');
    return this.profiler?.take() ?? [];
  }

  /** Waits for running executes, then frees everything in reverse order. Idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      if (this.executing > 0) await new Promise<void>((resolve) => (this.allEnded = resolve));
      await this.stack.dispose();
    })();
    return this.disposing;
  }

  private log(level: QnnLogLevelName, message: string): void {
    this.logger?.log(level, message);
  }

  /** Platform info is diagnostic: a backend failing to report it is logged, not fatal. */
  private platformInfo(log: NativePointer | null): readonly QnnHardwareDevice[] | null {
    try {
      return readPlatformInfo(this.core, log);
    } catch (error) {
      if (!(error instanceof QnnError)) throw error;
      this.log('warn', `QNN platform info unavailable: ${error.message}`);
      return null;
    }
  }

  private supportsSharedBuffers(): boolean {
    const { core } = this;
    if (!core.has('propertyHasCapability') || !core.has('memRegister') || !core.has('memDeRegister')) return false;
    const result = core.fn('propertyHasCapability')(QnnPropertyKey.MEMORY_SUPPORT_MEM_TYPE_CUSTOM) as number | bigint;
    return qnnErrorCode(result) === QnnPropertyResult.SUPPORTED;
  }

  private async load(options: QnnSessionOptions): Promise<void> {
    const { core } = this;
    const provider = core.provider;
    const api = formatApiVersion(provider.apiVersion);
    const name = provider.providerName ?? '(unnamed)';
    this.log('info', `QNN provider ${name} (backend id ${provider.backendId}), core API ${api}, from ${options.source.description}`);
    const shared = this.pool.shared;
    const io = shared === null ? 'raw client buffers' : `${shared.name}, registered as mem handles (zero-copy)`;
    this.log('info', `IO buffers: ${io}`);

    let log: NativePointer | null = null;
    if (this.logger !== null) {
      const handle = out();
      core.check('logCreate', core.fn('logCreate')(this.logger.callback, this.logger.maxLevel, handle));
      log = handle[0] as NativePointer;
      this.stack.defer(() => core.check('logFree', core.fn('logFree')(log)));
    }

    const backendOut = out();
    core.check('backendCreate', core.fn('backendCreate')(log, null, backendOut));
    const backend = backendOut[0] as NativePointer;
    this.stack.defer(() => core.check('backendFree', core.fn('backendFree')(backend)));

    this.hardwareDevices = this.platformInfo(log);
    for (const line of describeDevices(this.hardwareDevices ?? [])) this.log('info', `QNN platform ${line}`);

    let device: NativePointer | null = null;
    if (core.has('deviceCreate')) {
      const deviceOut = out();
      core.check('deviceCreate', core.fn('deviceCreate')(log, null, deviceOut));
      device = deviceOut[0] as NativePointer;
      this.stack.defer(() => core.check('deviceFree', core.fn('deviceFree')(device)));
    }

    const perf = options.perf;
    if (perf !== undefined) {
      const vote = HtpPerfVote.vote(core, perf);
      this.stack.defer(() => vote.release());
      const rpc = `RPC control latency ${perf.rpcControlLatencyUs} us, polling ${perf.rpcPollingTimeUs} us`;
      this.log('info', `QNN perf vote: ${perf.profile}, ${rpc}`);
    }

    if (options.profiling !== undefined) {
      const profiler = QnnProfiler.create(core, backend, options.profiling);
      this.profilerOrNull = profiler;
      this.stack.defer(() => profiler.free());
    }

    const htp = { ...DEFAULT_HTP_CONTEXT_SETTINGS, ...options.htp };
    let firstContext: NativePointer | null = null;
    for (const [index, path] of options.ctxBins.entries()) {
      const context = await this.loadContext(path, index, backend, device, htp, firstContext);
      firstContext ??= context;
    }
  }

  private async loadContext(
    path: string,
    index: number,
    backend: NativePointer,
    device: NativePointer | null,
    htp: HtpContextSettings,
    firstContext: NativePointer | null,
  ): Promise<NativePointer> {
    const { core } = this;
    const binary = htp.useMmap ? NativeContextBinary.map(path) : await NativeContextBinary.read(path);
    let context: NativePointer;
    let info: QnnBinaryInfo;
    const configArena = new NativeArena();
    try {
      info = readBinaryInfo(this.system, binary.pointer, binary.byteLength, core.provider.apiVersion.minor, path);
      checkGraphNamesUnique(info, path, (name) => {
        const other = this.graphs.get(name);
        return other === undefined ? undefined : this.ctxBins[other.ctxBin];
      });
      const configs = encodeContextConfigs(configArena, htp, index, firstContext);
      const contextOut = out();
      const result = await callAsync(
        `contextCreateFromBinary("${path}")`,
        core.fn('contextCreateFromBinary'),
        backend,
        device,
        configs,
        binary.pointer,
        binary.byteLength,
        contextOut,
        this.profiler?.handle ?? null,
      );
      core.check(`contextCreateFromBinary("${path}")`, result);
      context = contextOut[0] as NativePointer;
    } catch (error) {
      binary.free();
      throw error;
    } finally {
      configArena.free();
    }
    // A persistent binary must stay readable until contextFree (deferred first, so freed after it).
    if (htp.enableGraphSwitching) this.stack.defer(() => binary.free());
    else binary.free();
    this.stack.defer(() => core.check(`contextFree("${path}")`, core.fn('contextFree')(context, null)));
    const memHandles = this.pool.shared === null ? null : new ContextMemHandles(core, context, path);
    if (memHandles !== null) this.stack.defer(() => memHandles.deregisterAll());
    this.profiler?.collect('load', path);
    this.binaries.push(info);
    for (const graphInfo of info.graphs) {
      const graphOut = out();
      core.check(`graphRetrieve("${graphInfo.name}")`, core.fn('graphRetrieve')(context, graphInfo.name, graphOut));
      const graph = new QnnGraph(this, graphOut[0] as NativePointer, graphInfo, index, memHandles, this.arena, path);
      this.graphs.set(graphInfo.name, graph);
    }
    this.log('info', `context binary "${path}": ${info.graphs.length} graph(s) (${info.graphs.map((g) => g.name).join(', ')})`);
    return context;
  }
}
