/**
 * Worker threads for the Reference executor's matrix products. `linear` shares the outputs of one
 * product between the calling thread and the workers (ranges of 4 outputs), on arrays backed by
 * SharedArrayBuffers, and joins them with Atomics before it returns: `execute` stays synchronous
 * on the JS thread (the engine yields to the event loop between steps, as for any Reference step),
 * and every output is still one thread's in-order sum, so results do not depend on the thread count.
 *
 * Threads: `GENIE_TS_REFERENCE_THREADS` (1 = none), default the machine's available parallelism;
 * each file-backed Reference backend has its pool, terminated at dispose. The workers run the source of kernels.ts's `linearRange` and its tile kernels (an eval'd
 * script, so the same code runs from TypeScript sources and from dist/; started without the parent's
 * `execArgv`, whose `--input-type` or loaders would change how it is read); they are unref'd, so they
 * never keep a process alive, and they wait in Atomics.wait, using no CPU, between products.
 *
 * The calling thread blocks while the workers compute, so it cannot hear a worker's events: a worker
 * takes part in a product only once it has flagged itself ready in shared memory (the calling thread
 * computes the chunks of the others), so one that never starts slows the products down instead of
 * hanging them, and a product whose workers stop answering ends with an error after
 * `STALL_TIMEOUT_MS` instead of waiting forever.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from '../../errors.js';
import { linear4x1, linear4x4, linearRange } from './kernels.js';

export const THREADS_ENV = 'GENIE_TS_REFERENCE_THREADS';
/** Below this many multiply-adds a product runs on the calling thread (a hand-off costs tens of us). */
const MIN_PARALLEL_MACS = 1 << 18;

/** A product whose workers show no progress for this long fails (a worker that died mid-product). */
const STALL_TIMEOUT_MS = 60_000;

// Control block (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // bumped once per product; workers wait on it
const PENDING = 1; // workers still computing the current product
const FAILED = 2; // 1 when a worker threw (its message goes to the console)
const ACTIVE = 3; // workers 1..ACTIVE take part in the current product
const PARAMS = 4; // rows, inDim, outDim, chunk, then (buffer id, element offset) for x, weight, bias, out
const READY = PARAMS + 12; // READY + i - 1: worker i has entered its loop
const controlInts = (threads: number): number => READY + threads;

const workerSource = (): string => `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
${linear4x4.toString()}
${linear4x1.toString()}
${linearRange.toString()}
const ctrl = new Int32Array(workerData.control);
const buffers = new Map();
const view = (id, offset, length) => new Float32Array(buffers.get(id), offset * 4, length);
// Products posted before this worker was ready are not its own (ACTIVE did not count it).
let seen = Atomics.load(ctrl, ${SEQ});
Atomics.store(ctrl, ${READY} + workerData.index - 1, 1);
for (;;) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  seen = Atomics.load(ctrl, ${SEQ});
  if (workerData.index > Atomics.load(ctrl, ${ACTIVE})) continue;
  for (let m = receiveMessageOnPort(parentPort); m !== undefined; m = receiveMessageOnPort(parentPort)) buffers.set(m.message.id, m.message.buffer);
  try {
    const [rows, inDim, outDim, chunk, xId, xOff, wId, wOff, bId, bOff, oId, oOff] = ctrl.subarray(${PARAMS}, ${PARAMS + 12});
    const start = workerData.index * chunk;
    const end = Math.min(outDim, start + chunk);
    if (start < end) {
      const bias = bId < 0 ? null : view(bId, bOff, outDim);
      linearRange(view(xId, xOff, rows * inDim), rows, inDim, view(wId, wOff, outDim * inDim), bias, outDim, view(oId, oOff, rows * outDim), start, end);
    }
  } catch (error) {
    console.error(error);
    Atomics.store(ctrl, ${FAILED}, 1);
  }
  if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
}
`;

/** The number of threads `linear` uses: the environment's setting, else the available parallelism. */
export function referenceThreads(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[THREADS_ENV];
  if (text === undefined || text === '') return availableParallelism();
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) {
    throw new InvalidArgumentError(`${THREADS_ENV} "${text}" is not an integer in [1, 256]`);
  }
  return n;
}

/** A pool of `threads - 1` workers; `linear` runs products on all threads. */
export class LinearPool {
  private readonly control: Int32Array;
  /** Started by the first product that runs in parallel. */
  private workers: Worker[] | undefined;
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private nextId = 0;

  constructor(readonly threads: number) {
    this.control = new Int32Array(new SharedArrayBuffer(controlInts(threads) * 4));
  }

  /** Workers that have started and take part in products (0 until the first parallel product starts them). */
  get readyWorkers(): number {
    let ready = 0;
    while (ready < this.threads - 1 && Atomics.load(this.control, READY + ready) === 1) ready++;
    return ready;
  }

  /** A Float32Array of `length` zeros the workers can read and write. */
  private static shared(length: number): Float32Array {
    return new Float32Array(new SharedArrayBuffer(length * 4));
  }

  /** A copy of `data` in shared memory (the weights the workers read), or `data` itself without workers. */
  share(data: Float32Array): Float32Array {
    if (this.threads === 1 || data.buffer instanceof SharedArrayBuffer) return data;
    const copy = LinearPool.shared(data.length);
    copy.set(data);
    return copy;
  }

  /** Scratch of `length` floats: shared when there are workers. */
  scratch(length: number): Float32Array {
    return this.threads === 1 ? new Float32Array(length) : LinearPool.shared(length);
  }

  /** `kernels.linear`, its outputs shared between the threads when every array is shared and the product is large. */
  linear(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number, out: Float32Array): void {
    const arrays = bias === null ? [x, weight, out] : [x, weight, bias, out];
    const parallel = this.threads > 1 && rows * inDim * outDim >= MIN_PARALLEL_MACS && arrays.every((a) => a.buffer instanceof SharedArrayBuffer);
    // A terminated pool has no workers left: the calling thread does it all.
    const workers = parallel ? this.start() : [];
    if (workers.length === 0) {
      linearRange(x, rows, inDim, weight, bias, outDim, out, 0, outDim);
      return;
    }
    const c = this.control;
    const chunk = Math.ceil(outDim / this.threads / 4) * 4;
    // Workers 1..active have flagged themselves ready; the calling thread computes every other chunk.
    const active = Math.min(workers.length, this.readyWorkers);
    if (active > 0) {
      const ref = (a: Float32Array | null): [number, number] => (a === null ? [-1, 0] : [this.idOf(a.buffer as SharedArrayBuffer), a.byteOffset / 4]);
      c.set([rows, inDim, outDim, chunk, ...ref(x), ...ref(weight), ...ref(bias), ...ref(out)], PARAMS);
      Atomics.store(c, FAILED, 0);
      Atomics.store(c, ACTIVE, active);
      Atomics.store(c, PENDING, active);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
    }
    linearRange(x, rows, inDim, weight, bias, outDim, out, 0, Math.min(outDim, chunk));
    for (let i = active + 1; i < this.threads; i++) linearRange(x, rows, inDim, weight, bias, outDim, out, Math.min(outDim, i * chunk), Math.min(outDim, (i + 1) * chunk));
    for (let pending = Atomics.load(c, PENDING); pending !== 0; pending = Atomics.load(c, PENDING)) {
      if (Atomics.wait(c, PENDING, pending, STALL_TIMEOUT_MS) === 'timed-out' && Atomics.load(c, PENDING) === pending) {
        throw new Error(`a Reference executor worker thread stopped answering (no progress in ${STALL_TIMEOUT_MS / 1000} s)`);
      }
    }
    if (Atomics.load(c, FAILED) !== 0) throw new Error('a Reference executor worker thread failed (its error is on stderr)');
  }

  /** Stops the workers; they drop every buffer they were sent. */
  async terminate(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = [];
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private start(): Worker[] {
    if (this.workers !== undefined) return this.workers;
    const source = workerSource();
    this.workers = Array.from({ length: this.threads - 1 }, (_, i) => {
      const worker = new Worker(source, { eval: true, execArgv: [], workerData: { control: this.control.buffer, index: i + 1 } });
      worker.unref();
      return worker;
    });
    return this.workers;
  }

  /** The id the workers know `buffer` by, sending it to them the first time. */
  private idOf(buffer: SharedArrayBuffer): number {
    let id = this.ids.get(buffer);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(buffer, id);
      for (const worker of this.workers ?? []) worker.postMessage({ id, buffer });
    }
    return id;
  }
}
