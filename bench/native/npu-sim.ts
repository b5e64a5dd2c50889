/**
 * The native test provider (npu-sim.c): built with the system C compiler on first use, loaded with
 * Koffi, and wired in front of a simulated HTP provider so that QnnHtp runs on it through the real
 * library-loading path (`backendLibrary` / `GENIE_TS_QNN_BACKEND_LIB`): every QNN call is the
 * simulated provider's except graphExecute, which sleeps on the calling thread in C, and
 * graphExecuteAsync, whose queue a C thread runs back to back (the same sleep), notifying from another.
 *
 * `loadNpuSim()` returns `{ skip }` with the reason when no compiler works (benches print it,
 * tests skip): nothing here may fail CI on a host without one.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import type { QnnGraphBackend } from '../../src/backends/qnn/index.js';
import { openQnnHtpBackend, type QnnHtpOptions } from '../../src/runtime/backend-factory.js';
import { createSimulatedQnn, type SimulatedQnn, type SimulatedQnnOptions } from '../../src/simulator/index.js';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'npu-sim.c');

export interface NpuSim {
  /** The built shared library (a QNN backend and system library in shape). */
  readonly path: string;
  /** Sleep of every graphExecute, in microseconds. */
  setExecuteUs(us: number): void;
  /** The last `us` of each sleep is a busy-wait (default 200) for accuracy; 0 sleeps only. */
  setSpinUs(us: number): void;
  /** Microseconds spent inside graphExecute since load (what the NPU was busy for). */
  busyUs(): number;
  executeCount(): number;
  lastExecuteUs(): number;
  /**
   * Time from the previous execute's return to the start of execute number `n` (1-based, as
   * `executeCount()` counts; the last 65536 are kept): the NPU's idle time before it.
   */
  gapUs(n: number): number;
  /** Queued execute `n` (as `gapUs`): from its end to the provider's notify call (its notifier thread's wake-up). */
  notifyDelayUs(n: number): number;
  /**
   * The largest binary contextCreateFromBinary has read through the pointer since `resetLoaded`
   * (the latest of that size): the sum of its bytes, and RssAnon / RssFile (bytes) at the end of
   * that pass (0 off Linux).
   */
  loaded(): { readonly sum: number; readonly rssAnon: number; readonly rssFile: number };
  resetLoaded(): void;
  /**
   * Linux with 2 or more CPUs: the NPU's threads (the queue's, and a Koffi worker running
   * graphExecute) get the last CPU, the calling thread the others, so the stand-in for the NPU never
   * takes CPU time from the host work it measures. Returns that CPU, or -1 (nothing moved).
   * `rejoin` gives every thread moved its CPUs back (threads made meanwhile inherit the restriction).
   */
  separate(): number;
  rejoin(): void;
  /** Thread id of the last graphExecute (Linux: gettid) and of the calling thread. */
  lastThread(): number;
  threadId(): number;
  /**
   * Creates a simulated provider, points the shim's tables at it and opens QnnHtp on the shim's
   * library by path (provider `native`, no rpcmem). `dispose` closes the backend, then the provider.
   */
  open(ctxBins: readonly string[], options?: NpuSimOpenOptions): Promise<NpuSimBackend>;
  /** The QnnHtp options that run a backend on the shim once `attach(sim)` has pointed it at `sim`. */
  backendOptions(): QnnHtpOptions;
  attach(sim: SimulatedQnn | null): void;
}

export interface NpuSimOpenOptions extends Omit<QnnHtpOptions, 'provider' | 'simulated' | 'simulatedOptions'> {
  readonly simulatedOptions?: SimulatedQnnOptions;
}

export interface NpuSimBackend {
  readonly backend: QnnGraphBackend;
  readonly simulated: SimulatedQnn;
  dispose(): Promise<void>;
}

export type NpuSimLoad = { readonly sim: NpuSim; readonly skip?: undefined } | { readonly sim?: undefined; readonly skip: string };

/**
 * Appends `padding` bytes and the trailer that tells the shim's contextCreateFromBinary to hand the
 * simulated provider only the loadable front (see npu-sim.c): a binary of any size that still loads.
 */
export function padCtxBin(path: string, padding: number, fill = 0x5a): void {
  const front = statSync(path).size;
  const chunk = Buffer.alloc(Math.min(padding, 64 << 20), fill);
  for (let left = padding; left > 0; left -= chunk.byteLength) appendFileSync(path, left >= chunk.byteLength ? chunk : chunk.subarray(0, left));
  const trailer = Buffer.alloc(PAD_TRAILER);
  trailer.write('NPUPAD01', 0, 'latin1');
  trailer.writeBigUInt64LE(BigInt(front), 8);
  appendFileSync(path, trailer);
}

const PAD_TRAILER = 16;

function findCompiler(): string | null {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => c !== undefined && c !== '');
  for (const cc of candidates) {
    const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return cc;
  }
  return null;
}

let cached: NpuSimLoad | undefined;

/** Builds (once per source version, cached under the OS temp folder) and loads the shim. */
export function loadNpuSim(): NpuSimLoad {
  cached ??= build();
  return cached;
}

function build(): NpuSimLoad {
  if (process.platform === 'win32') return { skip: 'native test provider: not built on Windows (POSIX clock_nanosleep shim)' };
  const cc = findCompiler();
  if (cc === null) return { skip: 'native test provider: no C compiler found ($CC, cc, gcc, clang); NPU-idle measurements skipped' };
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).update(process.arch).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'genie-ts-npu-sim');
  const file = join(dir, `libgenie_npu_sim-${hash}${process.platform === 'darwin' ? '.dylib' : '.so'}`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    const result = spawnSync(cc, ['-O2', '-shared', '-fPIC', '-std=c11', '-o', partial, SOURCE, '-lpthread'], { encoding: 'utf8' });
    if (result.status !== 0) {
      rmSync(partial, { force: true });
      return { skip: `native test provider: ${cc} failed to build ${SOURCE}: ${(result.stderr || result.error?.message || '').trim()}` };
    }
    renameSync(partial, file);
  }
  return { sim: wrap(file) };
}

function wrap(path: string): NpuSim {
  const lib = koffi.load(path);
  const setUpstream = lib.func('void genie_npu_sim_set_upstream(void *core, void *system)');
  const setExecuteUs = lib.func('void genie_npu_sim_set_execute_us(uint32_t us)');
  const setSpinUs = lib.func('void genie_npu_sim_set_spin_us(uint32_t us)');
  const busyUs = lib.func('double genie_npu_sim_busy_us(void)');
  const executeCount = lib.func('double genie_npu_sim_execute_count(void)');
  const lastExecuteUs = lib.func('double genie_npu_sim_last_execute_us(void)');
  const gapUs = lib.func('double genie_npu_sim_gap_us(double n)');
  const notifyDelayUs = lib.func('double genie_npu_sim_notify_delay_us(double n)');
  const lastThread = lib.func('double genie_npu_sim_last_thread(void)');
  const separate = lib.func('double genie_npu_sim_separate(void)');
  const rejoin = lib.func('void genie_npu_sim_rejoin(void)');
  const threadId = lib.func('double genie_npu_sim_thread_id(void)');
  const resetLoaded = lib.func('void genie_npu_sim_reset_loaded(void)');
  const loadedSum = lib.func('double genie_npu_sim_loaded_sum(void)');
  const loadedRssAnon = lib.func('double genie_npu_sim_loaded_rss_anon(void)');
  const loadedRssFile = lib.func('double genie_npu_sim_loaded_rss_file(void)');
  let attached: SimulatedQnn | null = null;
  const sim: NpuSim = {
    path,
    setExecuteUs: (us) => setExecuteUs(us),
    setSpinUs: (us) => setSpinUs(us),
    busyUs: () => busyUs() as number,
    executeCount: () => executeCount() as number,
    lastExecuteUs: () => lastExecuteUs() as number,
    gapUs: (n) => gapUs(n) as number,
    notifyDelayUs: (n) => notifyDelayUs(n) as number,
    separate: () => separate() as number,
    rejoin: () => rejoin(),
    lastThread: () => lastThread() as number,
    threadId: () => threadId() as number,
    resetLoaded: () => resetLoaded(),
    loaded: () => ({ sum: loadedSum() as number, rssAnon: loadedRssAnon() as number, rssFile: loadedRssFile() as number }),
    attach: (simulated) => {
      attached = simulated;
      setUpstream(simulated?.interfaceGetProviders ?? null, simulated?.systemInterfaceGetProviders ?? null);
    },
    backendOptions: () => ({ provider: 'native', backendLibrary: path, systemLibrary: path, sharedMemory: 'off' }),
    open: async (ctxBins, options = {}) => {
      const { simulatedOptions, ...qnn } = options;
      const simulated = createSimulatedQnn(simulatedOptions);
      sim.attach(simulated);
      let backend: QnnGraphBackend;
      try {
        backend = await openQnnHtpBackend(ctxBins, { ...qnn, ...sim.backendOptions() });
      } catch (error) {
        if (attached === simulated) sim.attach(null);
        simulated.dispose();
        throw error;
      }
      return {
        backend,
        simulated,
        dispose: async () => {
          await backend.dispose();
          if (attached === simulated) sim.attach(null);
          simulated.dispose();
        },
      };
    },
  };
  return sim;
}
