/**
 * `npm run soak [-- CYCLES TOKENS]`: the lifecycle soak of the reliability issue, on a small random
 * Qwen2 model (vocab 1024, 2 layers, CL 256, AR {1, 16}) so that it measures the runtime, not the math.
 * 1. CYCLES (default 1000) create / query (8 tokens) / dispose cycles on each backend (Reference, and
 *    QnnHtp on one shared simulated provider, so its live native handles can be counted): RSS after
 *    GC, open file descriptors and live simulated QNN handles, sampled every tenth of the run.
 * 2. TOKENS (default 100,000) generated tokens in one dialog, reset whenever the context fills:
 *    RSS and heap after GC, sampled every tenth of the run.
 * Prints markdown tables; "flat" means the last sample is within noise of the one at 20% of the run.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitQwen2Checkpoint, writeReferenceCtxBin } from '../src/backends/reference/index.js';
import { Dialog } from '../src/runtime/dialog.js';
import { demoTokenizerPath, loadTokenizer } from '../src/runtime/tokenizer/index.js';
import { createSimulatedQnn } from '../src/simulator/index.js';
import { randomWeights, tinyConfig } from '../test/backends/reference/qwen2-oracle.js';

function countArg(index: number, name: string, fallback: number): number {
  const text = process.argv[index];
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`npm run soak -- CYCLES TOKENS: ${name} must be a positive integer, got "${text}"`);
  return value;
}
const cycles = countArg(2, 'CYCLES', 1000);
const tokens = countArg(3, 'TOKENS', 100_000);
const CL = 256;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc (npm run soak does)');

const root = mkdtempSync(join(tmpdir(), 'genie-ts-soak-'));
const config = tinyConfig({ hiddenSize: 32, headDim: 8, intermediateSize: 64, numHiddenLayers: 2, vocabSize: 1024 });
const weights = randomWeights(config, 'soak');
// The last id's LM-head row is zero: greedy decoding never produces the EOS, so queries run to their cap.
weights.get('lm_head.weight')!.data.fill(0, (config.vocabSize - 1) * config.hiddenSize);
const parts = splitQwen2Checkpoint({ config, weights, arSet: [1, 16], cl: CL, splits: 2, inputKind: 'ids' });
const ctxBins: string[] = [];
for (const [i, part] of parts.entries()) {
  const path = join(root, `soak_part_${i + 1}_of_${parts.length}.safetensors`);
  await writeReferenceCtxBin(path, part);
  ctxBins.push(path);
}
const tokenizer = await loadTokenizer(demoTokenizerPath());

function genieConfig(backend: 'Reference' | 'QnnHtp'): object {
  const qnn = { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': true, 'cpu-mask': '0xe0', poll: false };
  return {
    dialog: {
      version: 1,
      type: 'basic',
      context: { version: 1, size: CL, 'n-vocab': config.vocabSize, 'bos-token': -1, 'eos-token': config.vocabSize - 1 },
      sampler: { version: 1, seed: 1, temp: 0 },
      tokenizer: { version: 1, path: demoTokenizerPath() },
      engine: {
        version: 1,
        'n-threads': 1,
        backend: backend === 'Reference' ? { version: 1, type: 'Reference' } : { version: 1, type: 'QnnHtp', QnnHtp: qnn },
        model: {
          version: 1,
          type: 'binary',
          binary: { version: 1, 'ctx-bins': ctxBins },
          'positional-encoding': { type: 'rope', 'rope-dim': config.headDim / 2, 'rope-theta': config.ropeTheta },
        },
      },
    },
  };
}

async function drain(stream: AsyncGenerator<string, unknown>): Promise<void> {
  let next = await stream.next();
  while (!next.done) next = await stream.next();
}

function settledRss(): number {
  gc!();
  gc!();
  return process.memoryUsage().rss;
}

const openFds = (): number => readdirSync('/proc/self/fd').length;
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

interface Sample {
  readonly at: number;
  readonly rss: number;
  readonly heap: number;
  readonly fds: number;
  readonly handles: number | undefined;
}

function table(title: string, unit: string, samples: readonly Sample[]): void {
  console.log(`\n## ${title}\n`);
  console.log(`| ${unit} | RSS (MiB) | heap (MiB) | open fds | live QNN handles |`);
  console.log('| ---: | ---: | ---: | ---: | ---: |');
  for (const s of samples) console.log(`| ${s.at} | ${mib(s.rss)} | ${mib(s.heap)} | ${s.fds} | ${s.handles ?? '-'} |`);
  const ref = samples[Math.min(2, samples.length - 1)];
  const last = samples[samples.length - 1];
  const perUnit = (last.rss - ref.rss) / Math.max(1, last.at - ref.at);
  console.log(`\nRSS ${mib(ref.rss)} -> ${mib(last.rss)} MiB from ${unit} ${ref.at} to ${last.at} (${perUnit.toFixed(0)} bytes per ${unit}); ` +
    `fds ${ref.fds} -> ${last.fds}; handles ${ref.handles ?? '-'} -> ${last.handles ?? '-'}`);
}

async function lifecycle(backend: 'Reference' | 'QnnHtp'): Promise<void> {
  const sim = backend === 'QnnHtp' ? createSimulatedQnn() : undefined;
  const options = { tokenizer, backend: sim ? { qnn: { simulated: sim } } : undefined };
  const samples: Sample[] = [];
  const every = Math.max(1, Math.floor(cycles / 10));
  for (let c = 1; c <= cycles; c++) {
    const dialog = await Dialog.create(genieConfig(backend), { ...options, baseDir: root });
    await drain(dialog.tokenQuery([1, 2, 3, 4, 5, 6, 7, 8], { maxTokens: 8 }));
    await dialog.dispose();
    if (c % every === 0 || c === 1) {
      const rss = settledRss();
      samples.push({ at: c, rss, heap: process.memoryUsage().heapUsed, fds: openFds(), handles: sim?.liveHandles() });
    }
  }
  sim?.dispose();
  table(`${backend}: ${cycles} create / query / dispose cycles`, 'cycle', samples);
}

async function longRun(): Promise<void> {
  const dialog = await Dialog.create(genieConfig('Reference'), { tokenizer, baseDir: root });
  const samples: Sample[] = [];
  const every = Math.max(1, Math.floor(tokens / 10));
  let generated = 0;
  let nextSample = every;
  const started = performance.now();
  while (generated < tokens) {
    dialog.reset();
    const stream = dialog.tokenQuery([1, 2, 3, 4], { maxTokens: Math.min(CL - 8, tokens - generated) });
    let next = await stream.next();
    while (!next.done) next = await stream.next();
    generated += next.value.generatedTokens.length;
    if (generated >= nextSample) {
      samples.push({ at: generated, rss: settledRss(), heap: process.memoryUsage().heapUsed, fds: openFds(), handles: undefined });
      nextSample += every;
    }
  }
  await dialog.dispose();
  table(`Reference: ${generated} generated tokens in one dialog (reset when the context fills), ` +
    `${((generated / (performance.now() - started)) * 1000).toFixed(0)} tokens/s`, 'tokens', samples);
}

try {
  await lifecycle('Reference');
  await lifecycle('QnnHtp');
  await longRun();
} finally {
  rmSync(root, { recursive: true, force: true });
}
