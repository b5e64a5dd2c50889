/**
 * The Reference executor at Qwen2-0.5B size (random weights of the real shapes: hidden 896, 24
 * layers, 14 heads / 2 KV heads, intermediate 4864, vocab 151936, tied embeddings; CL 4096): one
 * AR-1 decode step and one AR-128 prefill step of the whole model in one graph, run in memory (no
 * ctx-bin file), with the products on 1 thread and on `referenceThreads()` (GENIE_TS_REFERENCE_THREADS,
 * default all cores). Floor: a single-threaded naive pass over the same weights, one dot product per
 * weight row (what any decode token must at least read and multiply), measured in the same run.
 * llama.cpp's CPU backend on the same weights is not measured: it cannot be fetched here (no
 * internet access).
 */
import { availableParallelism, loadavg } from 'node:os';
import type { FloatTensor } from '../src/formats/safetensors.js';
import { tensorByteLength } from '../src/graphs/sizes.js';
import type { GraphSpec } from '../src/graphs/spec.js';
import { splitCheckpoint, type Qwen2Config } from '../src/backends/reference/index.js';
import { planCtxBin, type RunnableGraph } from '../src/backends/reference/program.js';
import { qwen2WeightShapes } from '../src/backends/reference/qwen2.js';
import { LinearPool, referenceThreads } from '../src/backends/reference/thread-pool.js';
import { readWeights } from '../src/backends/reference/weights.js';
import { elementCount } from '../src/tensor/shape.js';
import type { Measurement } from './harness.js';

const QWEN2_0_5B: Qwen2Config = {
  architecture: 'qwen2',
  hiddenSize: 896,
  numAttentionHeads: 14,
  numKeyValueHeads: 2,
  headDim: 64,
  intermediateSize: 4864,
  numHiddenLayers: 24,
  rmsNormEps: 1e-6,
  vocabSize: 151936,
  ropeTheta: 1_000_000,
  tieWordEmbeddings: true,
  maxPositionEmbeddings: 32768,
};
const CL = 4096;
const PREFILL_AR = 128;

/** Seeded values in about [-0.05, 0.05): small enough that activations stay finite through 24 layers. */
function randomWeights(config: Qwen2Config): Map<string, FloatTensor> {
  let s = 0x9e3779b9;
  const weights = new Map<string, FloatTensor>();
  for (const [name, shape] of qwen2WeightShapes(config)) {
    const data = new Float32Array(elementCount(shape));
    const norm = shape.length === 1;
    for (let i = 0; i < data.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      data[i] = norm ? 1 : ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
    }
    weights.set(name, { shape, data });
  }
  return weights;
}

/** A graph bound to fresh buffers: ids valid, mask all attend, cos 1 / sin 0, KV zero. */
function bound(spec: GraphSpec, bind: (buffers: Map<string, Uint8Array>) => RunnableGraph): RunnableGraph {
  const buffers = new Map<string, Uint8Array>();
  for (const t of [...spec.inputs, ...spec.outputs]) {
    const bytes = new Uint8Array(tensorByteLength(t));
    if (t.name === 'input_ids') new Int32Array(bytes.buffer).forEach((_, i, ids) => void (ids[i] = (i * 7919) % QWEN2_0_5B.vocabSize));
    if (t.name === 'position_ids_cos') new Float32Array(bytes.buffer).fill(1);
    buffers.set(t.name, bytes);
  }
  return bind(buffers);
}

/** Median milliseconds of `samples` runs after `warmup` runs. */
function medianMs(fn: () => void, samples: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times.sort((a, b) => a - b)[samples >> 1];
}

/** The floor: one naive dot product per weight row (every projection, and the tied head once). */
function naivePass(weights: ReadonlyMap<string, FloatTensor>, x: Float32Array): number {
  let total = 0;
  for (const { shape, data } of weights.values()) {
    if (shape.length !== 2) continue;
    const [rows, cols] = shape;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      const base = r * cols;
      for (let i = 0; i < cols; i++) sum += data[base + i] * x[i];
      total += sum;
    }
  }
  return total;
}

/** The decode (AR-1) and prefill (AR-128) graphs bound to fresh buffers, their products on `pool`. */
function graphs(part: ReturnType<typeof splitCheckpoint>[number], pool: LinearPool): RunnableGraph[] {
  const plan = planCtxBin(part.metadata, 0, 'qwen2-0.5b (in memory)', pool);
  const tensors = new Map([...part.tensors].map(([name, t]) => [name, { shape: t.shape }]));
  const source = { path: 'qwen2-0.5b (in memory)', tensors, readFloat32: (name: string) => pool.share(part.tensors.get(name)!.data) };
  const weights = readWeights(source, plan.weightReads((name) => part.tensors.has(name)));
  return plan.graphs(weights).map((g) => bound(g.spec, (buffers) => g.bind(buffers)));
}

/** Median decode (AR-1) and prefill (AR-128) step times with the products on `threads` threads. */
async function stepTimes(part: ReturnType<typeof splitCheckpoint>[number], threads: number): Promise<{ decodeMs: number; prefillMs: number }> {
  const pool = new LinearPool(threads);
  try {
    const [decode, prefill] = graphs(part, pool);
    const decodeMs = medianMs(() => decode.run(), 5);
    // The kernels are warm from the decode runs; an AR-128 step of this model takes seconds.
    const prefillMs = medianMs(() => prefill.run(), 3, 0);
    return { decodeMs, prefillMs };
  } finally {
    await pool.terminate();
  }
}

export async function run(): Promise<Measurement[]> {
  const weights = randomWeights(QWEN2_0_5B);
  const [part] = splitCheckpoint({ config: QWEN2_0_5B, weights, arSet: [1, PREFILL_AR], cl: CL, splits: 1, inputKind: 'ids' });
  const threads = referenceThreads();
  const load = loadavg()[0].toFixed(2);
  const x = new Float32Array(QWEN2_0_5B.intermediateSize).fill(0.01);
  let sink = 0;
  const floorMs = medianMs(() => void (sink += naivePass(weights, x)), 5);
  if (!Number.isFinite(sink)) throw new Error('the floor pass overflowed');
  const single = await stepTimes(part, 1);
  // The one-thread pool's copy of the weights is unreachable now: collected before the next copy.
  globalThis.gc?.();
  const multi = await stepTimes(part, threads);
  const note = `${availableParallelism()} cores, load ${load} at start`;
  const decodeRow = (n: number, ms: number): Measurement => ({ name: `decode, AR-1 step, ${n} thread${n > 1 ? 's' : ''}: ${(1000 / ms).toFixed(2)} tokens/s`, medianUs: ms * 1e3, ratio: ms / floorMs });
  const prefillRow = (n: number, ms: number): Measurement => ({
    name: `prefill, AR-${PREFILL_AR} step, ${n} thread${n > 1 ? 's' : ''}: ${((PREFILL_AR * 1000) / ms).toFixed(1)} tokens/s`,
    medianUs: ms * 1e3,
    ratio: ms / PREFILL_AR / floorMs,
    note: 'ratio per token',
  });
  return [
    { name: 'floor: one naive dot product per weight row (single thread)', medianUs: floorMs * 1e3, ratio: 1, note },
    decodeRow(1, single.decodeMs),
    decodeRow(threads, multi.decodeMs),
    prefillRow(1, single.prefillMs),
    prefillRow(threads, multi.prefillMs),
  ];
}
