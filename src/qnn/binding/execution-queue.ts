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
 *
 * A submission may follow another one (`submitAfter`): the polled queue submits it the moment it
 * sees that one's end, inside the same JS task, before any promise continuation of that end runs.
 * So a model split into several contexts (QNN documents no order across contexts) goes from split
 * to split without a turn of the JS thread in between. The callback queue submits it in the next
 * macrotask: its notify runs while QNN's thread waits, and nothing documents that QNN may be
 * called from inside its own notify.
 */
import koffi from 'koffi';
import { abi } from '../abi.js';
import { InvalidArgumentError } from '../../errors.js';
import { QnnExecutionNotRunError } from './errors.js';
import { qnnErrorCode } from '../errors.js';
import type { NativePointer } from './native.js';
import { statusStore } from './status-store.js';

type Status = number | bigint;
const ignore = (): void => undefined;
type Settle = (status: Status) => void;
type Reject = (error: unknown) => void;

/** Submits one execution with the given `notifyParam`; returns the submission's own status. */
export type Submit = (notifyParam: number | NativePointer) => Status;

/**
 * What the queue keeps of one graph's executions, kept by the graph: how long they take (ms; NaN:
 * not known yet), for the polled queue's looks, and its latest submission, for `submitAfter`.
 */
export interface GraphExecutions {
  /** The graph's name, for messages. */
  readonly name: string;
  /** From the execution's start (its submission, or the end before it) to its end, as last seen. */
  durationMs: number;
  /**
   * From the start of the queue's busy spell (a submission into an empty queue) to the end of this
   * graph's execution, learned when it ended last in flight: a step's last split measured from the
   * step's first submission, free of how late the ends before it were seen.
   */
  chainMs: number;
  /** The queue's slot of the graph's latest submission while it waits or runs; -1 once it has ended. */
  latest: number;
  /** The graph's latest submission that has ended failed (a QNN error, a refusal, a throw) or was not run. */
  failed: boolean;
}

/** A graph's record before its first execution. */
export function newGraphExecutions(name: string): GraphExecutions {
  return { name, durationMs: Number.NaN, chainMs: Number.NaN, latest: -1, failed: false };
}

export interface ExecutionQueue {
  /** The `Qnn_NotifyFn_t` every submission passes. */
  readonly notifyFn: NativePointer;
  /** Executions submitted and not yet ended (not those still waiting to follow another). */
  readonly inFlight: number;
  /**
   * Submits: resolves with the status QNN reports at the end, or at once with the submission's
   * status when QNN refused it (no notify follows a refused submission).
   */
  submit(submit: Submit, graph: GraphExecutions): Promise<Status>;
  /**
   * Submits once `after`'s latest submission has ended with success: the moment the queue sees that
   * end, before the promise continuations of that end run; at once if it has already. Settles as
   * `submit` does; rejects with `QnnExecutionNotRunError`, never submitting, when that one failed or
   * was not run. A submission has at most one follower (InvalidArgumentError for a second).
   */
  submitAfter(submit: Submit, graph: GraphExecutions, after: GraphExecutions): Promise<Status>;
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

/** Submissions one queue holds at once, running or waiting to follow another (a step submits one per split). */
export const QUEUE_CAPACITY = 256;

/** Whether a status is QNN_SUCCESS: its low 16 bits are 0 (the higher bits are QNN's own tracking). */
function succeeded(status: Status): boolean {
  return typeof status === 'bigint' ? (status & 0xffffn) === 0n : Number.isSafeInteger(status) && status >= 0 && status % 0x10000 === 0;
}

/**
 * A uint64 status as Koffi may hand it over: a negative bigint for bit 63 set, a number beyond
 * 2^53; as a non-negative number below 2^53, else a bigint in [0, 2^64).
 */
function uint64Status(status: Status): Status {
  if (typeof status === 'number') return Number.isSafeInteger(status) && status >= 0 ? status : BigInt.asUintN(64, BigInt(Math.trunc(status)));
  return BigInt.asUintN(64, status);
}

/**
 * The submissions of a queue in slots: each one's settle functions and graph record, and the
 * submission following it (`submitAfter`), which waits in its own slot until then. Subclasses say
 * how a slot's end reaches JS (`paramOf`, `launched`) and call `finish` when it has.
 */
abstract class SlotQueue implements ExecutionQueue {
  abstract readonly notifyFn: NativePointer;
  abstract readonly inFlight: number;
  abstract dispose(): void;
  private readonly settles: (Settle | null)[] = new Array<Settle | null>(QUEUE_CAPACITY).fill(null);
  private readonly rejects: (Reject | null)[] = new Array<Reject | null>(QUEUE_CAPACITY).fill(null);
  protected readonly graphs: (GraphExecutions | null)[] = new Array<GraphExecutions | null>(QUEUE_CAPACITY).fill(null);
  /** A waiting slot's submit function, until the slot it follows has ended. */
  private readonly waiting: (Submit | null)[] = new Array<Submit | null>(QUEUE_CAPACITY).fill(null);
  /** The slot following each slot (-1: none). */
  private readonly follower = new Int32Array(QUEUE_CAPACITY).fill(-1);
  private readonly free = new Int32Array(QUEUE_CAPACITY);
  private nFree = QUEUE_CAPACITY;

  constructor() {
    for (let i = 0; i < QUEUE_CAPACITY; i++) this.free[i] = QUEUE_CAPACITY - 1 - i;
  }

  submit(submit: Submit, graph: GraphExecutions): Promise<Status> {
    return new Promise((resolve, reject) => {
      const slot = this.take(graph, resolve, reject);
      this.launch(slot, submit, false);
    });
  }

  submitAfter(submit: Submit, graph: GraphExecutions, after: GraphExecutions): Promise<Status> {
    return new Promise((resolve, reject) => {
      const leader = after.latest;
      if (leader >= 0 && this.follower[leader] >= 0) {
        throw new InvalidArgumentError(`graph "${after.name}"'s latest execution already has a follower; "${graph.name}" cannot follow it too`);
      }
      const slot = this.take(graph, resolve, reject);
      if (leader >= 0) {
        this.waiting[slot] = submit;
        this.follower[leader] = slot;
      } else if (after.failed) {
        this.notRun(slot, after);
      } else {
        this.launch(slot, submit, false);
      }
    });
  }

  /** Drops every submission not yet made (its leader can end no more): each rejects as not run. */
  protected dropWaiting(): void {
    for (let slot = 0; slot < QUEUE_CAPACITY; slot++) {
      if (this.waiting[slot] === null) continue;
      this.waiting[slot] = null;
      const graph = this.graphs[slot]!;
      this.end(slot, false, 0, true, new QnnExecutionNotRunError(`graph "${graph.name}" was not executed: the queue was disposed while it waited to follow another execution`));
    }
  }

  /** The notifyParam that identifies `slot` to the notify function. */
  protected abstract paramOf(slot: number): number | NativePointer;
  /** Before `slot`'s submission: a backend may notify before graphExecuteAsync returns. */
  protected abstract prepare(slot: number): void;
  /** `slot`'s submission was refused or threw: undoes `prepare` (no notify follows). */
  protected abstract unprepare(slot: number): void;
  /** `slot` was submitted; `following`: the moment the submission it follows was seen ending. */
  protected abstract launched(slot: number, following: boolean): void;

  /** `slot`'s execution ended with `status` (QNN's uint64 error handle): settles it, then its follower. */
  protected finish(slot: number, status: Status): void {
    this.end(slot, succeeded(status), status, false, undefined);
  }

  /**
   * The follower `slot`'s leader ended with success: submits it (`launchWaiting`), at once here; a
   * queue whose ends arrive while the backend's thread waits for JS defers it.
   */
  protected followerReady(slot: number): void {
    this.launchWaiting(slot);
  }

  /** Submits the waiting `slot` (nothing when it was dropped meanwhile). */
  protected launchWaiting(slot: number): void {
    const submit = this.waiting[slot];
    if (submit === null) return;
    this.waiting[slot] = null;
    this.launch(slot, submit, true);
  }

  /** Settles `slot` (resolved with `status`, or rejected with `error` when `threw`), then starts or drops its follower. */
  private end(slot: number, ok: boolean, status: Status, threw: boolean, error: unknown): void {
    const graph = this.graphs[slot]!;
    if (graph.latest === slot) {
      graph.latest = -1;
      graph.failed = !ok;
    }
    const resolve = this.settles[slot]!;
    const reject = this.rejects[slot]!;
    const next = this.release(slot);
    // The follower first: the accelerator waits for it, nothing waits for the settling.
    if (next >= 0) {
      if (ok) this.followerReady(next);
      else this.notRun(next, graph);
    }
    if (threw) reject(error);
    else resolve(status);
  }

  private take(graph: GraphExecutions, resolve: Settle, reject: Reject): number {
    if (this.nFree === 0) {
      throw new InvalidArgumentError(
        `graphExecuteAsync: ${QUEUE_CAPACITY} executions are already in flight or waiting to follow one; await some before submitting more`,
      );
    }
    const slot = this.free[--this.nFree];
    this.settles[slot] = resolve;
    this.rejects[slot] = reject;
    this.graphs[slot] = graph;
    graph.latest = slot;
    return slot;
  }

  /** Frees `slot`; returns its follower (-1: none). */
  private release(slot: number): number {
    const next = this.follower[slot];
    this.follower[slot] = -1;
    this.settles[slot] = null;
    this.rejects[slot] = null;
    this.graphs[slot] = null;
    this.free[this.nFree++] = slot;
    return next;
  }

  private launch(slot: number, submit: Submit, following: boolean): void {
    this.prepare(slot);
    let status: Status;
    try {
      status = submit(this.paramOf(slot));
    } catch (error) {
      this.unprepare(slot);
      this.end(slot, false, 0, true, error);
      return;
    }
    // Ended already: a backend that notified before returning, on this thread (a Koffi callback).
    if (this.graphs[slot] === null) return;
    if (succeeded(status)) {
      this.launched(slot, following);
    } else {
      this.unprepare(slot);
      this.finish(slot, status);
    }
  }

  /** `slot` waited to follow `after`'s execution, which failed or was not run: it rejects, and so does its follower. */
  private notRun(slot: number, after: GraphExecutions): void {
    this.waiting[slot] = null;
    const graph = this.graphs[slot]!;
    const error = new QnnExecutionNotRunError(`graph "${graph.name}" was not executed: graph "${after.name}", which it was submitted to follow, failed or was not executed`);
    this.end(slot, false, 0, true, error);
  }
}

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

class PolledExecutionQueue extends SlotQueue {
  readonly notifyFn: NativePointer;
  private readonly poll: boolean;
  /** Slot i's status: two int32 words (low, high) at `params[i]`, both PENDING until stored. */
  private readonly memory: NativePointer;
  private readonly words: Int32Array;
  private readonly params: readonly NativePointer[];
  private readonly submittedAt = new Float64Array(QUEUE_CAPACITY);
  /** When each in-flight execution is expected to end from its duration, and from its chain (NaN: unknown). */
  private readonly expectedEnd = new Float64Array(QUEUE_CAPACITY);
  private readonly chainEnd = new Float64Array(QUEUE_CAPACITY);
  /** Slots in flight, in submission order (the backend's order of execution). */
  private readonly flying = new Int32Array(QUEUE_CAPACITY);
  private nFlying = 0;
  /** `collect`'s ended slots and their statuses' two words, settled once the flying list is compacted. */
  private readonly endedSlots = new Int32Array(QUEUE_CAPACITY);
  private readonly endedLow = new Int32Array(QUEUE_CAPACITY);
  private readonly endedHigh = new Int32Array(QUEUE_CAPACITY);
  /**
   * When the queue's last execution is expected to end, when the last end was seen, and when the
   * queue's busy spell began (ms, performance.now).
   */
  private queueEnd = 0;
  private lastEnd = 0;
  private busySince = 0;
  /** When the queue last looked at the status words (an execution seen ended at a look ended after the one before it). */
  private lastLook = 0;
  /** A look is scheduled; it comes from a timer (the queue slept). */
  private scheduled = false;
  private sleeping = false;
  private disposed = false;
  private readonly tick = (): void => this.pollSlice();

  constructor(store: NativePointer, poll: boolean) {
    super();
    this.notifyFn = store;
    this.poll = poll;
    this.memory = koffi.alloc('uint64_t', QUEUE_CAPACITY) as NativePointer;
    this.words = new Int32Array(koffi.view(this.memory, QUEUE_CAPACITY * 8));
    this.params = Array.from({ length: QUEUE_CAPACITY }, (_, i) => this.memory + BigInt(8 * i));
  }

  get inFlight(): number {
    return this.nFlying;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dropWaiting();
    koffi.free(this.memory);
  }

  protected paramOf(slot: number): NativePointer {
    return this.params[slot];
  }

  protected prepare(slot: number): void {
    Atomics.store(this.words, 2 * slot, PENDING);
    Atomics.store(this.words, 2 * slot + 1, PENDING);
  }

  protected unprepare(): void {}

  protected launched(slot: number, following: boolean): void {
    const timing = this.graphs[slot]!;
    const now = performance.now();
    // A follower continues the busy spell of the submission it followed (ended this instant).
    if (this.nFlying === 0 && !following) this.busySince = now;
    // Into an empty queue it starts now, whatever the last execution's expected end was.
    const start = this.nFlying === 0 ? now : Math.max(now, this.queueEnd);
    this.submittedAt[slot] = now;
    this.expectedEnd[slot] = start + timing.durationMs;
    this.chainEnd[slot] = this.busySince + timing.chainMs;
    this.queueEnd = Number.isNaN(timing.durationMs) ? now : start + timing.durationMs;
    this.flying[this.nFlying++] = slot;
    this.schedule();
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
      const ended = this.collect(slept);
      slept = false;
      if (ended > 0 || this.nFlying === 0) break;
      const now = performance.now();
      if (now >= until || !this.pollingDue(now)) break;
    }
    this.schedule();
  }

  /**
   * Settles every slot whose status was stored (`slept`: this is the first look after a timer), once
   * they are out of the flying list (a follower submitted as one settles joins the list). Returns how many.
   */
  private collect(slept: boolean): number {
    const previousLook = this.lastLook;
    this.lastLook = performance.now();
    const words = this.words;
    const last = this.flying[this.nFlying - 1];
    let kept = 0;
    let ended = 0;
    for (let i = 0; i < this.nFlying; i++) {
      const slot = this.flying[i];
      if (Atomics.load(words, 2 * slot + 1) === PENDING && Atomics.load(words, 2 * slot) === PENDING) {
        this.flying[kept++] = slot;
        continue;
      }
      // One 64-bit store wrote both words: once either shows it, both do (read again: the first
      // read may have come before the store).
      this.endedSlots[ended] = slot;
      this.endedLow[ended] = Atomics.load(words, 2 * slot);
      this.endedHigh[ended++] = Atomics.load(words, 2 * slot + 1);
    }
    this.nFlying = kept;
    for (let i = 0; i < ended; i++) {
      const slot = this.endedSlots[i];
      const low = this.endedLow[i] >>> 0;
      const high = this.endedHigh[i] >>> 0;
      // A number while it is exact (QNN's success and error codes); the whole uint64 otherwise.
      const status = high < 0x200000 ? high * 2 ** 32 + low : (BigInt(high) << 32n) | BigInt(low);
      this.ended(slot, status, slept ? previousLook : Number.NaN, slot === last);
    }
    return ended;
  }

  /**
   * Records `slot`'s end and settles it. `sleptSince`: it was seen at the first look after a timer,
   * and was still running at that earlier look (NaN: seen while polling, so it ended just now).
   */
  private ended(slot: number, status: Status, sleptSince: number, last: boolean): void {
    const now = performance.now();
    const timing = this.graphs[slot]!;
    // The backend runs the queue in order: this execution began at its submission or at the end before it.
    const start = Math.max(this.submittedAt[slot], this.lastEnd);
    // Seen after a sleep, it ended somewhere since the look before: its durations are taken at that
    // look (a lower bound), so the next execution is polled for from early enough to be seen ending
    // and measured exactly. An upper bound would make each later look late again (a graph that got
    // faster took several tokens to be seen in time), and a late timer would feed on itself.
    const endedBy = Number.isNaN(sleptSince) ? now : Math.max(start, sleptSince);
    timing.durationMs = endedBy - start;
    if (last) timing.chainMs = Math.max(endedBy, this.busySince) - this.busySince;
    this.lastEnd = now;
    this.finish(slot, status);
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

class CallbackExecutionQueue extends SlotQueue {
  readonly notifyFn: NativePointer;
  private inFlightCount = 0;
  /** Each slot's execution is in flight (its notify is to come). */
  private readonly flying = new Uint8Array(QUEUE_CAPACITY);
  /** Followers whose leader ended, submitted once the notify call has returned (`flushReady`). */
  private readonly ready = new Int32Array(QUEUE_CAPACITY);
  private nReady = 0;
  private readonly flushReady = (): void => {
    const n = this.nReady;
    this.nReady = 0;
    for (let i = 0; i < n; i++) this.launchWaiting(this.ready[i]);
  };
  /**
   * Koffi's queue does not keep the event loop alive: this timer is ref'd while an execution is in
   * flight (it never fires in practice: 2^31 - 1 ms), or Node would exit under a notify to come.
   */
  private readonly keepAlive = setInterval(ignore, 0x7fff_ffff).unref();
  private registered = true;

  constructor() {
    super();
    const notify = (param: NativePointer | null, status: Status): void => this.notify(param, status);
    this.notifyFn = koffi.register(notify, koffi.pointer(abi.Qnn_NotifyFn_t));
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  dispose(): void {
    if (!this.registered) return;
    this.registered = false;
    this.dropWaiting();
    clearInterval(this.keepAlive);
    koffi.unregister(this.notifyFn);
  }

  /** Slot i is id i + 1: a NULL notifyParam would reach JS as null. */
  protected paramOf(slot: number): number {
    return slot + 1;
  }

  /** In flight from before the call: the notify may come while graphExecuteAsync runs. */
  protected prepare(slot: number): void {
    this.flying[slot] = 1;
    if (this.inFlightCount++ === 0) this.keepAlive.ref();
  }

  protected unprepare(slot: number): void {
    if (this.flying[slot] === 0) return;
    this.flying[slot] = 0;
    if (--this.inFlightCount === 0) this.keepAlive.unref();
  }

  protected launched(): void {}

  /**
   * The notify runs on the JS thread while the backend's thread waits for it: a follower is not
   * submitted from inside it (a call back into QNN from its own notify), but in the next macrotask.
   */
  protected override followerReady(slot: number): void {
    if (this.nReady === 0) setImmediate(this.flushReady);
    this.ready[this.nReady++] = slot;
  }

  private notify(param: NativePointer | null, status: Status): void {
    const slot = param === null ? -1 : Number(param) - 1;
    // An id not in flight cannot come from a submission of this queue: nothing to settle.
    if (!(slot >= 0 && slot < QUEUE_CAPACITY) || this.flying[slot] === 0) return;
    this.unprepare(slot);
    this.finish(slot, uint64Status(status));
  }
}
