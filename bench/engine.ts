/**
 * Host overhead of the Engine at Qwen2-0.5B shapes (24 layers in 3 parts, 2 KV heads, head_dim 64,
 * hidden 896, CL 4096, vocab 151936, uint8 KV, uint16 mask / cos / sin / logits, AR {1, 128}):
 * everything except graph math, measured with a backend whose execute returns at once. Also the
 * resident memory the engine adds, against the KV cache's theoretical size, and the heap a decode
 * loop retains, measured in child processes (see `retainedHeap`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GraphBackend } from '../src/backends/backend.js';
import type { GraphSpec, TensorSpec } from '../src/graphs/spec.js';
import { Engine } from '../src/runtime/engine/engine.js';
import { Sampler } from '../src/sampler/sampler.js';
import type { QnnExecuteMode } from '../src/qnn/binding/index.js';
import { medianAsyncUs, type Measurement } from './harness.js';
import { loadNpuSim } from './native/npu-sim.js';
import { writeLlamaShapedCtxBins } from './npu-idle.js';

const LAYERS = 24;
const PARTS = 3;
const KV_HEADS = 2;
const HEAD_DIM = 64;
const HIDDEN = 896;
const CL = 4096;
const VOCAB = 151936;
const N_VALID = 2000;

const u8 = { scale: 0.05, offset: -128 };
const u16 = (scale: number, offset: number) => ({ scale, offset });

function partGraph(ar: number, part: number): GraphSpec {
  const name = `${ar === 1 ? 'token' : 'prompt'}_ar${ar}_cl${CL}_${part + 1}_of_${PARTS}`;
  const inputs: TensorSpec[] = [];
  const outputs: TensorSpec[] = [];
  const hiddenOf = (p: number): TensorSpec => ({
    name: `_model_layers_${(p + 1) * (LAYERS / PARTS) - 1}_Add_1_output_0`, dtype: 'UFIXED_POINT_16', shape: [1, ar, HIDDEN], encoding: u16(0.001, -32768),
  });
  inputs.push(part === 0 ? { name: 'input_ids', dtype: 'INT_32', shape: [1, ar] } : hiddenOf(part - 1));
  inputs.push({ name: 'attention_mask', dtype: 'UFIXED_POINT_16', shape: [1, 1, ar, CL], encoding: u16(50 / 65535, -65535) });
  inputs.push({ name: 'position_ids_cos', dtype: 'UFIXED_POINT_16', shape: [1, 1, ar, HEAD_DIM / 2], encoding: u16(2 / 65535, -32768) });
  inputs.push({ name: 'position_ids_sin', dtype: 'UFIXED_POINT_16', shape: [1, 1, ar, HEAD_DIM / 2], encoding: u16(2 / 65535, -32768) });
  for (let l = part * (LAYERS / PARTS); l < (part + 1) * (LAYERS / PARTS); l++) {
    inputs.push({ name: `past_key_${l}_in`, dtype: 'UFIXED_POINT_8', shape: [KV_HEADS, 1, HEAD_DIM, CL - ar], encoding: u8 });
    inputs.push({ name: `past_value_${l}_in`, dtype: 'UFIXED_POINT_8', shape: [KV_HEADS, 1, CL - ar, HEAD_DIM], encoding: u8 });
    outputs.push({ name: `past_key_${l}_out`, dtype: 'UFIXED_POINT_8', shape: [KV_HEADS, 1, HEAD_DIM, ar], encoding: u8 });
    outputs.push({ name: `past_value_${l}_out`, dtype: 'UFIXED_POINT_8', shape: [KV_HEADS, 1, ar, HEAD_DIM], encoding: u8 });
  }
  outputs.push(part === PARTS - 1 ? { name: 'logits', dtype: 'UFIXED_POINT_16', shape: [1, ar, VOCAB], encoding: u16(0.0005, -30000) } : hiddenOf(part));
  return { name, ctxBin: part, inputs, outputs };
}

/**
 * A backend that binds and "executes" without doing any graph math. Its executes complete on the
 * JS thread, so the engine yields a macrotask turn per step; with `offThread` it declares
 * `executesOffThread` (as QnnHtp in async mode does), which skips that turn.
 */
function nullBackend(offThread = false): GraphBackend {
  const graphs = [1, 128].flatMap((ar) => Array.from({ length: PARTS }, (_, p) => partGraph(ar, p)));
  return {
    type: 'null',
    graphs,
    executesOffThread: offThread,
    allocate: (n) => new Uint8Array(n),
    bind: () => {},
    execute: async () => {},
    dispose: async () => {},
  };
}

const ENGINE_OPTIONS = { contextSize: CL, padToken: 151643, eosToken: 151645, rope: { theta: 1e6, scaling: { type: 'default' as const } } };

export async function run(): Promise<Measurement[]> {
  const rssBefore = process.memoryUsage().rss;
  const engine = Engine.create(nullBackend(), ENGINE_OPTIONS);
  const rssAfter = process.memoryUsage().rss;
  const sampler = new Sampler(
    { type: 'basic', seed: 1, temp: 0, topK: 0, topP: 1, minP: 0, greedy: true, penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
    VOCAB,
  );
  const prompt = Int32Array.from({ length: N_VALID }, (_, i) => (i * 7919) % VOCAB);
  await engine.prefill(prompt);

  const decodeStep = async () => {
    engine.rewind(N_VALID);
    sampler.sample(await engine.decode(42));
  };
  const chunk = prompt.subarray(0, 128);
  const prefillChunk = async () => {
    engine.rewind(N_VALID);
    await engine.prefill(chunk);
  };
  const greedyOnly = async () => sampler.sample(engine.logits);

  const greedyUs = await medianAsyncUs(greedyOnly, 31, 20);
  const decodeUs = await medianAsyncUs(decodeStep, 31, 20);

  // The same step on a backend that declares executesOffThread: no macrotask turn per step.
  const offThread = Engine.create(nullBackend(true), ENGINE_OPTIONS);
  await offThread.prefill(prompt);
  const offThreadStep = async () => {
    offThread.rewind(N_VALID);
    sampler.sample(await offThread.decode(42));
  };
  const offThreadUs = await medianAsyncUs(offThreadStep, 31, 20);
  await offThread.dispose();
  await engine.decode(1);
  const prefillUs = await medianAsyncUs(prefillChunk, 15, 3);
  await engine.dispose();

  const kvBytes = LAYERS * 2 * KV_HEADS * HEAD_DIM * CL;
  return [
    { name: 'engine: greedy sample alone (reference for the next row)', medianUs: greedyUs },
    { name: 'engine: decode step (AR-1) + greedy sample, null executor, nValid 2000', medianUs: decodeUs, ratio: decodeUs / greedyUs, target: '<= 300 us over the sampler' },
    {
      name: 'engine: the same decode step on a backend executing off the JS thread (no macrotask yield per step)',
      medianUs: offThreadUs,
      ratio: decodeUs / offThreadUs,
    },
    { name: 'engine: prefill chunk (AR-128), null executor, nValid 2000', medianUs: prefillUs, target: '<= 2 ms' },
    ...HEAP_MODES.flatMap((mode) => retainedHeap(mode) ?? []),
    {
      name: `engine: RSS added at load ${((rssAfter - rssBefore) / 2 ** 20).toFixed(1)} MiB (buffers ${(engine.bufferBytes / 2 ** 20).toFixed(1)} MiB; KV theoretical ${(kvBytes / 2 ** 20).toFixed(1)} MiB)`,
      medianUs: 0,
      ratio: (rssAfter - rssBefore) / kvBytes,
    },
  ];
}

const HEAP_STEPS = 5000;
const HEAP_REPEATS = 5;
/**
 * `sync` / `async`: the null backend executing on the JS thread (a macrotask turn per step) or
 * declaring executesOffThread; `qnn-sync` / `qnn-async` / `qnn-queued`: QnnHtp through the real binding, in that
 * execute mode, on the native test provider (0 us executes, no JS in graphExecute) at
 * Llama-3.2-1B shapes with CL 512. No step listener in any.
 */
const HEAP_MODES = ['sync', 'async', 'qnn-sync', 'qnn-async', 'qnn-queued'] as const;
type HeapMode = (typeof HEAP_MODES)[number];

/**
 * Heap retained by HEAP_STEPS decode steps (+ a greedy sample each, no step listener): in a fresh
 * `node --expose-gc` child per repeat, heapUsed after full GCs before and after the loop, so nothing
 * else the bench process did (other suites, tsx, earlier rows) moves the figure; the median of
 * HEAP_REPEATS children. Reported in bytes (heap delta) and bytes per step (the median column).
 */
function retainedHeap(mode: HeapMode): Measurement | null {
  if (mode.startsWith('qnn-') && loadNpuSim().sim === undefined) return null;
  const retained: number[] = [];
  for (let r = 0; r < HEAP_REPEATS; r++) {
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), HEAP_CHILD_FLAG, mode], {
      encoding: 'utf8',
    });
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) throw new Error(`engine heap child (${mode}) failed: ${child.stderr || child.stdout}`);
    retained.push((JSON.parse(line) as { retainedBytes: number }).retainedBytes);
  }
  const bytes = retained.sort((a, b) => a - b)[retained.length >> 1];
  return {
    name: `engine: heap retained after ${HEAP_STEPS} decode steps, ${mode === 'sync' || mode === 'async' ? `${mode} null backend` : `QnnHtp ${mode.slice(4)} on the native test provider`}, no step listener (bytes per step; child process, forced GC, median of ${HEAP_REPEATS})`,
    medianUs: bytes / HEAP_STEPS,
    target: '~0 (no allocation per step; a 20-byte object per step shows as ~100000)',
    heapDeltaBytes: bytes,
    note: `repeats ${retained.join(', ')} bytes`,
  };
}

const HEAP_CHILD_FLAG = '--heap-child';

async function heapChild(mode: HeapMode): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the heap child needs --expose-gc');
  const { engine, nValid, close } = await heapEngine(mode);
  const sampler = new Sampler(
    { type: 'basic', seed: 1, temp: 0, topK: 0, topP: 1, minP: 0, greedy: true, penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
    engine.vocabSize,
  );
  await engine.prefill(Int32Array.from({ length: nValid }, (_, i) => (i * 7919) % engine.vocabSize));
  const step = async (): Promise<void> => {
    engine.rewind(nValid);
    sampler.sample(await engine.decode(42));
  };
  // Warm-up: every path compiled and optimised, lazily created state in place.
  for (let i = 0; i < 500; i++) await step();
  const settle = async (): Promise<number> => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().heapUsed;
  };
  // A first measured loop settles what V8 ages out on its own (flushed code, one-off caches), so
  // the figure is what the second loop adds.
  await settle();
  for (let i = 0; i < HEAP_STEPS; i++) await step();
  const before = await settle();
  for (let i = 0; i < HEAP_STEPS; i++) await step();
  const after = await settle();
  await engine.dispose();
  await close();
  console.log(JSON.stringify({ mode, retainedBytes: after - before }));
}

/** The heap child's engine, the cache size its steps rewind to, and what closes the rest. */
async function heapEngine(mode: HeapMode): Promise<{ engine: Engine; nValid: number; close: () => Promise<void> }> {
  if (mode === 'sync' || mode === 'async') {
    return { engine: Engine.create(nullBackend(mode === 'async'), ENGINE_OPTIONS), nValid: N_VALID, close: async () => {} };
  }
  const npu = loadNpuSim().sim!;
  npu.setExecuteUs(0);
  const dir = mkdtempSync(join(tmpdir(), 'genie-ts-bench-heap-'));
  const opened = await npu.open(await writeLlamaShapedCtxBins(dir, undefined, 512), { executeMode: mode.slice(4) as QnnExecuteMode });
  const engine = Engine.create(opened.backend, { contextSize: 512, padToken: 128004, eosToken: 128009, rope: { theta: 500_000, scaling: { type: 'default' } } });
  return {
    engine,
    nValid: 200,
    close: async () => {
      await opened.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const childMode = process.argv.indexOf(HEAP_CHILD_FLAG);
if (childMode >= 0) {
  const mode = process.argv[childMode + 1];
  if (!(HEAP_MODES as readonly string[]).includes(mode)) throw new Error(`${HEAP_CHILD_FLAG} takes ${HEAP_MODES.join(' or ')}, got ${mode}`);
  await heapChild(mode as HeapMode);
}
