/**
 * `use-mmap` (issue 15, point 4): peak resident memory and load time of a 1 GiB ctx-bin, mapped
 * (`use-mmap: true`, libc mmap through Koffi) vs read into native memory, each mode in a fresh child
 * process so the figures are its own. The model is the npu-idle bench's Llama-3.2-1B-shaped one
 * (3 ctx-bins, AR {1, 128}, CL 4096, uint8 KV), its first ctx-bin padded to 1 GiB; QnnHtp opens it
 * on the native test provider, whose contextCreateFromBinary reads every byte through the pointer
 * (an NPU loading the binary into its own memory) and hands the simulated provider only the
 * loadable front, so the host keeps no second copy. Then the Engine binds its buffers (KV included)
 * and runs a prefill chunk and a decode step.
 *
 * Floor: the ctx-bins' bytes + the Engine's buffers (KV and IO); the ratio is the peak RSS the
 * child gained (VmHWM minus its RSS before loading) over that floor. Also noted: the private
 * (anonymous) and file-backed memory at the end of the provider's pass over the 1 GiB binary; mapped
 * pages are file-backed, shared with the page cache and dropped by the kernel under pressure,
 * read pages are private.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/runtime/engine/engine.js';
import type { Measurement } from './harness.js';
import { loadNpuSim, padCtxBin } from './native/npu-sim.js';
import { writeLlamaShapedCtxBins } from './npu-idle.js';

const GIB = 2 ** 30;
const MIB = 2 ** 20;
const MODES = ['mapped', 'read'] as const;
type Mode = (typeof MODES)[number];
const REPEATS = 3;
const CHILD_FLAG = '--mmap-child';
const ENGINE_OPTIONS = { contextSize: 4096, padToken: 128004, eosToken: 128009, rope: { theta: 500_000, scaling: { type: 'default' as const } } };

interface ChildFigures {
  readonly loadUs: number;
  readonly baselineBytes: number;
  readonly peakBytes: number;
  readonly ctxBinBytes: number;
  readonly bufferBytes: number;
  readonly passAnonBytes: number;
  readonly passFileBytes: number;
}

/** A "kB" line of /proc/self/status, in bytes. */
function statusBytes(key: string): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
  if (line === undefined) throw new Error(`/proc/self/status has no ${key}`);
  return Number.parseInt(line.slice(key.length + 1), 10) * 1024;
}

async function child(mode: Mode, ctxBins: readonly string[]): Promise<ChildFigures> {
  const npu = loadNpuSim().sim;
  if (npu === undefined) throw new Error('the native test provider did not build');
  npu.setExecuteUs(0);
  npu.resetLoaded();
  const baselineBytes = statusBytes('VmRSS');
  const start = performance.now();
  const opened = await npu.open(ctxBins, { htp: { useMmap: mode === 'mapped' }, executeMode: 'sync' });
  const loadUs = (performance.now() - start) * 1000;
  const pass = npu.loaded();
  try {
    const engine = Engine.create(opened.backend, ENGINE_OPTIONS);
    await engine.prefill(Int32Array.from({ length: 128 }, (_, i) => (i * 7919) % 128256));
    await engine.decode(42);
    const figures = {
      loadUs,
      baselineBytes,
      peakBytes: statusBytes('VmHWM'),
      ctxBinBytes: ctxBins.reduce((sum, path) => sum + statSync(path).size, 0),
      bufferBytes: engine.bufferBytes,
      passAnonBytes: pass.rssAnon,
      passFileBytes: pass.rssFile,
    };
    await engine.dispose();
    return figures;
  } finally {
    await opened.dispose();
  }
}

const mib = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1];

export async function run(): Promise<Measurement[]> {
  if (process.platform !== 'linux') {
    console.log('\n(mmap skipped: peak RSS is read from /proc/self/status, Linux only)');
    return [];
  }
  const load = loadNpuSim();
  if (load.sim === undefined) {
    console.log(`\n(mmap skipped: ${load.skip})`);
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'genie-ts-bench-mmap-'));
  try {
    const ctxBins = await writeLlamaShapedCtxBins(dir);
    padCtxBin(ctxBins[0], GIB - statSync(ctxBins[0]).size - 16);
    const runs = new Map<Mode, ChildFigures[]>(MODES.map((mode) => [mode, []]));
    // Alternating modes, so page-cache warmth and host load fall on both alike.
    for (let r = 0; r < REPEATS; r++) {
      for (const mode of MODES) {
        const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), CHILD_FLAG, mode, ...ctxBins], {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        });
        const line = result.stdout.trim().split('\n').pop() ?? '';
        if (result.status !== 0 || !line.startsWith('{')) throw new Error(`mmap child (${mode}) failed: ${result.stderr || result.stdout}`);
        runs.get(mode)!.push(JSON.parse(line) as ChildFigures);
      }
    }
    const rows: Measurement[] = [];
    for (const mode of MODES) {
      const figures = runs.get(mode)!;
      const floor = figures[0].ctxBinBytes + figures[0].bufferBytes;
      const gained = median(figures.map((f) => f.peakBytes - f.baselineBytes));
      const anon = median(figures.map((f) => f.passAnonBytes - f.baselineBytes));
      const file = median(figures.map((f) => f.passFileBytes));
      rows.push({
        name: `use-mmap peak RSS: 1 GiB ctx-bin ${mode === 'mapped' ? 'mapped (use-mmap: true)' : 'read (use-mmap: false)'}, load time in the median column; ratio = peak RSS gained / (ctx-bins + KV + buffers)`,
        medianUs: median(figures.map((f) => f.loadUs)),
        ratio: gained / floor,
        ...(mode === 'mapped' ? { target: '<= 1.1x' } : {}),
        note: `peak +${mib(gained)} over ${mib(figures[0].baselineBytes)} at start; floor ${mib(figures[0].ctxBinBytes)} ctx-bins + ${mib(figures[0].bufferBytes)} buffers; at the end of the provider's pass over the 1 GiB binary: private ${anon < 0 ? '-' : '+'}${mib(Math.abs(anon))}, file-backed ${mib(file)}`,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const flag = process.argv.indexOf(CHILD_FLAG);
if (flag >= 0) {
  const mode = process.argv[flag + 1] as Mode;
  if (!MODES.includes(mode)) throw new Error(`${CHILD_FLAG} takes ${MODES.join(' or ')}, got ${mode}`);
  console.log(JSON.stringify(await child(mode, process.argv.slice(flag + 2))));
}
