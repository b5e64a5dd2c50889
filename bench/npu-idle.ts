/**
 * The time the NPU waits for the host (issue 15, point 1): the Engine and Genie's default sampler
 * (top-k 40, top-p 0.95, temp 0.8) at Llama-3.2-1B shapes (vocab 128256, 16 layers in 3 splits,
 * 8 KV heads, head_dim 64, CL 4096, uint8 KV, uint16 IO, AR {1, 128}) on QnnHtp, whose
 * graphExecute calls go through the real binding to the native test provider (native/npu-sim.c):
 * each execute sleeps EXECUTE_US (on the calling thread; in `queued` mode on the provider's NPU
 * thread, which runs graphExecuteAsync's queue back to back) (18.6 ms per token / 3 splits, Genie's
 * Llama-3.2-1B figure on Snapdragon 8 Elite) and records how long it really took. NPU idle = wall
 * time minus the time spent inside graphExecute: per decode token (one decode step and one sample,
 * back to back) and per AR-128 prefill chunk; per decode token of a whole Dialog query too (from the
 * provider's gap records); and the same Engine loop with 0 us executes (host work alone, without the
 * sleep / wake-up that a loaded host adds). In queued mode, on a host of 2 or more CPUs, the
 * provider's own threads (its NPU and notifier) run on the last CPU and the JS thread on the others
 * (`NpuSim.separate`): on a device the NPU is not a CPU thread, and a stand-in spinning (the end of
 * each sleep) or woken on the JS thread's CPU would take time from the host work it measures. Async
 * mode's stand-in is a Koffi worker, a host thread on a device too, and it stays where the OS puts
 * it (pinned with the JS thread confined, a third of the runs lost 3-5 ms per token). The ctx-bins are synthetic reference ones with these
 * IO shapes (hidden size 64: the handoff between splits is never touched by the host), and the
 * logits are random codes written once (execute writes nothing).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphBackend } from '../src/backends/backend.js';
import { qwen2WeightShapes, splitCheckpoint, writeReferenceCtxBin, type Qwen2Config, type TensorType } from '../src/backends/reference/index.js';
import type { QnnExecuteMode } from '../src/qnn/binding/index.js';
import { Dialog } from '../src/runtime/dialog.js';
import { Engine } from '../src/runtime/engine/engine.js';
import { demoTokenizerPath } from '../src/runtime/tokenizer/index.js';
import { Sampler } from '../src/sampler/sampler.js';
import { medianUs, type Measurement } from './harness.js';
import { createSimulatedQnn } from '../src/simulator/index.js';
import { loadNpuSim, type NpuSim } from './native/npu-sim.js';

/** Genie's Llama-3.2-1B decode time per token on Snapdragon 8 Elite (AI Hub: 53.6 tokens/s). */
export const TOKEN_BUDGET_US = 18_600;
const SPLITS = 3;
/** The sleep of each graphExecute: the token's NPU time spread evenly over the splits. */
export const EXECUTE_US = TOKEN_BUDGET_US / SPLITS;
const CL = 4096;
const VOCAB = 128256;
const N_VALID = 2000;
const DECODE_TOKENS = 200;
const CHUNKS = 40;

export const LLAMA_3_2_1B_SHAPES: Qwen2Config = {
  architecture: 'llama',
  hiddenSize: 64,
  numAttentionHeads: 32,
  numKeyValueHeads: 8,
  headDim: 64,
  intermediateSize: 8,
  numHiddenLayers: 16,
  rmsNormEps: 1e-5,
  vocabSize: VOCAB,
  ropeTheta: 500_000,
  tieWordEmbeddings: true,
  maxPositionEmbeddings: 131_072,
};

const u8 = { scale: 0.05, offset: -128 };
const LOGITS_ENCODING = { scale: 0.0005, offset: -30000 };

/** uint8 KV, uint16 everything else float-valued (the Qwen2 bench's encodings). */
function tensorTypeOf(name: string): TensorType {
  if (name.startsWith('past_')) return { dtype: 'UFIXED_POINT_8', encoding: u8 };
  if (name === 'attention_mask') return { dtype: 'UFIXED_POINT_16', encoding: { scale: 50 / 65535, offset: -65535 } };
  if (name.startsWith('position_ids_')) return { dtype: 'UFIXED_POINT_16', encoding: { scale: 2 / 65535, offset: -32768 } };
  if (name === 'logits') return { dtype: 'UFIXED_POINT_16', encoding: LOGITS_ENCODING };
  return { dtype: 'UFIXED_POINT_16', encoding: { scale: 0.001, offset: -32768 } };
}

/** Writes the 3 parts (AR 1 and 128 each) into `dir`; returns their paths in order. */
export async function writeLlamaShapedCtxBins(dir: string, config: Qwen2Config = LLAMA_3_2_1B_SHAPES, cl = CL): Promise<string[]> {
  const weights = new Map(
    [...qwen2WeightShapes(config)].map(([name, shape]) => [name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]),
  );
  const options = { config, weights, arSet: [1, 128].filter((ar) => ar < cl), cl, splits: SPLITS, inputKind: 'ids' as const };
  const names = new Set<string>();
  for (const part of splitCheckpoint(options)) {
    for (const graph of part.metadata.graphs) for (const t of [...graph.inputs, ...graph.outputs]) if (t.name !== 'input_ids') names.add(t.name);
  }
  const tensorTypes = Object.fromEntries([...names].map((name) => [name, tensorTypeOf(name)]));
  const paths: string[] = [];
  for (const [i, part] of splitCheckpoint({ ...options, tensorTypes }).entries()) {
    const path = join(dir, `llama_shapes_${i + 1}_of_${SPLITS}.bin`);
    await writeReferenceCtxBin(path, part);
    paths.push(path);
  }
  return paths;
}

/**
 * `inner` as is (every member, `queuesExecutions`, `executionQueue` and `executeAfter` too), except that `onBind` sees every
 * graph's buffers once bound and `execute`, when given, stands in front of each execute and executeAfter (`run` starts it).
 */
export function observeBind(
  inner: GraphBackend,
  onBind: (graph: string, buffers: ReadonlyMap<string, Uint8Array>) => void,
  execute: (graph: string, run: () => Promise<void>) => Promise<void> = (_graph, run) => run(),
): GraphBackend {
  return {
    type: inner.type,
    graphs: inner.graphs,
    executesOffThread: inner.executesOffThread,
    queuesExecutions: inner.queuesExecutions,
    ...(inner.executionQueue === undefined ? {} : { executionQueue: (graph: string) => inner.executionQueue!(graph) }),
    ...(inner.executeAfter === undefined ? {} : { executeAfter: (graph: string, previous: string) => execute(graph, () => inner.executeAfter!(graph, previous)) }),
    allocate: (n) => inner.allocate(n),
    bind: (graph, buffers) => {
      inner.bind(graph, buffers);
      onBind(graph, buffers);
    },
    execute: (graph) => execute(graph, () => inner.execute(graph)),
    ...(inner.takeProfile === undefined ? {} : { takeProfile: () => inner.takeProfile!() }),
    dispose: () => inner.dispose(),
  };
}

/** Random logits codes, roughly normal with sd 3 in float (a spread top-k / top-p see in practice). */
function fillLogits(bytes: Uint8Array, seed: number): void {
  const codes = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < codes.length; i++) {
    const normal = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    codes[i] = Math.max(0, Math.min(65535, Math.round((3 * normal) / LOGITS_ENCODING.scale) - LOGITS_ENCODING.offset));
  }
}

const ENGINE_OPTIONS = { contextSize: CL, padToken: 128004, eosToken: 128009, rope: { theta: 500_000, scaling: { type: 'default' as const } } };

/** Genie's default sampler as issue 15 states it: top-k 40, top-p 0.95, temp 0.8. */
export function genieDefaultSampler(vocab = VOCAB): Sampler {
  return new Sampler(
    { type: 'basic', seed: 1, temp: 0.8, topK: 40, topP: 0.95, minP: 0, greedy: false, penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
    vocab,
  );
}

function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[sorted.length >> 1];
}

interface ModeFigures {
  readonly decodeIdle: number;
  readonly decodeBusy: number;
  readonly chunkIdle: number;
  readonly chunkBusy: number;
  /** Median gap before a decode token's first split (the sample, the step's inputs, the hop). */
  readonly decodeFirstGap: number;
  /** Median gap before a decode token's later splits (the binding and the hop only). */
  readonly decodeSplitGap: number;
  /** Median per decode token of the provider's notification part of its gaps (`notifyPart`). */
  readonly decodeNotify: number;
  /** Heap retained over the timed decode tokens (after GC when node runs with --expose-gc). */
  readonly decodeHeapBytes: number;
  /** The sampler alone on the same logits view, for comparison. */
  readonly sampleUs: number;
  /** CPU time of the JS thread per decode token (NaN off Linux), and wall time per decode token (us). */
  readonly decodeCpu: number;
  readonly decodeWall: number;
}

/**
 * CPU time (user + system) of the JS thread so far, in microseconds, from /proc (Linux: the main
 * thread's task id is the process id); NaN elsewhere. Clock ticks of 10 ms: meaningful over seconds.
 */
function jsThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime), counted from the state field (3rd).
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ: 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The part of the gap before execute `n` that the provider's notification of execute `n - 1` took
 * (queued mode: its notifier thread waking after the end; 0 otherwise): the host cannot see an end
 * before it is notified, and that wait is the provider's, not the host's.
 */
function notifyPart(npu: NpuSim, n: number): number {
  return Math.min(npu.gapUs(n), npu.notifyDelayUs(n - 1));
}

/** `notifyPart` summed over the SPLITS executes of one decode token, from execute `first` on. */
function notifyOfToken(npu: NpuSim, first: number): number {
  let sum = 0;
  for (let split = 0; split < SPLITS; split++) sum += notifyPart(npu, first + split);
  return sum;
}

/** Median gaps before the first and the later splits of `steps` steps of SPLITS executes each, from execute `first` on. */
function gaps(npu: NpuSim, first: number, steps: number): { firstGap: number; splitGap: number } {
  const firstGaps: number[] = [];
  const splitGaps: number[] = [];
  for (let step = 0; step < steps; step++) {
    for (let split = 0; split < SPLITS; split++) {
      (split === 0 ? firstGaps : splitGaps).push(npu.gapUs(first + step * SPLITS + split));
    }
  }
  return { firstGap: median(firstGaps), splitGap: median(splitGaps) };
}

/** An execute mode as the bench runs it: QnnHtp's `executeMode`, and the config's `poll` (queued mode). */
interface Mode {
  readonly executeMode: QnnExecuteMode;
  readonly poll: boolean;
  /** How the rows name it. */
  readonly label: string;
}

const MODES: readonly Mode[] = [
  { executeMode: 'queued', poll: true, label: 'queued execute, poll' },
  { executeMode: 'queued', poll: false, label: 'queued execute' },
  { executeMode: 'async', poll: false, label: 'async execute' },
  { executeMode: 'sync', poll: false, label: 'sync execute' },
];

async function measureMode(npu: NpuSim, ctxBins: readonly string[], { executeMode, poll }: Mode, executeUs: number): Promise<ModeFigures> {
  npu.setExecuteUs(executeUs);
  const opened = await npu.open(ctxBins, { executeMode, poll });
  try {
    const logits = new Set<Uint8Array>();
    const backend = observeBind(opened.backend, (_graph, buffers) => {
      const buffer = buffers.get('logits');
      if (buffer !== undefined) logits.add(buffer);
    });
    const engine = Engine.create(backend, ENGINE_OPTIONS);
    try {
      let seed = 7;
      for (const buffer of logits) fillLogits(buffer, seed++);
      const sampler = genieDefaultSampler();
      const prompt = Int32Array.from({ length: N_VALID }, (_, i) => (i * 7919) % VOCAB);
      await engine.prefill(prompt);

      // Decode: one step and one sample per token, back to back, as a query's decode loop runs.
      // performance.now() rather than hrtime.bigint(): the loop itself must not allocate.
      const decodeIdle = new Float64Array(DECODE_TOKENS);
      const decodeBusy = new Float64Array(DECODE_TOKENS);
      let token = sampler.sample(await engine.decode(42));
      for (let i = 0; i < 10; i++) token = sampler.sample(await engine.decode(token));
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const firstExecute = npu.executeCount() + 1;
      const cpuBefore = jsThreadCpuUs();
      const wallBefore = performance.now();
      let t0 = performance.now();
      let b0 = npu.busyUs();
      for (let i = 0; i < DECODE_TOKENS; i++) {
        token = sampler.sample(await engine.decode(token));
        const t1 = performance.now();
        const b1 = npu.busyUs();
        decodeBusy[i] = b1 - b0;
        decodeIdle[i] = (t1 - t0) * 1000 - (b1 - b0);
        t0 = t1;
        b0 = b1;
      }
      const decodeCpu = (jsThreadCpuUs() - cpuBefore) / DECODE_TOKENS;
      const decodeWall = ((performance.now() - wallBefore) * 1000) / DECODE_TOKENS;
      if (npu.executeCount() !== firstExecute - 1 + DECODE_TOKENS * SPLITS) throw new Error('npu-idle: unexpected execute count');
      const decodeGaps = gaps(npu, firstExecute, DECODE_TOKENS);
      const decodeNotify = median(Array.from({ length: DECODE_TOKENS }, (_, i) => notifyOfToken(npu, firstExecute + i * SPLITS)));
      gc?.();
      const decodeHeapBytes = process.memoryUsage().heapUsed - heapBefore;
      const lastView = await engine.decode(token);
      const sampleUs = medianUs(() => sampler.sample(lastView), { samples: 31, inner: 5, warmup: 2 });

      // Prefill: one AR-128 chunk at nValid 2000, chunk after chunk.
      const chunk = prompt.subarray(0, 128);
      const chunkIdle: number[] = [];
      const chunkBusy: number[] = [];
      for (let i = 0; i < CHUNKS + 3; i++) {
        engine.rewind(N_VALID);
        const start = process.hrtime.bigint();
        const busy = npu.busyUs();
        await engine.prefill(chunk);
        const end = process.hrtime.bigint();
        const busyEnd = npu.busyUs();
        if (i < 3) continue;
        chunkBusy.push(busyEnd - busy);
        chunkIdle.push(Number(end - start) / 1e3 - (busyEnd - busy));
      }
      return {
        decodeIdle: median(decodeIdle),
        decodeBusy: median(decodeBusy),
        chunkIdle: median(chunkIdle),
        chunkBusy: median(chunkBusy),
        decodeFirstGap: decodeGaps.firstGap,
        decodeSplitGap: decodeGaps.splitGap,
        decodeNotify,
        decodeHeapBytes,
        decodeCpu,
        decodeWall,
        sampleUs,
      };
    } finally {
      await engine.dispose();
    }
  } finally {
    await opened.dispose();
  }
}

const EOS = 128009;
const DIALOG_PROMPT = 15 * 128;

/** A Genie dialog config over the Llama-shaped ctx-bins with Genie's default sampler (the demo tokenizer decodes ids < 128256). */
function dialogConfig(ctxBins: readonly string[], poll: boolean): object {
  return {
    dialog: {
      version: 1,
      type: 'basic',
      'max-num-tokens': DECODE_TOKENS + 1,
      context: { version: 1, size: CL, 'n-vocab': VOCAB, 'bos-token': -1, 'eos-token': EOS },
      sampler: { version: 1, seed: 1, temp: 0.8, 'top-k': 40, 'top-p': 0.95 },
      tokenizer: { version: 1, path: demoTokenizerPath() },
      engine: {
        version: 1,
        'n-threads': 1,
        backend: {
          version: 1,
          type: 'QnnHtp',
          QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': false, 'cpu-mask': '0xe0', poll },
        },
        model: {
          version: 1,
          type: 'binary',
          binary: { version: 1, 'ctx-bins': [...ctxBins] },
          'positional-encoding': { type: 'rope', 'rope-dim': LLAMA_3_2_1B_SHAPES.headDim / 2, 'rope-theta': LLAMA_3_2_1B_SHAPES.ropeTheta },
        },
      },
    },
  };
}

/** Per-token work of an application consuming a query (updating its UI, say): the JS thread busy this long. */
const CONSUMER_WORK_US = 500;

function busyFor(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/**
 * A whole query through the Dialog (prefill of 1920 tokens, then DECODE_TOKENS decode tokens with
 * the detokenizer, stop criteria and generator yields on the path), its consumer keeping the JS
 * thread busy `consumerWorkUs` per token: the NPU's idle time per decode token, taken from the
 * provider's own gap records (the 3 gaps before each token's splits).
 */
async function measureDialog(
  npu: NpuSim,
  ctxBins: readonly string[],
  { executeMode, poll }: Mode,
  consumerWorkUs = 0,
): Promise<{ readonly idle: number; readonly notify: number; readonly hostPath: number; readonly laterSplitHost: number }> {
  npu.setExecuteUs(EXECUTE_US);
  const simulated = createSimulatedQnn();
  npu.attach(simulated);
  try {
    const dialog = await Dialog.create(dialogConfig(ctxBins, poll), {
      backend: { qnn: { ...npu.backendOptions(), executeMode } },
      wrapBackend: (configured) =>
        observeBind(configured, (_graph, buffers) => {
          const logits = buffers.get('logits');
          if (logits === undefined) return;
          fillLogits(logits, 11);
          // EOS never among the top 40: the query runs to its token cap.
          const codes = new Uint16Array(logits.buffer, logits.byteOffset, logits.byteLength >> 1);
          for (let i = EOS; i < codes.length; i += VOCAB) codes[i] = 0;
        }),
    });
    try {
      const prompt = Array.from({ length: DIALOG_PROMPT }, (_, i) => (i * 7919) % VOCAB);
      const generator = dialog.tokenQuery(prompt);
      let next = await generator.next();
      while (!next.done) {
        if (consumerWorkUs > 0) busyFor(consumerWorkUs);
        next = await generator.next();
      }
      const generated = next.value.generatedTokens.length;
      if (generated !== DECODE_TOKENS + 1) throw new Error(`npu-idle: the dialog generated ${generated} tokens, expected ${DECODE_TOKENS + 1}`);
      const last = npu.executeCount();
      const perToken: number[] = [];
      const notifyPerToken: number[] = [];
      const hostPerToken: number[] = [];
      const laterSplitHost: number[] = [];
      // The last DECODE_TOKENS steps are the decode steps (the first token came out of the prefill).
      for (let step = 0; step < DECODE_TOKENS - 10; step++) {
        const first = last - (DECODE_TOKENS - 10 - step) * SPLITS + 1;
        let idle = 0;
        for (let split = 0; split < SPLITS; split++) idle += npu.gapUs(first + split);
        for (let split = 1; split < SPLITS; split++) laterSplitHost.push(npu.gapUs(first + split) - notifyPart(npu, first + split));
        perToken.push(idle);
        const notify = notifyOfToken(npu, first);
        notifyPerToken.push(notify);
        hostPerToken.push(idle - notify);
      }
      return { idle: median(perToken), notify: median(notifyPerToken), hostPath: median(hostPerToken), laterSplitHost: median(laterSplitHost) };
    } finally {
      await dialog.dispose();
    }
  } finally {
    npu.attach(null);
    simulated.dispose();
  }
}

const percent = (us: number): string => `${((100 * us) / TOKEN_BUDGET_US).toFixed(2)}% of 18.6 ms`;

export async function run(): Promise<Measurement[]> {
  const load = loadNpuSim();
  if (load.sim === undefined) {
    console.log(`\n(npu-idle skipped: ${load.skip})`);
    return [];
  }
  const npu = load.sim;
  const [load1] = loadavg();
  const cores = availableParallelism();
  console.log(`\n(npu-idle: load average ${load1.toFixed(2)} on ${cores} cores at start; wake-up latency after each sleep is part of what is measured)`);
  const dir = mkdtempSync(join(tmpdir(), 'genie-ts-bench-npu-idle-'));
  try {
    const ctxBins = await writeLlamaShapedCtxBins(dir);
    const rows: Measurement[] = [];
    const target = '<= 0.01x (1% of 18.6 ms = 186 us)';
    for (const mode of MODES) {
      const { label } = mode;
      const npuCpu = mode.executeMode === 'queued' ? npu.separate() : -1;
      if (npuCpu >= 0) console.log(`(${label}: the test provider's threads on CPU ${npuCpu}, the JS thread on the others)`);
      const f = await measureMode(npu, ctxBins, mode, EXECUTE_US);
      const host = await measureMode(npu, ctxBins, mode, 0);
      const dialog = await measureDialog(npu, ctxBins, mode);
      const dialogIdle = dialog.idle;
      const busyConsumerIdle = (await measureDialog(npu, ctxBins, mode, CONSUMER_WORK_US)).idle;
      npu.rejoin();
      const notifyRows: Measurement[] =
        mode.executeMode !== 'queued'
          ? []
          : [
            {
              name: `of the Dialog loop's idle time: the test provider's notifications (${label}; its notifier thread waking after each end; the provider's latency, not the host's)`,
              medianUs: dialog.notify,
              ratio: dialog.notify / TOKEN_BUDGET_US,
            },
            {
              name: `of the Dialog loop's idle time: the host's critical path (${label}; the idle time less those notifications, token by token)`,
              medianUs: dialog.hostPath,
              ratio: dialog.hostPath / TOKEN_BUDGET_US,
              target,
              note: percent(dialog.hostPath),
            },
            {
              name: `of the host's critical path: each later split's part (${label}; a split's gap less its notification: the end seen, the next split submitted)`,
              medianUs: dialog.laterSplitHost,
              ratio: dialog.laterSplitHost / TOKEN_BUDGET_US,
            },
            {
              name: `of the engine loop's idle time: the test provider's notifications (${label})`,
              medianUs: f.decodeNotify,
              ratio: f.decodeNotify / TOKEN_BUDGET_US,
            },
          ];
      rows.push(
        {
          name: `NPU idle per decode token, Dialog query loop (${label}; gaps before the 3 splits, from the provider)`,
          medianUs: dialogIdle,
          ratio: dialogIdle / TOKEN_BUDGET_US,
          target,
          note: percent(dialogIdle),
        },
        ...notifyRows,
        {
          name: `NPU idle per decode token, Dialog query loop whose consumer works ${CONSUMER_WORK_US} us per token (${label})`,
          medianUs: busyConsumerIdle,
          ratio: busyConsumerIdle / TOKEN_BUDGET_US,
          note: percent(busyConsumerIdle),
        },
        {
          name: `NPU idle per decode token (${label})`,
          medianUs: f.decodeIdle,
          ratio: f.decodeIdle / TOKEN_BUDGET_US,
          target,
          note: percent(f.decodeIdle),
          heapDeltaBytes: f.decodeHeapBytes,
        },
        { name: `NPU idle per AR-128 chunk (${label})`, medianUs: f.chunkIdle, ratio: f.chunkIdle / TOKEN_BUDGET_US, note: percent(f.chunkIdle) },
        {
          name: `NPU idle before a decode token's first split (${label}; sample, step inputs, call)`,
          medianUs: f.decodeFirstGap,
          ratio: f.decodeFirstGap / TOKEN_BUDGET_US,
        },
        { name: `NPU idle before each later split of a decode token (${label}; binding and call)`, medianUs: f.decodeSplitGap, ratio: f.decodeSplitGap / TOKEN_BUDGET_US },
        {
          name: `host alone per decode token (${label}; the same loop, 0 us executes: no sleep and wake-up)`,
          medianUs: host.decodeIdle,
          ratio: host.decodeIdle / TOKEN_BUDGET_US,
          note: percent(host.decodeIdle),
          heapDeltaBytes: host.decodeHeapBytes,
        },
        { name: `host alone per AR-128 chunk (${label}; 0 us executes)`, medianUs: host.chunkIdle, ratio: host.chunkIdle / TOKEN_BUDGET_US, note: percent(host.chunkIdle) },
        {
          name: `JS thread CPU per decode token, mean of 200 (${label}; polling included; ratio: share of the wall time)`,
          medianUs: f.decodeCpu,
          ratio: f.decodeCpu / f.decodeWall,
        },
        { name: `Genie default sampler alone on the same logits (vocab 128256; ${label} run)`, medianUs: f.sampleUs, ratio: f.sampleUs / TOKEN_BUDGET_US },
        { name: `NPU busy per decode token (${label}; ${SPLITS} executes, measured in C)`, medianUs: f.decodeBusy, ratio: f.decodeBusy / TOKEN_BUDGET_US },
        { name: `NPU busy per AR-128 chunk (${label}; ${SPLITS} executes, measured in C)`, medianUs: f.chunkBusy, ratio: f.chunkBusy / TOKEN_BUDGET_US },
      );
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    npu.rejoin();
  }
}
