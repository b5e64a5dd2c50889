/**
 * The native test provider (bench/native/npu-sim.c) that `npm run bench -- npu-idle` measures with:
 * its graphExecute really sleeps on the thread that calls it (the JS thread in sync mode, a Koffi
 * worker in async mode, where the event loop keeps running), every other call is the simulated
 * provider's, and QnnHtp opens on it by library path, so an Engine and a Dialog run tokens on it.
 * Skipped, with the reason, on a host without a C compiler.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QnnGraphBackend } from '../../src/backends/qnn/index.js';
import { Engine } from '../../src/runtime/engine/engine.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';
import { byteSize } from '../../src/tensor/dtype.js';
import { loadNpuSim, padCtxBin } from '../../bench/native/npu-sim.js';
import { genieDefaultSampler, writeLlamaShapedCtxBins } from '../../bench/npu-idle.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { dialogConfig, makeModel, sharedTokenizer, tempDir, writeBundle, type Bundle } from '../runtime/fixtures.js';

const load = loadNpuSim();
if (load.sim === undefined) console.warn(`test/native/npu-sim.test.ts skipped: ${load.skip}`);

const SLEEP_US = 4000;
/** Longer for the thread tests, so a loaded host's scheduling delays stay well below it. */
const THREAD_SLEEP_US = 20_000;

function bindAll(backend: QnnGraphBackend, graph = backend.graphs[0]): string {
  const buffers = new Map<string, Uint8Array>();
  for (const t of [...graph.inputs, ...graph.outputs]) {
    buffers.set(t.name, backend.allocate(t.shape.reduce((a, b) => a * b, 1) * byteSize(t.dtype)));
  }
  backend.bind(graph.name, buffers);
  return graph.name;
}

describe.skipIf(load.sim === undefined)('native test provider (npu-sim)', () => {
  const npu = load.sim!;
  const root = tempDir('npu-sim');
  let bundle: Bundle;

  beforeAll(async () => {
    npu.setExecuteUs(SLEEP_US);
    bundle = await writeBundle(root, makeModel(), { arSet: [1, 8], cl: 32, splits: 2, name: 'bundle' });
  });
  afterAll(() => npu.attach(null));

  const paths = (): string[] => bundle.ctxBins.map((file) => `${bundle.dir}/${file}`);

  it('sync execute sleeps on the JS thread: the call blocks for the sleep and the simulated graphExecute never runs', async () => {
    npu.setExecuteUs(THREAD_SLEEP_US);
    const opened = await npu.open(paths(), { executeMode: 'sync' });
    try {
      const graph = bindAll(opened.backend);
      const count = npu.executeCount();
      const start = performance.now();
      const pending = opened.backend.execute(graph);
      const blockedUs = (performance.now() - start) * 1000;
      await pending;
      expect(blockedUs).toBeGreaterThanOrEqual(THREAD_SLEEP_US);
      expect(npu.lastExecuteUs()).toBeGreaterThanOrEqual(THREAD_SLEEP_US);
      expect(npu.lastThread()).toBe(npu.threadId());
      expect(npu.executeCount()).toBe(count + 1);
      expect(opened.simulated.calls('graphExecute')).toBe(0);
    } finally {
      await opened.dispose();
      npu.setExecuteUs(SLEEP_US);
    }
  });

  it('async execute sleeps on a worker thread while the event loop runs', async () => {
    npu.setExecuteUs(THREAD_SLEEP_US);
    const opened = await npu.open(paths(), { executeMode: 'async' });
    try {
      const graph = bindAll(opened.backend);
      const busy = npu.busyUs();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      const start = performance.now();
      const pending = opened.backend.execute(graph);
      const callUs = (performance.now() - start) * 1000;
      await pending;
      clearInterval(timer);
      const totalUs = (performance.now() - start) * 1000;
      expect(callUs).toBeLessThan(THREAD_SLEEP_US / 2);
      expect(totalUs).toBeGreaterThanOrEqual(THREAD_SLEEP_US);
      expect(npu.busyUs() - busy).toBeGreaterThanOrEqual(THREAD_SLEEP_US);
      expect(ticks).toBeGreaterThan(0);
      expect(npu.lastThread()).not.toBe(npu.threadId());
      expect(opened.simulated.calls('graphExecute')).toBe(0);
    } finally {
      await opened.dispose();
      npu.setExecuteUs(SLEEP_US);
    }
  });

  it('queued execute: submissions return at once, run in FIFO order on the NPU thread back to back, and each end is notified in order', async () => {
    npu.setExecuteUs(THREAD_SLEEP_US);
    const opened = await npu.open(paths(), { executeMode: 'queued' });
    try {
      const graphs = [0, 1].map((i) => bindAll(opened.backend, opened.backend.graphs[i]));
      const order = [graphs[0], graphs[1], graphs[0]];
      const first = npu.executeCount() + 1;
      const busy = npu.busyUs();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      const ended: number[] = [];
      const start = performance.now();
      const pending = order.map((graph, i) => opened.backend.execute(graph).then(() => void ended.push(i)));
      const callUs = (performance.now() - start) * 1000;
      await Promise.all(pending);
      clearInterval(timer);
      expect(callUs).toBeLessThan(THREAD_SLEEP_US / 2);
      expect(ended).toEqual([0, 1, 2]);
      expect(npu.executeCount()).toBe(first + 2);
      expect(npu.busyUs() - busy).toBeGreaterThanOrEqual(3 * THREAD_SLEEP_US);
      // The later executions were queued when the earlier ended: no wait for the JS thread between them.
      for (const n of [first + 1, first + 2]) expect(npu.gapUs(n)).toBeLessThan(2000);
      expect(ticks).toBeGreaterThan(0);
      expect(npu.lastThread()).not.toBe(npu.threadId());
      expect(opened.simulated.calls('graphExecuteAsync')).toBe(0);
    } finally {
      await opened.dispose();
      npu.setExecuteUs(SLEEP_US);
    }
  });

  it.skipIf(process.platform !== 'linux' || availableParallelism() < 2)(
    'separate: the NPU\'s threads (queued, and an async worker) run on the last CPU, the JS thread on the others; rejoin gives them back',
    async () => {
      /** A thread's allowed CPUs, as Linux lists them (e.g. "0-1"). */
      const allowed = (tid: number): string => /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1];
      const js = npu.threadId();
      const before = allowed(js);
      const cpu = npu.separate();
      try {
        expect(cpu).toBeGreaterThan(0);
        expect(allowed(js)).not.toContain(String(cpu));
        expect(npu.separate()).toBe(-1); // already separated
        const threads: number[] = [];
        for (const executeMode of ['queued', 'async'] as const) {
          const opened = await npu.open(paths(), { executeMode });
          try {
            await opened.backend.execute(bindAll(opened.backend));
            threads.push(npu.lastThread());
            expect(npu.lastThread()).not.toBe(js);
            expect(allowed(npu.lastThread())).toBe(String(cpu));
          } finally {
            await opened.dispose();
          }
        }
        npu.rejoin();
        expect(allowed(js)).toBe(before);
        for (const tid of threads) expect(allowed(tid)).toBe(before);
      } finally {
        npu.rejoin();
      }
    },
  );

  it('queued execute keeps the process alive until the notify: a script that only awaits an execute ends normally', () => {
    const script = join(root, 'await-queued.mts');
    const repo = join(import.meta.dirname, '..', '..');
    writeFileSync(
      script,
      [
        `import { loadNpuSim } from ${JSON.stringify(join(repo, 'bench', 'native', 'npu-sim.ts'))};`,
        'const npu = loadNpuSim().sim;',
        'npu.setExecuteUs(20000);',
        `const opened = await npu.open(${JSON.stringify(paths())}, { executeMode: 'queued' });`,
        'const graph = opened.backend.graphs[0];',
        'const buffers = new Map([...graph.inputs, ...graph.outputs].map((t) => [t.name, opened.backend.allocate(t.shape.reduce((a, b) => a * b, 4))]));',
        'opened.backend.bind(graph.name, buffers);',
        'await opened.backend.execute(graph.name);',
        "console.log('executed', npu.executeCount());",
        'await opened.dispose();',
      ].join('\n'),
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('executed 1\n');
    expect(child.status).toBe(0);
  });

  it('a Dialog runs tokens on it in every execute mode, every split sleeping', async () => {
    const tokenizer = await sharedTokenizer();
    for (const executeMode of ['async', 'sync', 'queued'] as const) {
      const simulated = createSimulatedQnn();
      npu.attach(simulated);
      const config = dialogConfig(bundle, { backend: 'QnnHtp', maxNumTokens: 4 });
      const dialog = await Dialog.create(config, {
        baseDir: bundle.dir,
        tokenizer,
        backend: { qnn: { ...npu.backendOptions(), executeMode } },
      });
      try {
        const count = npu.executeCount();
        const busy = npu.busyUs();
        const sampled: number[] = [];
        const generator = dialog.tokenQuery([1, 2, 3, 4, 5], { onLogits: (_row, token) => void sampled.push(token) });
        for (let next = await generator.next(); !next.done; next = await generator.next());
        const executes = npu.executeCount() - count;
        expect(sampled).toHaveLength(4);
        // One AR-8 prefill step and at least the 3 decode steps between the 4 samples, 2 splits each.
        expect(executes).toBeGreaterThanOrEqual(2 * 4);
        expect(npu.busyUs() - busy).toBeGreaterThanOrEqual(executes * SLEEP_US);
        expect(simulated.calls('graphExecute') + simulated.calls('graphExecuteAsync')).toBe(0);
      } finally {
        await dialog.dispose();
        npu.attach(null);
        expect(simulated.liveHandles()).toBe(0);
        simulated.dispose();
      }
    }
  });

  it('an Engine at Llama-3.2-1B shapes decodes with the default sampler (what the bench measures)', async () => {
    const ctxBins = await writeLlamaShapedCtxBins(root, undefined, 256);
    npu.setExecuteUs(500);
    const opened = await npu.open(ctxBins, { executeMode: 'async' });
    try {
      expect(opened.backend.graphs.map((g) => g.name)).toHaveLength(6);
      const engine = Engine.create(opened.backend, { contextSize: 256, padToken: 0, eosToken: 1, rope: { theta: 5e5, scaling: { type: 'default' } } });
      try {
        const sampler = genieDefaultSampler();
        const count = npu.executeCount();
        let token = sampler.sample((await engine.prefill(Int32Array.from({ length: 128 }, (_, i) => i + 2)))!);
        for (let i = 0; i < 3; i++) token = sampler.sample(await engine.decode(token));
        expect(token).toBeGreaterThanOrEqual(0);
        // One AR-128 chunk, then 3 AR-1 steps; 3 splits each.
        expect(npu.executeCount() - count).toBe(3 * (1 + 3));
      } finally {
        await engine.dispose();
      }
    } finally {
      await opened.dispose();
      npu.setExecuteUs(SLEEP_US);
    }
  });
  it('contextCreateFromBinary reads every byte through the pointer (read or mapped); a padded binary hands upstream its front only', async () => {
    const bytes = readFileSync(paths()[0]);
    const padded = join(root, 'padded.bin');
    writeFileSync(padded, bytes);
    padCtxBin(padded, 1 << 16, 3);
    let sum = 0;
    for (const b of readFileSync(padded)) sum += b;
    for (const useMmap of [false, true]) {
      const opened = await npu.open([padded, paths()[1]], { htp: { useMmap } });
      try {
        expect(opened.simulated.contexts().map((c) => c.binarySize)).toEqual([bytes.byteLength, readFileSync(paths()[1]).byteLength]);
      } finally {
        await opened.dispose();
      }
      npu.resetLoaded();
      const alone = await npu.open([padded], { htp: { useMmap } });
      try {
        expect(npu.loaded().sum).toBe(sum);
        if (process.platform === 'linux') expect(npu.loaded().rssAnon + npu.loaded().rssFile).toBeGreaterThan(statSync(padded).size);
      } finally {
        await alone.dispose();
      }
    }
    const whole = await npu.open(paths());
    try {
      expect(whole.simulated.contexts().map((c) => c.binarySize)).toEqual(paths().map((p) => readFileSync(p).byteLength));
    } finally {
      await whole.dispose();
    }
  });
});
