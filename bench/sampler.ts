/**
 * Sampler at Qwen2-0.5B (vocab 151936) and Llama-3.2-1B (vocab 128256) shapes: one uint16 logits row
 * with an AI Hub-like encoding (and the same logits as float32 for the float path). The floor is a
 * plain JavaScript pass over the row's elements; every case is reported as a ratio to it, the two
 * sampled in turn. The uint16 cases also note their ratio to a SIMD floor (the row copied into a
 * WebAssembly kernel and its max taken in one SIMD pass, what the sampler's own passes cost at least),
 * sampled in the same turns.
 */
import seedrandom from 'seedrandom';
import { heapDeltaBytes, medianUs, type Measurement } from './harness.js';
import { LogitsView, Sampler, TokenHistory, TopLogprobs, type ChainEntry, type SamplerParams } from '../src/sampler/index.js';
import { maxCodes16Simd } from '../src/simd/logits.js';

const VOCABS = [151_936, 128_256] as const;
const ENCODING = { scale: 0.0007, offset: -30_000 };

/** Logits ~ N(0, 2.5) with a handful of large ones (12..22), as an LM head produces them. */
function realisticLogits(vocab: number): Float32Array {
  const rng = seedrandom('bench-sampler');
  const logits = new Float32Array(vocab);
  for (let i = 0; i < vocab; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const a = 2 * Math.PI * rng();
    logits[i] = 2.5 * r * Math.cos(a);
    if (i + 1 < vocab) logits[i + 1] = 2.5 * r * Math.sin(a);
  }
  for (let k = 0; k < 8; k++) logits[Math.floor(rng() * vocab)] = 12 + 10 * rng();
  return logits;
}

function toCodes(logits: Float32Array): Uint16Array {
  return Uint16Array.from(logits, (x) => Math.min(65535, Math.max(0, Math.round(x / ENCODING.scale - ENCODING.offset))));
}

function params(over: Partial<SamplerParams>): SamplerParams {
  const base = {
    type: 'basic' as const, seed: 42, temp: 0.1, topK: 0, topP: 0.8, minP: 0,
    penalizeLastN: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, ...over,
  };
  return { ...base, greedy: base.temp <= 0 || base.topK === 1 };
}

/**
 * Steady-state heap growth: the probe's first runs also count V8 tiering the code up (code objects,
 * feedback; 100-250 KB whatever `fn` is), so this takes the least of three runs after a warm one. A
 * per-call allocation of b bytes still shows in every run as about `iterations * b`.
 */
function settledHeapDelta(fn: () => void, iterations: number): number {
  heapDeltaBytes(fn, iterations);
  return Math.min(heapDeltaBytes(fn, iterations), heapDeltaBytes(fn, iterations), heapDeltaBytes(fn, iterations));
}

/**
 * Medians of `fn` and of the two floors sampled alternately (one sample of each in turn), so that a
 * loaded machine slows them alike and their ratios hold.
 */
function pairedMediansUs(floor: () => void, simdFloor: () => void, fn: () => void, inner: number, samples = 31): { floorUs: number; simdFloorUs: number; us: number } {
  for (let i = 0; i < 5 * inner; i++) {
    floor();
    simdFloor();
    fn();
  }
  const floorTimes = new Float64Array(samples);
  const simdFloorTimes = new Float64Array(samples);
  const times = new Float64Array(samples);
  const sample = (f: () => void): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) f();
    return Number(process.hrtime.bigint() - t0) / 1e3 / inner;
  };
  for (let k = 0; k < samples; k++) {
    floorTimes[k] = sample(floor);
    simdFloorTimes[k] = sample(simdFloor);
    times[k] = sample(fn);
  }
  floorTimes.sort();
  simdFloorTimes.sort();
  times.sort();
  return { floorUs: floorTimes[samples >> 1], simdFloorUs: simdFloorTimes[samples >> 1], us: times[samples >> 1] };
}

interface Case {
  readonly name: string;
  readonly target?: string;
  readonly iterations: number;
  readonly sampler: Sampler;
  readonly float?: boolean;
  readonly history?: TokenHistory;
  readonly logprobs?: TopLogprobs;
}

/** Genie's default chain after a 64-token window penalty history (prompt-like ids). */
function penaltyHistory(vocab: number): TokenHistory {
  const history = new TokenHistory(64);
  const rng = seedrandom('bench-history');
  for (let i = 0; i < 64; i++) history.push(Math.floor(rng() * vocab));
  return history;
}

function cases(vocab: number): Case[] {
  const chain = (over: Partial<SamplerParams>, stages?: readonly ChainEntry[]) => new Sampler(params(over), vocab, stages);
  const basic = { topK: 40, topP: 0.95, temp: 0.8 };
  return [
    { name: 'greedy (argmax of raw codes)', target: '<= 1.2x', iterations: 2000, sampler: chain({ temp: 0 }) },
    { name: 'top-k 40 + top-p 0.95 + temp 0.8 (Genie default chain)', target: '<= 1.5x', iterations: 2000, sampler: chain(basic) },
    { name: 'top-p 0.8 alone (temp 0.1, Genie defaults)', target: '<= 6x', iterations: 500, sampler: chain({}) },
    { name: 'top-p 0.8 alone, float32 logits', target: '<= 6x', iterations: 200, sampler: chain({}), float: true },
    { name: 'greedy, float32 logits', iterations: 500, sampler: chain({ temp: 0 }), float: true },
    {
      name: 'penalties (last 64, all three) + top-k 40 + top-p 0.95 + temp 0.8', iterations: 500,
      sampler: chain({ ...basic, penalizeLastN: 64, repetitionPenalty: 1.1, presencePenalty: 0.1, frequencyPenalty: 0.1 }),
      history: penaltyHistory(vocab),
    },
    { name: 'logit-bias (8 tokens) + Genie default chain', iterations: 500, sampler: chain(basic, [{ type: 'logit-bias', bias: { 1: -5, 2: 3, 3: -100, 4: 1, 5: 2, 6: -1, 7: 4, 8: 0.5 } }, 'top-k', 'top-p', 'temperature']) },
    { name: 'top-k 40 + min-p 0.05 + temp 0.8', iterations: 2000, sampler: chain({ topK: 40, topP: 1, minP: 0.05, temp: 0.8 }, ['top-k', 'min-p', 'temperature']) },
    { name: 'top-k 40 + typical-p 0.9 + temp 0.8', iterations: 2000, sampler: chain({ topK: 40, topP: 1, temp: 0.8 }, ['top-k', { type: 'typical-p', p: 0.9 }, 'temperature']) },
    { name: 'top-k 40 + xtc (p 1, threshold 0.1) + temp 0.8', iterations: 2000, sampler: chain({ topK: 40, topP: 1, temp: 0.8 }, ['top-k', { type: 'xtc', probability: 1, threshold: 0.1 }, 'temperature']) },
    { name: 'temp 0.8 + mirostat-v2 (whole vocabulary)', iterations: 200, sampler: chain({ topP: 1, temp: 0.8 }, ['temperature', { type: 'mirostat-v2' }]) },
    { name: 'Genie default chain + topLogprobs 5', iterations: 2000, sampler: chain(basic), logprobs: new TopLogprobs(5) },
  ];
}

export async function run(): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  // A typed-array sink: a captured `let` holding a double would allocate on every write.
  const sink = new Float64Array(1);
  for (const vocab of VOCABS) {
    const logits = realisticLogits(vocab);
    const codes = toCodes(logits);
    const view = new LogitsView(codes, { dtype: 'UFIXED_POINT_16', vocab, encoding: ENCODING });
    const floatView = new LogitsView(logits, { dtype: 'FLOAT_32', vocab });
    const floor = () => {
      let s = 0;
      for (let i = 0; i < vocab; i++) s += codes[i];
      sink[0] += s;
    };
    const floatFloor = () => {
      let s = 0;
      for (let i = 0; i < vocab; i++) s += logits[i];
      sink[0] += s;
    };
    const simdFloor = () => {
      sink[0] += maxCodes16Simd(codes);
    };
    const floorUs = medianUs(floor, { inner: 20 });
    const floatFloorUs = medianUs(floatFloor, { inner: 20 });
    const simd = pairedMediansUs(floor, simdFloor, simdFloor, 20);
    rows.push({ name: `vocab ${vocab}: floor, sum of the uint16 codes`, medianUs: floorUs, ratio: 1, heapDeltaBytes: settledHeapDelta(floor, 2000) });
    rows.push({ name: `vocab ${vocab}: floor, sum of the float32 logits`, medianUs: floatFloorUs, ratio: 1 });
    rows.push({
      name: `vocab ${vocab}: SIMD floor, max of the uint16 codes (copied into the kernel, one WebAssembly SIMD pass)`,
      medianUs: simd.simdFloorUs, ratio: simd.simdFloorUs / simd.floorUs, heapDeltaBytes: settledHeapDelta(simdFloor, 2000),
    });
    for (const c of cases(vocab)) {
      const v = c.float ? floatView : view;
      const step = () => {
        sink[0] += c.sampler.sample(v, c.history, c.logprobs);
      };
      const paired = pairedMediansUs(c.float ? floatFloor : floor, simdFloor, step, 10);
      rows.push({
        name: `vocab ${vocab}: ${c.name}`, medianUs: paired.us, ratio: paired.us / paired.floorUs,
        ...(c.target !== undefined && { target: c.target }), heapDeltaBytes: settledHeapDelta(step, c.iterations),
        ...(!c.float && { note: `${(paired.us / paired.simdFloorUs).toFixed(2)}x the SIMD floor` }),
      });
    }
  }
  return rows;
}
