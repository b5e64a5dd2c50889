/**
 * Worker threads for the Reference executor's matrix products and attention. A pool keeps a model's weights and
 * the executor's scratch in one shared WebAssembly memory (`LinearMemory`, src/simd/linear.ts: up to
 * 4 GiB); `linear` shares the outputs of a product whose operands all lie there between the calling
 * thread and the workers (ranges of 4 outputs), each running the SIMD kernel on that same memory,
 * and joins them with Atomics before it returns: `execute` stays synchronous on the JS thread (the
 * engine yields to the event loop between steps, as for any Reference step), and every output is
 * still one thread's fixed-order sum, so results do not depend on the thread count. Weights that no
 * longer fit (a model past 4 GiB of float32) stay where they are, and their products run on the
 * calling thread, copied in a tile at a time (kernels.ts `linear`). `attention` stages its operands in
 * the same memory and shares its units (four queries of one KV head each) the same way.
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
import { attention, attentionFloats, attentionUnitCount, attentionUnits, linear, softmax, stageAttention, type AttentionShape } from './kernels.js';

export const THREADS_ENV = 'GENIE_TS_REFERENCE_THREADS';
/** Below this many multiply-adds a product or attention runs on the calling thread (a hand-off costs tens of us). */
const MIN_PARALLEL_MACS = 1 << 18;

/** A product whose workers show no progress for this long fails (a worker that died mid-product). */
const STALL_TIMEOUT_MS = 60_000;

// Control block (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // bumped once per product; workers wait on it
const PENDING = 1; // workers still computing the current product
const FAILED = 2; // 1 when a worker threw (its message goes to the console)
const ACTIVE = 3; // workers 1..ACTIVE take part in the current product
// What the workers compute: the op, its units (outputs or attention units), the units per thread, then
// LINEAR: rows, inDim and the byte offsets of x, weight, bias (0: none), out; ATTENTION: ar, cl,
// heads, kvHeads, headDim and the AttentionLayout's byte offsets.
const PARAMS = 4;
const PARAM_COUNT = 16;
const LINEAR = 0;
const ATTENTION = 1;
const READY = PARAMS + PARAM_COUNT; // READY + i - 1: worker i has entered its loop
const controlInts = (threads: number): number => READY + threads;

const workerSource = (): string => `
const { workerData } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.control);
// Byte offsets reach 4 GiB: read unsigned (the kernel's i32 parameters take the same bits).
const params = new Uint32Array(workerData.control, ${PARAMS * 4}, ${PARAM_COUNT});
const { linear, vecmat4 } = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports;
${softmax.toString()}
${attentionUnits.toString()}
let f32 = new Float32Array(0);
let scores = new Float64Array(0);
const lanes = new Float64Array(12);
// Products posted before this worker was ready are not its own (ACTIVE did not count it).
let seen = Atomics.load(ctrl, ${SEQ});
Atomics.store(ctrl, ${READY} + workerData.index - 1, 1);
for (;;) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  seen = Atomics.load(ctrl, ${SEQ});
  if (workerData.index > Atomics.load(ctrl, ${ACTIVE})) continue;
  try {
    const start = workerData.index * params[2];
    const end = Math.min(params[1], start + params[2]);
    if (start < end && params[0] === ${LINEAR}) {
      const [, outDim, , rows, inDim, x, weight, bias, out] = params;
      linear(x, rows, inDim, weight, bias, outDim, out, start, end);
    } else if (start < end) {
      const [, , , ar, cl, heads, kvHeads, headDim, q, keys, newKeys, values, newValues, mask, probs, attended] = params;
      if (f32.buffer !== workerData.memory.buffer) f32 = new Float32Array(workerData.memory.buffer);
      if (scores.length < cl) scores = new Float64Array(cl);
      const layout = { q, keys, newKeys, values, newValues, mask, probs, attended };
      attentionUnits(vecmat4, f32, ar, cl, heads, kvHeads, headDim, layout, start, end, scores, lanes);
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

/** A pool of `threads - 1` workers and the kernel memory they share; `linear` runs products on all threads. */
export class LinearPool {
  private readonly control: Int32Array;
  private readonly params: Uint32Array;
  private readonly memory = new LinearMemory();
  /** Where `attention` stages its operands (re-allocated when a larger attention comes). */
  private attentionRegion: Float32Array | null = null;
  private readonly lanes = new Float64Array(12);
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
    const p = this.params;
    p[0] = LINEAR;
    p[3] = rows;
    p[4] = inDim;
    p[5] = x.byteOffset;
    p[6] = weight.byteOffset;
    p[7] = bias === null ? 0 : bias.byteOffset;
    p[8] = out.byteOffset;
    // Chunks of whole 4-output tiles.
    this.runShared(workers, outDim, Math.ceil(outDim / this.threads / 4) * 4, (start, end) => memory.linearRange(x, rows, inDim, weight, bias, outDim, out, start, end));
  }

  /**
   * `kernels.attention`, its operands staged in the pool's memory and its units (four queries of one
   * KV head each) shared between the threads when it is large; the same results on any thread count.
   */
  attention(shape: AttentionShape, query: Float32Array, keyNew: Float32Array, valueNew: Float32Array, keyPast: Float32Array, valuePast: Float32Array, mask: Float32Array, scores: Float64Array, out: Float32Array): void {
    const floats = attentionFloats(shape);
    if (this.attentionRegion === null || this.attentionRegion.length < floats) this.attentionRegion = this.memory.allocate(floats);
    const region = this.attentionRegion;
    if (region === null) {
      attention(shape, query, keyNew, valueNew, keyPast, valuePast, mask, scores, out);
      return;
    }
    const layout = stageAttention(shape, query, keyNew, valueNew, keyPast, valuePast, mask, region);
    const { ar, cl, heads, kvHeads, headDim } = shape;
    const units = attentionUnitCount(shape);
    const vecmat4 = this.memory.exports.vecmat4;
    const f32 = this.memory.f32;
    const workers = this.threads > 1 && units > 1 && ar * heads * cl * headDim >= MIN_PARALLEL_MACS ? this.start() : [];
    if (workers.length === 0) {
      attentionUnits(vecmat4, f32, ar, cl, heads, kvHeads, headDim, layout, 0, units, scores, this.lanes);
    } else {
      const p = this.params;
      p[0] = ATTENTION;
      p.set([ar, cl, heads, kvHeads, headDim, layout.q, layout.keys, layout.newKeys, layout.values, layout.newValues, layout.mask, layout.probs, layout.attended], 3);
      this.runShared(workers, units, Math.ceil(units / this.threads), (start, end) => attentionUnits(vecmat4, f32, ar, cl, heads, kvHeads, headDim, layout, start, end, scores, this.lanes));
    }
    const at = (layout.attended - region.byteOffset) / 4;
    out.set(region.subarray(at, at + ar * heads * headDim));
  }

  /**
   * Runs units [0, total) of the op in `params` in chunks of `chunk`: chunk i on worker i when it is
   * ready, the calling thread's own and the others' through `local`; returns when all are done.
   */
  private runShared(workers: Worker[], total: number, chunk: number, local: (start: number, end: number) => void): void {
    const c = this.control;
    // Workers 1..active have flagged themselves ready; the calling thread computes every other chunk.
    const active = Math.min(workers.length, this.readyWorkers);
    if (active > 0) {
      this.params[1] = total;
      this.params[2] = chunk;
      Atomics.store(c, FAILED, 0);
      Atomics.store(c, ACTIVE, active);
      Atomics.store(c, PENDING, active);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
    }
    local(0, Math.min(total, chunk));
    for (let i = active + 1; i < this.threads; i++) local(Math.min(total, i * chunk), Math.min(total, (i + 1) * chunk));
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
