/** The `QnnHtp` GraphBackend: the runtime's graphs executed through the QNN binding. */
import { InvalidArgumentError } from '../../errors.js';
import type { GraphSpec } from '../../graphs/spec.js';
import type { QnnHardwareDevice } from '../../qnn/binding/platform.js';
import type { QnnGraph } from '../../qnn/binding/graph.js';
import type { QnnProfileRecord } from '../../qnn/binding/profile.js';
import { QnnSession } from '../../qnn/binding/session.js';
import { logLevelAdmits, stderrLogSink } from '../../qnn/binding/log.js';
import type { GraphBackend } from '../backend.js';
import { readHtpExtensions } from './extensions.js';
import { toGraphSpec } from './graph-specs.js';
import { checkQnnBackendOptions, resolveQnnBackendOptions, type QnnBackendOptions } from './options.js';
import { openProvider } from './provider.js';

/** A GraphBackend over a QNN session, plus what only QNN reports (devices, profile events). */
export interface QnnGraphBackend extends GraphBackend {
  /** Hardware devices the backend reports (SoC model, Hexagon arch, VTCM), null when none. */
  readonly devices: readonly QnnHardwareDevice[] | null;
  /** QnnProfile records since the last call (with the `profiling` option; else empty). */
  takeProfile(): QnnProfileRecord[];
}

class QnnHtpBackend implements QnnGraphBackend {
  readonly type = 'QnnHtp';
  readonly graphs: readonly GraphSpec[];

  constructor(
    private readonly session: QnnSession,
    private readonly release: () => void,
  ) {
    this.graphs = [...session.graphs.values()].map((graph) => toGraphSpec(graph, graph.ctxBin));
  }

  /**
   * QNN's `graphExecute` runs on Koffi's worker pool in the default `async` mode, on the JS thread in
   * `sync`; in `queued` mode graphExecuteAsync only enqueues (QNN's threads run the graphs).
   */
  get executesOffThread(): boolean {
    return this.session.executeMode !== 'sync';
  }

  /**
   * `queued` mode: graphExecuteAsync runs a context's executions in submission order. Not with
   * profiling: the one profile handle holds only the last execution's events, so each execution
   * must end (and its events be read) before the next is submitted.
   */
  get queuesExecutions(): boolean {
    return this.session.executeMode === 'queued' && this.session.profiler === null;
  }

  /**
   * A graph's context (its ctx-bin): QNN runs a context's queued executions in submission order and
   * documents no order across contexts (docs/qnn-abi.md#queued-execution).
   */
  executionQueue(graph: string): number {
    return this.session.graph(graph, 'executionQueue').ctxBin;
  }

  get devices(): readonly QnnHardwareDevice[] | null {
    return this.session.devices;
  }

  allocate(byteLength: number): Uint8Array {
    return this.session.allocate(byteLength);
  }

  bind(graph: string, buffers: ReadonlyMap<string, Uint8Array>): void {
    const qnnGraph = this.session.graph(graph, 'bind');
    const pick = ({ name }: { name: string }): Uint8Array => {
      const buffer = buffers.get(name);
      if (buffer === undefined) throw new InvalidArgumentError(`bind "${graph}": no buffer for tensor "${name}"`);
      return buffer;
    };
    qnnGraph.bind(qnnGraph.inputs.map(pick), qnnGraph.outputs.map(pick));
  }

  /** Not `async`: the graph's own promise, without another to settle after it (a decode step's path). */
  execute(graph: string): Promise<void> {
    let qnnGraph: QnnGraph;
    try {
      qnnGraph = this.session.graph(graph, 'execute');
    } catch (error) {
      return Promise.reject(error);
    }
    return qnnGraph.execute();
  }

  /** Queued mode: QNN's graphExecuteAsync of `graph`, made when the queue sees `previous`'s end. */
  executeAfter(graph: string, previous: string): Promise<void> {
    let qnnGraph: QnnGraph;
    let after: QnnGraph;
    try {
      qnnGraph = this.session.graph(graph, 'executeAfter');
      after = this.session.graph(previous, 'executeAfter');
    } catch (error) {
      return Promise.reject(error);
    }
    return qnnGraph.executeAfter(after);
  }

  takeProfile(): QnnProfileRecord[] {
    return this.session.takeProfile();
  }

  async dispose(): Promise<void> {
    try {
      await this.session.dispose();
    } finally {
      this.release();
    }
  }
}

/**
 * Opens context binaries (graph `ctxBin` = index in `ctxBinPaths`) on a QNN backend: the HTP
 * libraries on a device, or the simulated provider given in option `simulated` (selected by
 * `provider: 'simulated'`, `GENIE_TS_QNN_PROVIDER=simulated` or the instance itself). With
 * `ownsSimulated` the provider is disposed exactly once: on dispose, or here when opening fails.
 */
export async function openQnnBackend(ctxBinPaths: readonly string[], options: QnnBackendOptions = {}): Promise<QnnGraphBackend> {
  let owned = options.ownsSimulated === true ? options.simulated : undefined;
  const release = (): void => {
    const provider = owned;
    owned = undefined;
    provider?.dispose();
  };
  let session: QnnSession;
  try {
    session = await openSession(ctxBinPaths, options);
  } catch (error) {
    release();
    throw error;
  }
  return new QnnHtpBackend(session, release);
}

async function openSession(ctxBinPaths: readonly string[], options: QnnBackendOptions): Promise<QnnSession> {
  if (ctxBinPaths.length === 0) throw new InvalidArgumentError('openQnnBackend: ctxBinPaths is empty');
  // The options' kinds first: the extensions file is read before the options are resolved.
  checkQnnBackendOptions(options);
  const extensions = options.extensionsPath ? await readHtpExtensions(options.extensionsPath) : {};
  const resolved = resolveQnnBackendOptions(options, extensions);
  const sink = options.onLog ?? stderrLogSink;
  const warn = (message: string): void => {
    if (options.logLevel !== undefined && logLevelAdmits(options.logLevel, 'warn')) sink('warn', message);
  };
  if (options.perfProfile === undefined && extensions.perfProfile === undefined && extensions.rpcControlLatencyUs !== undefined) {
    warn(`HTP extensions file "${options.extensionsPath}": rpc_control_latency is ignored without a perf_profile`);
  }
  const provider = openProvider(options, resolved, warn);
  return QnnSession.open({
    source: provider.source,
    ctxBins: ctxBinPaths,
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel, logSink: sink }),
    htp: resolved.htp,
    ...(resolved.perf === undefined ? {} : { perf: resolved.perf }),
    ...(options.profiling === undefined ? {} : { profiling: options.profiling }),
    ...(provider.sharedMemory === undefined ? {} : { sharedMemory: provider.sharedMemory }),
    ...(options.executeMode === undefined ? {} : { executeMode: options.executeMode }),
    ...(options.poll === undefined ? {} : { poll: options.poll }),
  });
}
