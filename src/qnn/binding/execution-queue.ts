/**
 * Queued execution through `graphExecuteAsync` (docs/qnn-abi.md#queued-execution): the call only
 * enqueues the execution, QNN runs a context's executions one after the other in submission order,
 * and calls the notify function from a backend thread when each has ended. Each submission's
 * promise settles with the status QNN reports (the awaiting code checks it).
 *
 * Two ways the end reaches the JS thread:
 * - `PolledExecutionQueue` (where ./status-store.ts has a native store function): the notify
 *   function stores the status in a word of native memory (`notifyParam` = its address) and
 *   returns; the JS thread polls the words. The backend thread never waits for JS, and the end
 *   takes no thread wake-up to reach JS. Polling runs in macrotasks of at most SLICE_MS, so the
 *   event loop stays free. With `poll` (Genie's QnnHtp `poll`: spin instead of sleeping) the
 *   polling never sleeps while an execution is in flight; without it the queue sleeps (timers)
 *   until shortly before the execution's expected end (the graph's last duration) and polls from
 *   there, so a decode token costs the host a millisecond or two of polling, not the whole token.
 * - `CallbackExecutionQueue` (the fallback): one Koffi callback per session as the notify
 *   function; Koffi hands a call from a foreign thread to the JS thread through the event loop,
 *   and the backend thread waits until JS has run it. `notifyParam` is a small id.
 */
import koffi from 'koffi';
import { abi } from '../abi.js';
import { InvalidArgumentError } from '../../errors.js';
import { qnnErrorCode } from '../errors.js';
import type { NativePointer } from './native.js';
import { statusStore } from './status-store.js';

type Status = number | bigint;
const ignore = (): void => undefined;
type Settle = (status: Status) => void;

/** Submits one execution with the given `notifyParam`; returns the submission's own status. */
export type Submit = (notifyParam: number | NativePointer) => Status;

/** What the queue learns of one graph's executions, kept by the graph (ms; NaN: not known yet). */
export interface ExecutionTiming {
  /** From the execution's start (its submission, or the end before it) to its end, as last seen. */
  durationMs: number;
  /**
   * From the start of the queue's busy spell (a submission into an empty queue) to the end of this
   * graph's execution, learned when it ended last in flight: a step's last split measured from the
   * step's first submission, free of how late the ends before it were seen.
   */
  chainMs: number;
}

/** A graph's timing before its first execution. */
export function newExecutionTiming(): ExecutionTiming {
  return { durationMs: Number.NaN, chainMs: Number.NaN };
}

export interface ExecutionQueue {
  /** The `Qnn_NotifyFn_t` every submission passes. */
  readonly notifyFn: NativePointer;
  /** Executions submitted and not yet ended. */
  readonly inFlight: number;
  /**
   * Submits: resolves with the status QNN reports at the end, or at once with the submission's
   * status when QNN refused it (no notify follows a refused submission).
   */
  submit(submit: Submit, timing: ExecutionTiming): Promise<Status>;
  /** Releases the notify function (and its memory); only once the backend can notify no more. Idempotent. */
  dispose(): void;
}

export interface ExecutionQueueOptions {
  /** Poll throughout each execution instead of sleeping until shortly before its expected end. */
  readonly poll: boolean;
  /** `auto` (default): polled where a native store function exists, else the Koffi callback. */
  readonly completion?: 'auto' | 'polled' | 'callback';
}

/** The queue `options` ask for; `polled` where no store function exists throws, naming the reason. */
export function createExecutionQueue(options: ExecutionQueueOptions): ExecutionQueue {
  const completion = options.completion ?? 'auto';
  if (completion === 'callback') return new CallbackExecutionQueue();
  const store = statusStore();
  if (store.fn !== undefined) return new PolledExecutionQueue(store.fn, options.poll);
  if (completion === 'polled') throw new InvalidArgumentError(`polled completions are not available: ${store.reason}`);
  return new CallbackExecutionQueue();
}

/** Executions one polled queue can have in flight (a step submits one per split). */
export const POLLED_CAPACITY = 256;
/** Longest synchronous polling run before the event loop gets a turn. */
const SLICE_MS = 0.25;
/** Polling starts this long before an execution's expected end (a timer can fire a millisecond late). */
const EARLY_MS = 1.5;
/** The halving looks before the last execution's early start stop at this interval. */
const HALVING_MIN_MS = 1;
/** Without an expected end (a graph's first execution), the queue looks this often. */
const UNKNOWN_PERIOD_MS = 1;
/** The status word's value before the notify function stores one (QNN statuses never have it). */
const PENDING = -1;

class PolledExecutionQueue implements ExecutionQueue {
  readonly notifyFn: NativePointer;
  private readonly poll: boolean;
  /** Slot i's status: two int32 words (low, high) at `params[i]`, both PENDING until stored. */
  private readonly memory: NativePointer;
  private readonly words: Int32Array;
  private readonly params: readonly NativePointer[];
  private readonly settles: (Settle | null)[] = new Array<Settle | null>(POLLED_CAPACITY).fill(null);
  private readonly timings: (ExecutionTiming | null)[] = new Array<ExecutionTiming | null>(POLLED_CAPACITY).fill(null);
  private readonly submittedAt = new Float64Array(POLLED_CAPACITY);
  /** When each in-flight execution is expected to end from its duration, and from its chain (NaN: unknown). */
  private readonly expectedEnd = new Float64Array(POLLED_CAPACITY);
  private readonly chainEnd = new Float64Array(POLLED_CAPACITY);
  private readonly free = new Int32Array(POLLED_CAPACITY);
  private nFree = POLLED_CAPACITY;
  /** Slots in flight, in submission order (the backend's order of execution). */
  private readonly flying = new Int32Array(POLLED_CAPACITY);
  private nFlying = 0;
  /**
   * When the queue's last execution is expected to end, when the last end was seen, and when the
   * queue's busy spell began (ms, performance.now).
   */
  private queueEnd = 0;
  private lastEnd = 0;
  private busySince = 0;
  /** A look is scheduled; it comes from a timer (the queue slept). */
  private scheduled = false;
  private sleeping = false;
  private disposed = false;
  private readonly tick = (): void => this.pollSlice();

  constructor(store: NativePointer, poll: boolean) {
    this.notifyFn = store;
    this.poll = poll;
    this.memory = koffi.alloc('uint64_t', POLLED_CAPACITY) as NativePointer;
    this.words = new Int32Array(koffi.view(this.memory, POLLED_CAPACITY * 8));
    this.params = Array.from({ length: POLLED_CAPACITY }, (_, i) => this.memory + BigInt(8 * i));
    for (let i = 0; i < POLLED_CAPACITY; i++) this.free[i] = POLLED_CAPACITY - 1 - i;
  }

  get inFlight(): number {
    return this.nFlying;
  }

  submit(submit: Submit, timing: ExecutionTiming): Promise<Status> {
    return new Promise((resolve) => {
      if (this.nFree === 0) {
        throw new InvalidArgumentError(`graphExecuteAsync: ${POLLED_CAPACITY} executions are already in flight; await some before submitting more`);
      }
      const slot = this.free[--this.nFree];
      // Set before the call: a backend may notify before graphExecuteAsync returns.
      Atomics.store(this.words, 2 * slot, PENDING);
      Atomics.store(this.words, 2 * slot + 1, PENDING);
      let status: Status;
      try {
        status = submit(this.params[slot]);
      } catch (error) {
        this.free[this.nFree++] = slot;
        throw error;
      }
      if (qnnErrorCode(status) !== 0) {
        this.free[this.nFree++] = slot;
        resolve(status);
        return;
      }
      const now = performance.now();
      if (this.nFlying === 0) this.busySince = now;
      // Into an empty queue it starts now, whatever the last execution's expected end was.
      const start = this.nFlying === 0 ? now : Math.max(now, this.queueEnd);
      this.settles[slot] = resolve;
      this.timings[slot] = timing;
      this.submittedAt[slot] = now;
      this.expectedEnd[slot] = start + timing.durationMs;
      this.chainEnd[slot] = this.busySince + timing.chainMs;
      this.queueEnd = Number.isNaN(timing.durationMs) ? now : start + timing.durationMs;
      this.flying[this.nFlying++] = slot;
      this.schedule();
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    koffi.free(this.memory);
  }

  /**
   * Polls while polling is due, for at most SLICE_MS, and only until something ends: the awaiting
   * code runs (as microtasks) once this macrotask returns. Then schedules the next look.
   */
  private pollSlice(): void {
    let slept = this.sleeping;
    this.scheduled = false;
    this.sleeping = false;
    if (this.disposed) return;
    const until = performance.now() + SLICE_MS;
    for (;;) {
      const before = this.nFlying;
      this.collect(slept);
      slept = false;
      if (this.nFlying < before || this.nFlying === 0) break;
      const now = performance.now();
      if (now >= until || !this.pollingDue(now)) break;
    }
    this.schedule();
  }

  /** Settles every slot whose status was stored; `slept`: this is the first look after a timer. */
  private collect(slept: boolean): void {
    const words = this.words;
    const last = this.flying[this.nFlying - 1];
    let kept = 0;
    for (let i = 0; i < this.nFlying; i++) {
      const slot = this.flying[i];
      if (Atomics.load(words, 2 * slot + 1) === PENDING && Atomics.load(words, 2 * slot) === PENDING) {
        this.flying[kept++] = slot;
        continue;
      }
      // One 64-bit store wrote both words: once either shows it, both do (read again: the first
      // read may have come before the store).
      const status = Atomics.load(words, 2 * slot + 1) * 2 ** 32 + (Atomics.load(words, 2 * slot) >>> 0);
      this.ended(slot, status, slept, slot === last);
    }
    this.nFlying = kept;
  }

  private ended(slot: number, status: number, slept: boolean, last: boolean): void {
    const now = performance.now();
    const timing = this.timings[slot]!;
    // The backend runs the queue in order: this execution began at its submission or at the end before it.
    timing.durationMs = now - Math.max(this.submittedAt[slot], this.lastEnd);
    if (last) {
      // Seen at the first look after a timer, it may have ended long before: only an upper bound,
      // so the next sleep is made shorter instead (a late timer would otherwise feed on itself).
      const chain = now - this.busySince;
      timing.chainMs = slept && !Number.isNaN(timing.chainMs) ? Math.min(chain, 0.8 * timing.chainMs) : chain;
    }
    this.lastEnd = now;
    const settle = this.settles[slot]!;
    this.settles[slot] = null;
    this.timings[slot] = null;
    this.free[this.nFree++] = slot;
    settle(status);
  }

  /** Polling is due: `poll`, or the last execution in flight is within EARLY_MS of its expected end. */
  private pollingDue(now: number): boolean {
    if (this.poll) return true;
    const end = this.lastExpectedEnd();
    return !Number.isNaN(end) && end - EARLY_MS <= now;
  }

  /** The last in-flight execution's expected end: from its chain where known, else from its duration. */
  private lastExpectedEnd(): number {
    const slot = this.flying[this.nFlying - 1];
    const chain = this.chainEnd[slot];
    return Number.isNaN(chain) ? this.expectedEnd[slot] : chain;
  }

  /**
   * When to look next. Only the last execution in flight gets the early start: when it ends the
   * backend has nothing left to run, so the host's reaction is the accelerator's idle time; the
   * looks before it halve the time left (an execution that ends well before its expected end is
   * seen within half its duration). An earlier one is looked at when it is expected to end (its
   * caller's work overlaps the later executions, so a late look costs nothing). An unknown end:
   * every UNKNOWN_PERIOD_MS.
   */
  private nextLook(now: number): number {
    let look = Infinity;
    const last = this.nFlying - 1;
    for (let i = 0; i <= last; i++) {
      const end = i === last ? this.lastExpectedEnd() : this.expectedEnd[this.flying[i]];
      let at = end;
      if (Number.isNaN(end)) at = now + UNKNOWN_PERIOD_MS;
      else if (i === last) at = end - EARLY_MS - now > 2 * HALVING_MIN_MS ? now + (end - EARLY_MS - now) / 2 : end - EARLY_MS;
      if (at < look) look = at;
    }
    return look;
  }

  /** The next look: in the next macrotask while polling is due, else by a timer (at least 1 ms on). */
  private schedule(): void {
    if (this.scheduled || this.nFlying === 0) return;
    this.scheduled = true;
    const now = performance.now();
    if (this.pollingDue(now)) {
      setImmediate(this.tick);
    } else {
      this.sleeping = true;
      setTimeout(this.tick, Math.max(1, Math.floor(this.nextLook(now) - now)));
    }
  }

}

class CallbackExecutionQueue implements ExecutionQueue {
  readonly notifyFn: NativePointer;
  /** Id i (from 1: a NULL notifyParam would reach JS as null) settles `pending[i - 1]`. */
  private readonly pending: (Settle | null)[] = [];
  private readonly freeIds: number[] = [];
  private inFlightCount = 0;
  /**
   * Koffi's queue does not keep the event loop alive: this timer is ref'd while an execution is in
   * flight (it never fires in practice: 2^31 - 1 ms), or Node would exit under a notify to come.
   */
  private readonly keepAlive = setInterval(ignore, 0x7fff_ffff).unref();
  private registered = true;

  constructor() {
    const notify = (param: NativePointer | null, status: Status): void => this.notify(param, status);
    this.notifyFn = koffi.register(notify, koffi.pointer(abi.Qnn_NotifyFn_t));
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

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
