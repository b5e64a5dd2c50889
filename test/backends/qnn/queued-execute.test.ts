/**
 * QnnHtp's `queued` execute mode (graphExecuteAsync; ends polled from the native notify function, or a Koffi callback) on the
 * simulated provider: the Engine submits a step's parts back to back, and everything must come out
 * as in `sync` and `async` mode (tokens, logits bits, the KV cache after a failed or aborted step),
 * with dispose never freeing what a queued execution still uses.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { observeBind } from '../../../bench/npu-idle.js';
import type { GraphBackend } from '../../../src/backends/backend.js';
import { openQnnBackend } from '../../../src/backends/qnn/index.js';
import { writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import { QnnDisposedError, QnnExecutionNotRunError, QnnFunctionUnavailableError, type QnnExecuteMode } from '../../../src/qnn/binding/index.js';
import { QnnError } from '../../../src/qnn/errors.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { DisposedError, Engine } from '../../../src/runtime/engine/engine.js';
import type { SimulatedQnn } from '../../../src/simulator/index.js';
import { simulatedProviders } from './bundle.js';
import { tempDir } from '../../demo/fixtures.js';

const root = tempDir('qnn-queued');
/** An embedding part and 2 KV splits (and an lm-head in the last), AR 1 and 4: several queued parts per step. */
const SHAPE = { layers: 4, hidden: 8, heads: 2, kvHeads: 1, splits: 3, ar: [1, 4], cl: 32, seed: 11 } as const;
const PROMPT = [9707, 11, 1879, 0, 151644, 872, 77, 1000, 2, 55, 4000];
const QNN_HTP = { version: 1, 'spill-fill-bufsize': 0, 'mmap-budget': 0, 'use-mmap': false, 'cpu-mask': '0xe0', poll: false };
const MODES: readonly QnnExecuteMode[] = ['sync', 'async', 'queued'];

let float: DemoBundle;
let htp: DemoBundle;
beforeAll(async () => {
  float = await writeDemoBundle(join(root, 'float'), SHAPE);
  htp = await writeDemoBundle(join(root, 'htp'), { ...SHAPE, quant: 'htp' });
});

/** The bundle's ctx-bin paths, from its config. */
function ctxBins(bundle: DemoBundle): string[] {
  const config = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
  return (config.dialog.engine.model.binary['ctx-bins'] as string[]).map((file) => join(bundle.dir, file));
}

const sim = simulatedProviders();
const ignoreBind = (): void => undefined;

function qnnConfig(bundle: DemoBundle, poll = false): object {
  const config = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
  config.dialog.engine.backend = { version: 1, type: 'QnnHtp', QnnHtp: { ...QNN_HTP, poll } };
  return config;
}

async function openEngine(bundle: DemoBundle, executeMode: QnnExecuteMode, simulated: SimulatedQnn, wrap?: (b: GraphBackend) => GraphBackend): Promise<Engine> {
  return Engine.open(qnnConfig(bundle), {
    baseDir: bundle.dir,
    backend: { qnn: { provider: 'simulated', simulated, executeMode } },
    ...(wrap === undefined ? {} : { wrapBackend: wrap }),
  });
}

/** The bits of the engine's logits row, dequantized into float32. */
function rowBits(engine: Engine): string {
  const row = new Float32Array(engine.vocabSize);
  engine.logits.dequantizeInto(row);
  return Buffer.from(row.buffer).toString('hex');
}

interface Run {
  readonly tokens: number[];
  readonly rows: string[];
}

async function greedy(bundle: DemoBundle, executeMode: QnnExecuteMode, simulated: SimulatedQnn, poll = false): Promise<Run> {
  await using dialog = await Dialog.create(qnnConfig(bundle, poll), {
    baseDir: bundle.dir,
    backend: { qnn: { provider: 'simulated', simulated, executeMode } },
  });
  dialog.configureSampler({ temp: 0 });
  const tokens: number[] = [];
  const rows: string[] = [];
  const onLogits = (row: Float32Array, token: number): void => {
    tokens.push(token);
    rows.push(Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('hex'));
  };
  const generator = dialog.tokenQuery(PROMPT, { maxTokens: 12, onLogits });
  for (let next = await generator.next(); !next.done; next = await generator.next());
  return { tokens, rows };
}

/** Binds graph `index` of `backend` to fresh buffers (4 bytes per element covers every dtype); returns its name. */
function bindAll(backend: GraphBackend, index: number): string {
  const graph = backend.graphs[index];
  const buffers = new Map<string, Uint8Array>();
  for (const t of [...graph.inputs, ...graph.outputs]) buffers.set(t.name, backend.allocate(t.shape.reduce((a, b) => a * b, 4)));
  backend.bind(graph.name, buffers);
  return graph.name;
}

/** The decode variant's part names, in split order. */
const decodeParts = (engine: Engine): string[] => engine.layout.variants.find((v) => v.ar === 1)!.parts.map((p) => p.name);

describe('queued execute (graphExecuteAsync) on the simulated provider', () => {
  for (const which of ['float', 'htp'] as const) {
    it(`${which} demo bundle: the same greedy tokens and bit-identical logits rows in sync, async and queued mode (QnnHtp poll off and on)`, async () => {
      const bundle = which === 'float' ? float : htp;
      const runs: Run[] = [];
      for (const [mode, poll] of [...MODES.map((m) => [m, false] as const), ['queued', true] as const]) {
        const provider = sim();
        runs.push(await greedy(bundle, mode, provider, poll));
        expect(provider.calls('graphExecuteAsync') > 0, mode).toBe(mode === 'queued');
        expect(provider.calls('graphExecute') > 0, mode).toBe(mode !== 'queued');
        expect(provider.liveHandles(), mode).toBe(0);
      }
      expect(runs[0].tokens.length).toBe(12);
      for (const run of runs.slice(1)) {
        expect(run.tokens).toEqual(runs[0].tokens);
        expect(run.rows).toEqual(runs[0].rows);
      }
    });
  }

  it('every part is submitted with its KV inputs as sync mode has them when it executes (the staged copies come first)', async () => {
    const seen = new Map<QnnExecuteMode, string[]>();
    for (const mode of ['sync', 'queued'] as const) {
      const log: string[] = [];
      const kvInputs = new Map<string, Uint8Array[]>();
      const snapshotKv = (inner: GraphBackend): GraphBackend =>
        observeBind(
          inner,
          (graph, buffers) => kvInputs.set(graph, [...buffers].filter(([name]) => /^past_.*_in$/.test(name)).map(([, view]) => view)),
          (graph, run) => {
            const hash = createHash('sha256');
            for (const view of kvInputs.get(graph)!) hash.update(view);
            log.push(`${graph} ${hash.digest('hex')}`);
            return run();
          },
        );
      const engine = await openEngine(htp, mode, sim(), snapshotKv);
      try {
        await engine.prefill(PROMPT);
        for (const token of [3, 1, 4, 1, 5]) await engine.decode(token);
        engine.rewind(6);
        await engine.prefill([9, 2, 6]);
        await engine.decode(5);
      } finally {
        await engine.dispose();
      }
      seen.set(mode, log);
    }
    expect(seen.get('queued')!.length).toBeGreaterThan(20);
    expect(seen.get('queued')).toEqual(seen.get('sync'));
  });

  it("submits without running: execute returns before the graph ran; a context's executions end in submission order, other contexts wait", async () => {
    const provider = sim();
    const engine = await openEngine(float, 'queued', provider);
    try {
      await engine.prefill(PROMPT.slice(0, 4));
      const before = rowBits(engine);
      const calls = provider.calls('graphExecuteAsync');
      const decoding = engine.decode(5);
      // The demo bundle has a ctx-bin per split: the first part is submitted within the call and
      // has not run (the logits are untouched); each later one follows the one before it
      // (executeAfter): the queue submits it when it sees that one's end.
      expect(decodeParts(engine).length).toBe(3);
      expect(provider.calls('graphExecuteAsync')).toBe(calls + 1);
      expect(rowBits(engine)).toBe(before);
      await decoding;
      expect(provider.calls('graphExecuteAsync')).toBe(calls + 3);
      expect(rowBits(engine)).not.toBe(before);
    } finally {
      await engine.dispose();
    }
    // Polling throughout: each end is seen in the macrotask after it (the simulated provider runs one
    // execution per macrotask), so the promises settle in the order the executions ran.
    const backend = await openQnnBackend(
      ctxBins(float),
      { provider: 'simulated', simulated: provider, executeMode: 'queued', poll: true },
    );
    try {
      expect(backend.queuesExecutions).toBe(true);
      expect(backend.executesOffThread).toBe(true);
      // Graphs 0 and 1 are in the first ctx-bin, graph 4 in the third (one context each).
      const graphs = [0, 1, 4].map((i) => bindAll(backend, i));
      expect(graphs.map((name) => backend.executionQueue!(name))).toEqual([0, 0, 2]);
      const ended: string[] = [];
      const run = async (order: string[]): Promise<void> => {
        ended.length = 0;
        await Promise.all(order.map((name) => backend.execute(name).then(() => void ended.push(name))));
      };
      // One context: the promises of back-to-back executes settle in submission order.
      await run([graphs[1], graphs[0], graphs[1], graphs[0]]);
      expect(ended).toEqual([graphs[1], graphs[0], graphs[1], graphs[0]]);
      // Two contexts: no order between them; the simulated provider runs the later context's first.
      await run([graphs[0], graphs[2]]);
      expect(ended).toEqual([graphs[2], graphs[0]]);
    } finally {
      await backend.dispose();
    }
  });

  it('executeAfter across contexts: submitted as the end of the one it follows is seen, before that one\'s promise continues; never after a failure', async () => {
    const provider = sim();
    const backend = await openQnnBackend(ctxBins(float), { provider: 'simulated', simulated: provider, executeMode: 'queued' });
    try {
      // Graph 0 is in the first ctx-bin, graph 4 in the third: two contexts, no order between them.
      const [first, other] = [0, 4].map((i) => bindAll(backend, i));
      const calls = provider.calls('graphExecuteAsync');
      const atLeaderEnd: number[] = [];
      const leader = backend.execute(first).then(() => void atLeaderEnd.push(provider.calls('graphExecuteAsync') - calls));
      const follower = backend.executeAfter!(other, first);
      expect(provider.calls('graphExecuteAsync') - calls).toBe(1);
      await Promise.all([leader, follower]);
      expect(atLeaderEnd).toEqual([2]);

      provider.setFailExecute({ graph: first, code: 6004 });
      const failed = backend.execute(first).then(() => null, (e: unknown) => e);
      const skipped = backend.executeAfter!(other, first).then(() => null, (e: unknown) => e);
      expect(await failed).toBeInstanceOf(QnnError);
      expect(await skipped).toEqual(
        new QnnExecutionNotRunError(`graph "${other}" was not executed: graph "${first}", which it was submitted to follow, failed or was not executed`),
      );
      expect(provider.calls('graphExecuteAsync') - calls).toBe(3);
      provider.setFailExecute(null);
      await expect(backend.executeAfter!('nope', first)).rejects.toThrow(InvalidArgumentError);
      await expect(backend.executeAfter!(other, first)).rejects.toThrow(QnnExecutionNotRunError);
      await backend.execute(first);
      await expect(backend.executeAfter!(other, first)).resolves.toBeUndefined();
    } finally {
      await backend.dispose();
    }
    await expect(backend.executeAfter!(backend.graphs[4].name, backend.graphs[0].name)).rejects.toThrow(QnnDisposedError);
    expect(provider.liveHandles()).toBe(0);
    // Only queued mode queues: elsewhere executeAfter is refused, naming the mode.
    const asyncBackend = await openQnnBackend(ctxBins(float), { provider: 'simulated', simulated: sim(), executeMode: 'async' });
    try {
      const [first, other] = [0, 4].map((i) => bindAll(asyncBackend, i));
      await expect(asyncBackend.executeAfter!(other, first)).rejects.toThrow(
        new InvalidArgumentError(`executeAfter "${other}": only in queued execute mode (this session's is "async")`),
      );
    } finally {
      await asyncBackend.dispose();
    }
  });

  it("async mode past Koffi's limit of calls off the JS thread: the executes refused are InvalidArgumentErrors naming the call, the others run, and the backend goes on", async () => {
    const backend = await openQnnBackend(ctxBins(float), { provider: 'simulated', simulated: sim(), executeMode: 'async' });
    try {
      const graph = bindAll(backend, 0);
      const settled = await Promise.allSettled(Array.from({ length: 600 }, () => backend.execute(graph)));
      const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.length).toBeLessThan(600);
      for (const error of refused) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error.message).toBe(`graphExecute("${graph}"): Koffi's limit of native calls running off the JS thread at once is reached; await some before starting more`);
      }
      await expect(backend.execute(graph)).resolves.toBeUndefined();
    } finally {
      await backend.dispose();
    }
  });

  it('a failing split: the same QnnError as async; the cache is as before the step, and decoding goes on as if it never ran', async () => {
    const want: string[] = [];
    {
      const reference = await openEngine(htp, 'async', sim());
      await reference.prefill(PROMPT);
      for (const token of [5, 6]) {
        await reference.decode(token);
        want.push(rowBits(reference));
      }
      await reference.dispose();
    }
    const errors: QnnError[] = [];
    for (const mode of ['async', 'queued'] as const) {
      const provider = sim();
      let submitted = 0;
      let ended = 0;
      const count = (inner: GraphBackend): GraphBackend =>
        observeBind(inner, ignoreBind, (_graph, run) => {
          submitted++;
          return run().finally(() => void ended++);
        });
      const engine = await openEngine(htp, mode, provider, count);
      try {
        await engine.prefill(PROMPT);
        const { nValid, position } = engine;
        const parts = decodeParts(engine);
        expect(parts.length).toBe(3);
        // The middle split fails: in queued mode the last one is already queued behind it.
        provider.setFailExecute({ graph: parts[1], code: 6004 });
        const error = await engine.decode(5).then(() => null, (e: unknown) => e);
        // Every part submitted has ended when the step fails: none still uses the step's buffers.
        expect(ended).toBe(submitted);
        expect(error, mode).toBeInstanceOf(QnnError);
        errors.push(error as QnnError);
        expect((error as QnnError).functionName).toBe(`graph${mode === 'queued' ? 'ExecuteAsync' : 'Execute'}("${parts[1]}")`);
        expect(engine.nValid).toBe(nValid);
        expect(engine.position).toBe(position);
        provider.setFailExecute(null);
        const got = [5, 6].map(() => '');
        for (const [i, token] of [5, 6].entries()) {
          await engine.decode(token);
          got[i] = rowBits(engine);
        }
        expect(got, mode).toEqual(want);
      } finally {
        await engine.dispose();
      }
      expect(provider.liveHandles()).toBe(0);
    }
    expect(errors[1].qnnCode).toBe(errors[0].qnnCode);
    expect(errors[1].qnnCode).toBe(6004);
    for (const error of errors) expect(error.qnnMessage).toMatch(/graph ".*" fails with 6004 \(failExecute test hook\)/);
  });

  it('dispose during a queued step: the step rejects with DisposedError once every queued part has ended; nothing is freed under them', async () => {
    const provider = sim();
    const engine = await openEngine(float, 'queued', provider);
    await engine.prefill(PROMPT.slice(0, 3));
    const calls = provider.calls('graphExecuteAsync');
    const decoding = engine.decode(7).then(() => null, (e: unknown) => e);
    const disposed = engine.dispose();
    // The first split's context holds only it: the others follow it, submitted only as it ends (so
    // after this call), and dispose waits for them too.
    expect(provider.calls('graphExecuteAsync')).toBe(calls + 1);
    // The simulated contextFree refuses a context with queued executions: dispose resolving shows it waited.
    await expect(disposed).resolves.toBeUndefined();
    const error = await decoding;
    expect(error).toBeInstanceOf(DisposedError);
    expect((error as Error).message).toMatch(/^engine is disposed: dispose\(\) was called while graph ".*" executed; the step was cancelled before its KV update$/);
    expect(provider.liveHandles()).toBe(0);
  });

  it('backend dispose with executions queued waits for every one before freeing (the simulated contextFree refuses otherwise)', async () => {
    const provider = sim();
    const backend = await openQnnBackend(ctxBins(float), { provider: 'simulated', simulated: provider, executeMode: 'queued' });
    const graph = bindAll(backend, 1);
    const runs = [backend.execute(graph), backend.execute(graph), backend.execute(graph)];
    // Rebinding would move the tensors under the queued executions.
    expect(() => bindAll(backend, 1)).toThrow(InvalidArgumentError);
    expect(() => bindAll(backend, 1)).toThrow(`bind "${graph}": 3 execution(s) of the graph still read the bound tensors; bind once they have ended`);
    await expect(backend.dispose()).resolves.toBeUndefined();
    await expect(Promise.all(runs)).resolves.toEqual([undefined, undefined, undefined]);
    expect(provider.liveHandles()).toBe(0);
  });

  it('an abort between prefill chunks leaves the cache as before, and the engine goes on as if the prefill never ran', async () => {
    const reference = await openEngine(float, 'sync', sim());
    await reference.prefill(PROMPT.slice(0, 2));
    await reference.decode(9);
    const want = rowBits(reference);
    await reference.dispose();

    const controller = new AbortController();
    let executes = 0;
    const abortOnFifth = (inner: GraphBackend): GraphBackend =>
      observeBind(inner, ignoreBind, (_graph, run) => {
        if (++executes === 5) controller.abort();
        return run();
      });
    const engine = await openEngine(float, 'queued', sim(), abortOnFifth);
    try {
      await engine.prefill(PROMPT.slice(0, 2));
      const nValid = engine.nValid;
      // 8 more tokens: 2 AR-4 chunks; the abort lands during the first, the second never runs.
      await expect(engine.prefill(PROMPT.slice(2, 10), controller.signal)).resolves.toBeNull();
      expect(engine.nValid).toBe(nValid);
      await engine.decode(9);
      expect(rowBits(engine)).toBe(want);
    } finally {
      await engine.dispose();
    }
  });

  it('with profiling, every execution is collected, in order: the engine is told not to submit before the previous one ended', async () => {
    const provider = sim();
    const executed: string[] = [];
    let queues: boolean | undefined;
    const engine = await Engine.open(qnnConfig(float), {
      baseDir: float.dir,
      backend: { qnn: { provider: 'simulated', simulated: provider, executeMode: 'queued', profiling: 'basic' } },
      wrapBackend: (inner) => {
        queues = inner.queuesExecutions;
        return observeBind(inner, ignoreBind, (graph, run) => (executed.push(graph), run()));
      },
    });
    try {
      expect(queues).toBe(false);
      engine.takeBackendProfile();
      await engine.prefill(PROMPT.slice(0, 6));
      await engine.decode(3);
      const records = engine.takeBackendProfile() as { phase: string; target: string }[];
      expect(executed.length).toBeGreaterThan(3);
      expect(records.map((r) => [r.phase, r.target])).toEqual(executed.map((graph) => ['execute', graph]));
      expect(provider.calls('graphExecuteAsync')).toBe(executed.length);
    } finally {
      await engine.dispose();
    }
  });

  it('refuses queued mode at open when the provider has no graphExecuteAsync', async () => {
    const provider = sim({ nullSlots: ['graphExecuteAsync'] });
    const open = Engine.open(qnnConfig(float), { baseDir: float.dir, backend: { qnn: { provider: 'simulated', simulated: provider, executeMode: 'queued' } } });
    await expect(open).rejects.toThrow(QnnFunctionUnavailableError);
    await expect(
      openQnnBackend(ctxBins(float), { provider: 'simulated', simulated: provider, executeMode: 'queued' }),
    ).rejects.toThrow(
      'QnnSession.open: executeMode "queued" needs graphExecuteAsync: QNN function graphExecuteAsync is not supported by this backend ' +
        '(HTP_QTI_AISW): its table slot 22 is NULL in core API 2.32.0; use executeMode "async"',
    );
    expect(provider.liveHandles()).toBe(0);
  });
});
