/**
 * The execute slots. graphExecute runs the graph in the call. graphExecuteAsync
 * (docs/qnn-abi.md#queued-execution) checks its arguments and enqueues the execution; the provider
 * runs its executions one per macrotask and then calls the caller's notify function with the
 * status, never inside the submitting call. A context's executions run in submission order; QNN
 * documents no order across contexts, and the provider runs the context submitted to last first,
 * so that a caller relying on an order across contexts fails here rather than on a device. A
 * graphExecute while executions are queued first runs them, as QNN's blocks in the same FIFO.
 */
import koffi from 'koffi';
import type { GraphExecution } from './execute.js';
import { Code, fail } from './failure.js';
import { addressOf, hex, NULL, type Address, type PointerArg } from './native.js';
import { NotifyProto } from './protos.js';
import type { Handler, Simulator } from './simulator.js';

interface QueuedExecution {
  readonly context: Address;
  readonly execution: GraphExecution;
  readonly profile: Address;
  readonly start: number;
  readonly notify: (param: PointerArg, status: number) => void;
  readonly param: PointerArg;
}

export class SimExecuteQueue {
  private readonly queue: QueuedExecution[] = [];
  /** Decoded notify functions by address (a caller passes the same one every time). */
  private readonly notifiers = new Map<Address, (param: PointerArg, status: number) => void>();
  private scheduled = false;
  private readonly next = (): void => this.runNext();

  constructor(private readonly sim: Simulator) {}

  /** The graphExecute and graphExecuteAsync slots. */
  handlers(): Record<'graphExecute' | 'graphExecuteAsync', Handler> {
    return {
      graphExecute: (graph: PointerArg, inputs: PointerArg, nIn: number, outputs: PointerArg, nOut: number, profile: PointerArg, signal: PointerArg) => {
        const execution = this.executionOf(graph);
        this.drain();
        execution.execute(addressOf(inputs), nIn, addressOf(outputs), nOut, addressOf(profile), addressOf(signal));
      },
      graphExecuteAsync: (...args: Parameters<SimExecuteQueue['submit']>): void => this.submit(...args),
    };
  }

  /** graphExecuteAsync: checks like graphExecute, then queues the run and its notification. */
  private submit(
    graph: PointerArg,
    inputs: PointerArg,
    numInputs: number,
    outputs: PointerArg,
    numOutputs: number,
    profile: PointerArg,
    signal: PointerArg,
    notifyFn: PointerArg,
    notifyParam: PointerArg,
  ): void {
    const start = performance.now();
    const execution = this.executionOf(graph);
    const fn = addressOf(notifyFn);
    if (fn === NULL) fail(Code.GRAPH_INVALID_ARGUMENT, 'notifyFn is NULL (the simulated provider reports every end)');
    execution.accept(addressOf(inputs), numInputs, addressOf(outputs), numOutputs, addressOf(profile), addressOf(signal));
    let notify = this.notifiers.get(fn);
    if (notify === undefined) {
      notify = koffi.decode(notifyFn, NotifyProto) as (param: PointerArg, status: number) => void;
      this.notifiers.set(fn, notify);
    }
    this.queue.push({ context: execution.context, execution, profile: addressOf(profile), start, notify, param: notifyParam });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.next);
    }
  }

  private executionOf(graph: PointerArg): GraphExecution {
    const record = this.sim.graphs.get(addressOf(graph));
    if (record === undefined) fail(Code.GRAPH_INVALID_HANDLE, `graph ${hex(addressOf(graph))} is not a live graph handle`);
    return record.execution;
  }

  /** Executions of `context`'s graphs queued and not yet run. */
  queuedIn(context: Address): number {
    let count = 0;
    for (const queued of this.queue) if (queued.context === context) count++;
    return count;
  }

  /** Runs every queued execution now (their notifications still follow, each in its own macrotask). */
  drain(): void {
    const pending = this.queue.splice(0);
    for (const queued of pending) {
      const status = this.execute(queued);
      setImmediate(() => queued.notify(queued.param, status));
    }
  }

  private runNext(): void {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    // The oldest execution of the context submitted to last (see the module comment).
    const context = queue[queue.length - 1].context;
    const queued = queue.splice(queue.findIndex((q) => q.context === context), 1)[0];
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(this.next);
    }
    queued.notify(queued.param, this.execute(queued));
  }

  /** Runs one execution; its status (0, or the error handle of its failure, logged as a call's would be). */
  private execute({ execution, profile, start }: QueuedExecution): number {
    try {
      execution.run(profile, start);
      return 0;
    } catch (error) {
      return this.sim.failed('graphExecuteAsync', error);
    }
  }
}
