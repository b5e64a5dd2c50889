/**
 * Worker threads for the Reference executor's matrix products. A pool keeps a model's weights and
 * the executor's scratch in one shared WebAssembly memory (`LinearMemory`, src/simd/linear.ts: up to
 * 4 GiB); `linear` shares the outputs of a product whose operands all lie there between the calling
 * thread and the workers (ranges of 4 outputs), each running the SIMD kernel on that same memory,
 * and joins them with Atomics before it returns: `execute` stays synchronous on the JS thread (the
 * engine yields to the event loop between steps, as for any Reference step), and every output is
 * still one thread's fixed-order sum, so results do not depend on the thread count. Weights that no
 * longer fit (a model past 4 GiB of float32) stay where they are, and their products run on the
 * calling thread, copied in a tile at a time (kernels.ts `linear`).
 *
 * Threads: `GENIE_TS_REFERENCE_THREADS` (1 = none), default the machine's available parallelism;
 * each file-backed Reference backend has its pool, terminated at dispose. The workers are an eval'd
 * script given the compiled module and the memory, so the same code runs from TypeScript sources and
 * from dist/ (started without the parent's `execArgv`, whose `--input-type` or loaders would change
 * how it is read); they are unref'd, so they never keep a process alive, and they wait in
 * Atomics.wait, using no CPU, between products.
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
import { LinearMemory, linearModule } from '../../simd/linear.js';
import { linear } from './kernels.js';

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
const PARAMS = 4; // rows, inDim, outDim, chunk, then the byte offsets of x, weight, bias (0: none), out
const PARAM_COUNT = 8;
const READY = PARAMS + PARAM_COUNT; // READY + i - 1: worker i has entered its loop
const controlInts = (threads: number): number => READY + threads;

const workerSource = (): string => `
const { workerData } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.control);
// Byte offsets reach 4 GiB: read unsigned (the kernel's i32 parameters take the same bits).
const params = new Uint32Array(workerData.control, ${PARAMS * 4}, ${PARAM_COUNT});
const { linear } = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
// Products posted before this worker was ready are not its own (ACTIVE did not count it).
let seen = Atomics.load(ctrl, ${SEQ});
Atomics.store(ctrl, ${READY} + workerData.index - 1, 1);
for (;;) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  seen = Atomics.load(ctrl, ${SEQ});
  if (workerData.index > Atomics.load(ctrl, ${ACTIVE})) continue;
  try {
    const [rows, inDim, outDim, chunk, x, weight, bias, out] = params;
    const start = workerData.index * chunk;
    const end = Math.min(outDim, start + chunk);
    if (start < end) linear(x, rows, inDim, weight, bias, outDim, out, start, end);
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

/** A pool of `threads - 1` workers and the kernel memory they share; `linear` runs products on all threads. */
export class LinearPool {
  private readonly control: Int32Array;
  private readonly params: Uint32Array;
  private readonly memory = new LinearMemory();
  /** Started by the first product that runs in parallel. */
  private workers: Worker[] | undefined;

  constructor(readonly threads: number) {
    this.control = new Int32Array(new SharedArrayBuffer(controlInts(threads) * 4));
    this.params = new Uint32Array(this.control.buffer, PARAMS * 4, PARAM_COUNT);
  }

  /** Workers that have started and take part in products (0 until the first parallel product starts them). */
  get readyWorkers(): number {
    let ready = 0;
    while (ready < this.threads - 1 && Atomics.load(this.control, READY + ready) === 1) ready++;
    return ready;
  }

  /** A copy of `data` in the pool's kernel memory (the weights), or `data` itself once that is full (4 GiB). */
  share(data: Float32Array): Float32Array {
    if (this.memory.holds(data)) return data;
    const copy = this.memory.allocate(data.length);
    if (copy === null) return data;
    copy.set(data);
    return copy;
  }

  /** Scratch of `length` zeros in the pool's kernel memory (a plain array once that is full). */
  scratch(length: number): Float32Array {
    return this.memory.allocate(length) ?? new Float32Array(length);
  }

  /** `kernels.linear`, in place when every array lies in the pool's memory, its outputs shared between the threads when the product is large. */
  linear(x: Float32Array, rows: number, inDim: number, weight: Float32Array, bias: Float32Array | null, outDim: number, out: Float32Array): void {
    const memory = this.memory;
    if (!memory.holdsAll(x, weight, bias, out)) {
      linear(x, rows, inDim, weight, bias, outDim, out);
      return;
    }
    // A terminated pool has no workers left: the calling thread does it all.
    const workers = this.threads > 1 && rows * inDim * outDim >= MIN_PARALLEL_MACS ? this.start() : [];
    if (workers.length === 0) {
      memory.linearRange(x, rows, inDim, weight, bias, outDim, out, 0, outDim);
      return;
    }
    const c = this.control;
    const chunk = Math.ceil(outDim / this.threads / 4) * 4;
    // Workers 1..active have flagged themselves ready; the calling thread computes every other chunk.
    const active = Math.min(workers.length, this.readyWorkers);
    if (active > 0) {
      const p = this.params;
      p[0] = rows;
      p[1] = inDim;
      p[2] = outDim;
      p[3] = chunk;
      p[4] = x.byteOffset;
      p[5] = weight.byteOffset;
      p[6] = bias === null ? 0 : bias.byteOffset;
      p[7] = out.byteOffset;
      Atomics.store(c, FAILED, 0);
      Atomics.store(c, ACTIVE, active);
      Atomics.store(c, PENDING, active);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
    }
    memory.linearRange(x, rows, inDim, weight, bias, outDim, out, 0, Math.min(outDim, chunk));
    for (let i = active + 1; i < this.threads; i++) memory.linearRange(x, rows, inDim, weight, bias, outDim, out, Math.min(outDim, i * chunk), Math.min(outDim, (i + 1) * chunk));
    for (let pending = Atomics.load(c, PENDING); pending !== 0; pending = Atomics.load(c, PENDING)) {
      if (Atomics.wait(c, PENDING, pending, STALL_TIMEOUT_MS) === 'timed-out' && Atomics.load(c, PENDING) === pending) {
        throw new Error(`a Reference executor worker thread stopped answering (no progress in ${STALL_TIMEOUT_MS / 1000} s)`);
      }
    }
    if (Atomics.load(c, FAILED) !== 0) throw new Error('a Reference executor worker thread failed (its error is on stderr)');
  }

  /** Stops the workers. */
  async terminate(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = [];
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private start(): Worker[] {
    if (this.workers !== undefined) return this.workers;
    const source = workerSource();
    const workerData = { control: this.control.buffer, module: linearModule(), memory: this.memory.memory };
    this.workers = Array.from({ length: this.threads - 1 }, (_, i) => {
      const worker = new Worker(source, { eval: true, execArgv: [], workerData: { ...workerData, index: i + 1 } });
      worker.unref();
      return worker;
    });
    return this.workers;
  }
}
