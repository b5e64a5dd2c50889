/**
 * The shared core of one simulated provider: resolved options, handle sequence, error messages,
 * logs, call counts, and the native callbacks it registered. `serve` turns a JS handler into a
 * native QNN function: the handler throws `QnnCallFailure` to fail, and any other exception (a
 * simulator bug) becomes COMMON_ERROR_GENERAL instead of Koffi's silent 0 (= QNN_SUCCESS).
 */
import koffi from 'koffi';
import type { TypeObject } from 'koffi';
import { QnnLogLevel } from '../qnn/enums.js';
import { Code, ErrorMessages, QnnCallFailure } from './failure.js';
import { HandleSequence, HandleTable } from './handles.js';
import { SimLogs } from './logs.js';
import { NativeArena, type Address } from './native.js';
import type { ResolvedOptions } from './options.js';
import type { SimBackend, SimContext, SimDevice, SimGraph, SimMem } from './records.js';

/** Takes the Koffi-decoded native arguments: bigint | null pointers, numbers, bigints. */
export type Handler = (...args: any[]) => void;

export class Simulator {
  readonly errors = new ErrorMessages();
  readonly sequence = new HandleSequence();
  readonly logs: SimLogs;
  readonly backends: HandleTable<SimBackend>;
  readonly devices: HandleTable<SimDevice>;
  readonly contexts: HandleTable<SimContext>;
  readonly graphs: HandleTable<SimGraph>;
  readonly memHandles: HandleTable<SimMem>;
  /** Memory that lives as long as the provider: interface structs, provider names, build id. */
  readonly arena = new NativeArena();
  private readonly callCounts = new Map<string, number>();
  private readonly callbacks: Address[] = [];
  private readonly disposers: (() => void)[] = [];
  private disposed = false;
  /** The failExecute test hook: from the options, changed by `SimulatedQnn.setFailExecute`. */
  failExecute: { readonly graph: string; readonly code: number } | undefined;

  constructor(readonly options: ResolvedOptions) {
    this.failExecute = options.failExecute;
    this.logs = new SimLogs(this.sequence);
    this.backends = new HandleTable(this.sequence);
    this.devices = new HandleTable(this.sequence);
    this.contexts = new HandleTable(this.sequence);
    this.graphs = new HandleTable(this.sequence);
    this.memHandles = new HandleTable(this.sequence);
  }

  /** Registers `handler` as a native function returning `Qnn_ErrorHandle_t`; counts calls under `name`. */
  serve(name: string, proto: TypeObject, handler: Handler): Address {
    return this.register(name, proto, (...args: unknown[]): number => {
      try {
        handler(...args);
        return 0;
      } catch (error) {
        return this.failed(name, error);
      }
    });
  }

  /**
   * The error handle of a failure in function `name` (logged): a `QnnCallFailure`'s code, or
   * COMMON_ERROR_GENERAL for any other exception (a simulator bug).
   */
  failed(name: string, error: unknown): number {
    const failure =
      error instanceof QnnCallFailure
        ? error
        : new QnnCallFailure(Code.COMMON_GENERAL, `internal simulator error: ${(error as Error).stack ?? error}`);
    const message = `${name}: ${failure.message}`;
    this.logs.emit(QnnLogLevel.ERROR, message);
    return this.errors.record(failure.code, message);
  }

  /** Registers a native function with its own return convention (e.g. rpcmem); counts calls under `name`. */
  serveRaw(name: string, proto: TypeObject, fn: (...args: never[]) => unknown): Address {
    return this.register(name, proto, fn);
  }

  /** Declares a function name `calls` may be asked about before its first call. */
  declare(name: string): void {
    if (!this.callCounts.has(name)) this.callCounts.set(name, 0);
  }

  calls(name: string): number | undefined {
    return this.callCounts.get(name);
  }

  /** Runs `disposer` (freeing an area's native memory) on `dispose`, in reverse order. */
  onDispose(disposer: () => void): void {
    this.disposers.push(disposer);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const callback of this.callbacks) koffi.unregister(callback);
    this.callbacks.length = 0;
    for (const disposer of this.disposers.reverse()) disposer();
    this.arena.free();
  }

  private register(name: string, proto: TypeObject, fn: (...args: never[]) => unknown): Address {
    this.declare(name);
    const counted = (...args: never[]): unknown => {
      this.callCounts.set(name, this.callCounts.get(name)! + 1);
      return fn(...args);
    };
    const address = koffi.register(counted, koffi.pointer(proto));
    this.callbacks.push(address);
    return address;
  }
}
