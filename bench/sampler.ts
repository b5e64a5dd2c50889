/**
 * Sampler on Qwen2-0.5B shapes: one uint16 logits row of 151936 entries with an AI Hub-like encoding.
 * The floor is a plain pass over the raw codes; every case is reported as a ratio to it.
 */
import seedrandom from 'seedrandom';
import { heapDeltaBytes, medianUs, type Measurement } from './harness.js';
import { LogitsView, Sampler, type SamplerParams } from '../src/sampler/index.js';

const VOCAB = 151_936;
const ENCODING = { scale: 0.0007, offset: -30_000 };

/** Logits ~ N(0, 2.5) with a handful of large ones (12..22), as an LM head produces them. */
function realisticCodes(): Uint16Array {
  const rng = seedrandom('bench-sampler');
  const codes = new Uint16Array(VOCAB);
  const code = (logit: number) => Math.min(65535, Math.max(0, Math.round(logit / ENCODING.scale - ENCODING.offset)));
  for (let i = 0; i < VOCAB; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const a = 2 * Math.PI * rng();
    codes[i] = code(2.5 * r * Math.cos(a));
    if (i + 1 < VOCAB) codes[i + 1] = code(2.5 * r * Math.sin(a));
  }
  for (let k = 0; k < 8; k++) codes[Math.floor(rng() * VOCAB)] = code(12 + 10 * rng());
  return codes;
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

export async function run(): Promise<Measurement[]> {
  const codes = realisticCodes();
  const view = new LogitsView(codes, { dtype: 'UFIXED_POINT_16', vocab: VOCAB, encoding: ENCODING });
  // A typed-array sink: a captured `let` holding a double would allocate on every write.
  const sink = new Float64Array(1);
  const floor = () => {
    let s = 0;
    for (let i = 0; i < VOCAB; i++) s += codes[i];
    sink[0] += s;
  };
  const cases: { name: string; target: string; iterations: number; sampler: Sampler }[] = [
    { name: 'greedy (argmax of raw codes)', target: '<= 2x', iterations: 2000, sampler: new Sampler(params({ temp: 0 }), VOCAB) },
    { name: 'top-k 40 + top-p 0.95 + temp 0.8', target: '<= 4x', iterations: 2000, sampler: new Sampler(params({ topK: 40, topP: 0.95, temp: 0.8 }), VOCAB) },
    { name: 'top-p 0.8 alone (temp 0.1, Genie default)', target: '<= 25x', iterations: 500, sampler: new Sampler(params({}), VOCAB) },
  ];

  const floorUs = medianUs(floor, { inner: 20 });
  const rows: Measurement[] = [
    { name: `floor: sum of ${VOCAB} uint16 codes`, medianUs: floorUs, ratio: 1, heapDeltaBytes: settledHeapDelta(floor, 2000) },
  ];
  for (const c of cases) {
    const step = () => {
      sink[0] += c.sampler.sample(view);
    };
    const us = medianUs(step, { inner: 10 });
    rows.push({ name: c.name, medianUs: us, ratio: us / floorUs, target: c.target, heapDeltaBytes: settledHeapDelta(step, c.iterations) });
  }
  return rows;
}
