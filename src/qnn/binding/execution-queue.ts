/**
 * Queued execution through `graphExecuteAsync` (docs/qnn-abi.md#queued-execution): the call only
 * enqueues the execution, QNN runs a context's executions one after the other in submission order,
 * and calls the notify function from a backend thread when each has ended. One `Qnn_NotifyFn_t` is
 * registered per session; each submission passes a small integer id as `notifyParam`, which picks
 * the promise to settle. Koffi hands a call from a foreign thread to the JS thread through its
 * event loop, so the callback runs on the JS thread and only settles a promise: the awaiting code
 * checks the status. That queue does not keep the event loop alive: a timer is held (ref'd) while
 * any execution is in flight, or Node would exit under a notify still to come.
 */
import koffi from 'koffi';
import { abi } from '../abi.js';
import { qnnErrorCode } from '../errors.js';
import type { NativePointer } from './native.js';

type Status = number | bigint;
const ignore = (): void => undefined;
type Settle = (status: Status) => void;

/** Submits one execution with the given `notifyParam`; returns the submission's own status. */
export type Submit = (notifyParam: number) => Status;

export class ExecutionQueue {
  /** The registered `Qnn_NotifyFn_t` every submission passes. */
  readonly notifyFn: NativePointer;
  /** Id i (from 1: a NULL notifyParam would reach JS as null) settles `pending[i - 1]`. */
  private readonly pending: (Settle | null)[] = [];
  private readonly freeIds: number[] = [];
  private inFlightCount = 0;
  /** Ref'd only while an execution is in flight (it never fires in practice: 2^31 - 1 ms). */
  private readonly keepAlive = setInterval(ignore, 0x7fff_ffff).unref();
  private registered = true;

  constructor() {
    const notify = (param: NativePointer | null, status: Status): void => this.notify(param, status);
    this.notifyFn = koffi.register(notify, koffi.pointer(abi.Qnn_NotifyFn_t));
  }

  /** Executions submitted and not yet notified. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /**
   * Submits with a fresh id: resolves with the status QNN notifies, or at once with the submission's
   * status when QNN refused it (no notify follows a refused submission).
   */
  submit(submit: Submit): Promise<Status> {
    return new Promise((resolve) => {
      const id = this.freeIds.pop() ?? this.pending.push(null);
      // Set before the call: a backend may notify before graphExecuteAsync returns.
      this.pending[id - 1] = resolve;
      if (this.inFlightCount++ === 0) this.keepAlive.ref();
      let status: Status;
      try {
        status = submit(id);
      } catch (error) {
        this.release(id);
        throw error;
      }
      if (qnnErrorCode(status) !== 0) {
        this.release(id);
        resolve(status);
      }
    });
  }

  /** Unregisters the callback; only once no execution is in flight (the session waits for them). Idempotent. */
  dispose(): void {
    if (!this.registered) return;
    this.registered = false;
    clearInterval(this.keepAlive);
    koffi.unregister(this.notifyFn);
  }

  private notify(param: NativePointer | null, status: Status): void {
    const id = param === null ? 0 : Number(param);
    const settle = this.pending[id - 1];
    // An id not in flight cannot come from a submission of this queue: nothing to settle.
    if (settle === undefined || settle === null) return;
    this.release(id);
    settle(status);
  }

  private release(id: number): void {
    this.pending[id - 1] = null;
    this.freeIds.push(id);
    if (--this.inFlightCount === 0) this.keepAlive.unref();
  }
}
