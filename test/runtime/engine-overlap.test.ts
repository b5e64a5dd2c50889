/**
 * The engine's split-by-split KV commit (Engine `runOverlapped`): while split p runs, split p - 1's
 * new entries are copied, and the last split's wait for the next step. Oracle: the same steps on an
 * engine with a step listener, whose path commits the whole step at once after its last split.
 * The backend under test completes each execute a timer later, running the graph only then, so the
 * copies really happen while a graph is "running". A split that fails drops the step's staged
 * entries (the cache is as before the step) and keeps the previous step's.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import type { GraphBackend } from '../../src/backends/backend.js';
import { openReferenceBackend, splitQwen2Checkpoint } from '../../src/backends/reference/index.js';
import { randomWeights, tinyConfig } from '../backends/reference/qwen2-oracle.js';
import { tempDir, writeParts } from '../backends/reference/fixtures.js';
import { Engine } from '../../src/runtime/engine/index.js';
import { writeBundle } from '../backends/qnn/bundle.js';
import { logitsHex } from './engine/logits-hex.js';

const OPTIONS = { contextSize: 16, padToken: 0, eosToken: 1, rope: { theta: 1e4, scaling: { type: 'default' as const } } };
let paths: string[];

beforeAll(async () => {
  ({ paths } = await writeBundle('engine-overlap'));
});

/**
 * `inner` whose executes run a timer later (the JS thread is free meanwhile, as with QnnHtp async);
 * `failOn(graph, n)` makes that graph's n-th execute from now reject, or throw at the call with `sync`.
 */
function laterBackend(inner: GraphBackend): GraphBackend & { failOn(graph: string, sync?: boolean): void; calls: string[] } {
  let failing: { graph: string; sync: boolean } | null = null;
  const calls: string[] = [];
  return {
    type: inner.type,
    graphs: inner.graphs,
    executesOffThread: true,
    calls,
    failOn(graph, sync = false) {
      failing = { graph, sync };
    },
    allocate: (n) => inner.allocate(n),
    bind: (graph, buffers) => inner.bind(graph, buffers),
    execute(graph) {
      calls.push(graph);
      if (failing?.graph === graph) {
        const { sync } = failing;
        failing = null;
        const error = new Error(`graph "${graph}" failed`);
        if (sync) throw error;
        return new Promise((_, reject) => setTimeout(() => reject(error), 1));
      }
      return new Promise((resolve, reject) => setTimeout(() => inner.execute(graph).then(resolve, reject), 1));
    },
    dispose: () => inner.dispose(),
  };
}

/**
 * `inner` as a backend that queues executions (`queuesExecutions`): graph `g`'s executions join
 * queue `queueOf(g)`, where each runs a timer after the one before it has ended; the queues run
 * side by side, so an execution submitted before the one it depends on (in another queue) has
 * ended runs on stale inputs. `submitted` counts the submissions. With `follows`, it has
 * `executeAfter`: the graph is submitted once the latest execution of the one it follows has
 * ended with success (`followed` counts the calls), and rejects unrun when that one failed.
 * `failOn(graph)` makes that graph's next execution fail after it ran.
 */
function queuedBackend(
  inner: GraphBackend,
  queueOf: (graph: string) => number,
  follows = false,
): GraphBackend & { submitted: number; followed: number; failOn(graph: string): void } {
  const tails = new Map<number, Promise<void>>();
  const latest = new Map<string, Promise<void>>();
  let failing: string | null = null;
  const submit = (graph: string): Promise<void> => {
    backend.submitted++;
    const queue = queueOf(graph);
    const fails = failing === graph;
    if (fails) failing = null;
    const run = (tails.get(queue) ?? Promise.resolve()).then(
      () =>
        new Promise<void>((resolve, reject) =>
          setTimeout(() => inner.execute(graph).then(() => (fails ? reject(new Error(`graph "${graph}" failed`)) : resolve()), reject), 1),
        ),
    );
    tails.set(queue, run.catch(() => undefined));
    latest.set(graph, run);
    return run;
  };
  const backend = {
    type: inner.type,
    graphs: inner.graphs,
    executesOffThread: true,
    queuesExecutions: true,
    submitted: 0,
    followed: 0,
    failOn(graph: string): void {
      failing = graph;
    },
    executionQueue: queueOf,
    ...(follows
      ? {
        executeAfter(graph: string, previous: string): Promise<void> {
          backend.followed++;
          const run = latest.get(previous)!.then(
            () => submit(graph),
            () => Promise.reject(new Error(`graph "${graph}" not run`)),
          );
          latest.set(graph, run);
          return run;
        },
      }
      : {}),
    allocate: (n: number) => inner.allocate(n),
    bind: (graph: string, buffers: ReadonlyMap<string, Uint8Array>) => inner.bind(graph, buffers),
    execute: submit,
    dispose: () => inner.dispose(),
  };
  return backend;
}

function kvHex(engine: Engine): string[] {
  const cache = engine.kvCache.cache;
  return Array.from({ length: cache.slotCount }, (_, s) => {
    const { key, value } = cache.readEntries(s);
    return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex') + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  });
}

async function pair(): Promise<{ overlapped: Engine; backend: ReturnType<typeof laterBackend>; oracle: Engine }> {
  const backend = laterBackend(await openReferenceBackend(paths));
  const overlapped = Engine.create(backend, OPTIONS);
  const oracle = Engine.create(await openReferenceBackend(paths), OPTIONS);
  oracle.setStepListener(() => {}, 'whole-step commit');
  return { overlapped, backend, oracle };
}

describe('Engine: KV commits overlapped with the next split', () => {
  it('prefill chunks, decodes, a rewind and an eviction give the logits and cache of whole-step commits', async () => {
    const { overlapped, oracle } = await pair();
    const both = async (f: (e: Engine) => Promise<unknown> | unknown): Promise<void> => {
      await f(overlapped);
      await f(oracle);
      expect(overlapped.nValid).toBe(oracle.nValid);
      expect(overlapped.position).toBe(oracle.position);
      expect(logitsHex(overlapped)).toBe(logitsHex(oracle));
    };
    await both((e) => e.prefill([5, 17, 3, 250, 9, 11, 2]));
    for (const token of [42, 7, 99]) await both((e) => e.decode(token));
    // nValid counts the staged entries; reading the cache finishes them first.
    expect(kvHex(overlapped)).toEqual(kvHex(oracle));
    await both((e) => e.decode(8));
    await both((e) => e.rewind(6));
    await both((e) => e.decode(13));
    await both((e) => e.evict([1, 3]));
    for (const token of [21, 34]) await both((e) => e.decode(token));
    await both((e) => e.prefill([4, 4, 6, 8, 10]));
    expect(kvHex(overlapped)).toEqual(kvHex(oracle));
    await overlapped.dispose();
    await oracle.dispose();
  });

  it('dispose finishes the commit the last step left staged before the backend frees the memory', async () => {
    const inner = laterBackend(await openReferenceBackend(paths));
    let stagedAtFree: boolean | undefined;
    const engine = Engine.create(
      {
        ...inner,
        executesOffThread: true,
        dispose: () => {
          // The KV part's manager, read without finishing anything (its `cache` getter would).
          stagedAtFree = (engine.kvCache as unknown as { manager: { updating: boolean } }).manager.updating;
          return inner.dispose();
        },
      },
      OPTIONS,
    );
    await engine.prefill([5, 17, 3]);
    await engine.decode(42);
    expect((engine.kvCache as unknown as { manager: { updating: boolean } }).manager.updating).toBe(true);
    await engine.dispose();
    expect(stagedAtFree).toBe(false);
  });

  /** The split index of a part's graph name (`..._<i>_of_<n>`). */
  const splitOf = (graph: string): number => Number(/_(\d+)_of_\d+$/.exec(graph)![1]);
  const AHEAD_BACKENDS: Record<string, (recording: GraphBackend) => GraphBackend> = {
    'executing off the JS thread': laterBackend,
    'queueing every split in one queue': (recording) => queuedBackend(recording, () => 0),
    'queueing a split per queue, each following the one before': (recording) => queuedBackend(recording, splitOf, true),
    'queueing a split per queue, without executeAfter': (recording) => queuedBackend(recording, splitOf),
  };
  for (const [kind, wrap] of Object.entries(AHEAD_BACKENDS)) {
    it(`${kind}: writes the first split's mask and cos/sin for the next step (a prefill's next chunk, a decode step) while the later split runs; a step that is not that one rewrites them`, async () => {
      const inner = await openReferenceBackend(paths);
      const STEP_INPUTS = ['attention_mask', 'position_ids_cos', 'position_ids_sin'];
      const bound = new Map<string, ReadonlyMap<string, Uint8Array>>();
      const firstParts = new Set<string>();
      /** The first parts' step-position inputs (every variant's view): at each execute's end, and at each first part's submission. */
      const firstCopies = (): string =>
        [...firstParts].map((graph) => STEP_INPUTS.map((name) => Buffer.from(bound.get(graph)!.get(name)!).toString('hex')).join()).join();
      let atLastEnd = '';
      /** Per step from the second on: its first split's inputs were already written when the step before it ended. */
      const readyAtSubmission: boolean[] = [];
      let steps = 0;
      const recording: GraphBackend = {
        type: inner.type,
        graphs: inner.graphs,
        allocate: (n) => inner.allocate(n),
        bind: (graph, buffers) => {
          inner.bind(graph, buffers);
          bound.set(graph, buffers);
        },
        execute: (graph) => {
          if (firstParts.has(graph) && steps++ > 0) readyAtSubmission.push(firstCopies() === atLastEnd);
          return inner.execute(graph).then(() => {
            atLastEnd = firstCopies();
          });
        },
        dispose: () => inner.dispose(),
      };
      const backend = wrap(recording);
      const engine = Engine.create(backend, OPTIONS);
      for (const variant of engine.layout.variants) firstParts.add(variant.parts[0].name);
      const oracle = Engine.create(await openReferenceBackend(paths), OPTIONS);
      /** What the oracle's first split read (its whole-step path writes every input at the step's start). */
      let firstSplitRead: string[] = [];
      oracle.setStepListener((event) => {
        firstSplitRead = STEP_INPUTS.map((name) => Buffer.from(event.splits[0].tensor(name)!.bytes()).toString('hex'));
      }, 'first split inputs');
      const decodeParts = engine.layout.variants.find((v) => v.ar === 1)!.parts.map((p) => p.name);
      expect(decodeParts.length).toBeGreaterThan(1);
      /** The step inputs the first decode split reads, as they are now (before the next step starts). */
      const firstSplitHolds = (): string[] => STEP_INPUTS.map((name) => Buffer.from(bound.get(decodeParts[0])!.get(name)!).toString('hex'));
      const both = async (f: (e: Engine) => Promise<unknown> | unknown, writtenAhead: boolean | null): Promise<void> => {
        const before = firstSplitHolds();
        await f(engine);
        await f(oracle);
        expect(logitsHex(engine)).toBe(logitsHex(oracle));
        // Written ahead: the inputs were already what the step read before it started.
        if (writtenAhead !== null) expect(before.map((hex, i) => hex === firstSplitRead[i])).toEqual(STEP_INPUTS.map(() => writtenAhead));
      };
      await both((e) => e.prefill([5, 17, 3, 250, 9, 11, 2]), null);
      for (const token of [42, 7, 99]) await both((e) => e.decode(token), true);
      // A gap in positions: the mask holds (slots are unchanged), cos/sin are rewritten at the step's start.
      await both((e) => e.setPosition(e.position + 3), null);
      const gapBefore = firstSplitHolds();
      await both((e) => e.decode(8), null);
      expect(gapBefore.map((hex, i) => hex === firstSplitRead[i])).toEqual([true, false, false]);
      await both((e) => e.decode(9), true);
      await both((e) => e.rewind(6), null);
      await both((e) => e.decode(13), false);
      await both((e) => e.decode(14), true);
      await both((e) => e.prefill([4, 4, 6]), null);
      await both((e) => e.decode(15), true);
      // A prefill of 5 chunks of AR-4 and AR-1 steps: from the second chunk on, each step's inputs
      // were written while the step before it ran (the last chunk's for the decode after it).
      readyAtSubmission.length = 0;
      await both((e) => e.rewind(2), null);
      await both((e) => e.prefill([3, 1, 4, 1, 5, 9, 2, 6, 5]), null);
      await both((e) => e.decode(16), true);
      expect(readyAtSubmission.length).toBeGreaterThanOrEqual(3);
      expect(readyAtSubmission.slice(1)).toEqual(readyAtSubmission.slice(1).map(() => true));
      expect(kvHex(engine)).toEqual(kvHex(oracle));
      await engine.dispose();
      await oracle.dispose();
    });
  }

  const LAYOUTS: Record<string, (graph: string) => number> = {
    'one queue for every split': () => 0,
    'a queue per split (a ctx-bin per split)': splitOf,
    'the last split in a queue of its own': (graph) => (splitOf(graph) === 2 ? 1 : 0),
  };
  for (const [layout, queueOf] of Object.entries(LAYOUTS)) {
    it(`queued executions, ${layout}: the parts of a queue are submitted at once, another queue's after them; logits and cache of whole-step commits`, async () => {
      const backend = queuedBackend(await openReferenceBackend(paths), queueOf);
      const queued = Engine.create(backend, OPTIONS);
      const oracle = Engine.create(await openReferenceBackend(paths), OPTIONS);
      oracle.setStepListener(() => {}, 'whole-step commit');
      const parts = queued.layout.variants.find((v) => v.ar === 1)!.parts.map((p) => p.name);
      const firstQueue = parts.filter((name) => queueOf(name) === queueOf(parts[0])).length;
      for (const e of [queued, oracle]) await e.prefill([5, 17, 3, 250, 9, 11, 2]);
      for (const token of [42, 7, 99, 8]) {
        const before = backend.submitted;
        const decoding = queued.decode(token);
        expect(backend.submitted - before).toBe(firstQueue);
        await decoding;
        expect(backend.submitted - before).toBe(parts.length);
        await oracle.decode(token);
        expect(logitsHex(queued)).toBe(logitsHex(oracle));
      }
      expect(kvHex(queued)).toEqual(kvHex(oracle));
      await queued.dispose();
      await oracle.dispose();
    });
  }

  /** A 3-split bundle: the layouts where a part follows another and a later one shares its queue. */
  let threeSplits: string[];
  beforeAll(async () => {
    const config = tinyConfig({ numHiddenLayers: 3 });
    const parts = splitQwen2Checkpoint({ config, weights: randomWeights(config, 'engine-follow'), arSet: [1, 4], cl: 16, splits: 3, inputKind: 'ids' });
    threeSplits = await writeParts(tempDir('engine-follow'), 'model', parts);
  });
  const FOLLOW_LAYOUTS: Record<string, (graph: string) => number> = {
    'a queue per split': splitOf,
    'the first split in a queue of its own': (graph) => (splitOf(graph) === 1 ? 0 : 1),
    'the last split in a queue of its own': (graph) => (splitOf(graph) === 3 ? 1 : 0),
  };
  for (const [layout, queueOf] of Object.entries(FOLLOW_LAYOUTS)) {
    it(`a backend with executeAfter, ${layout}: from the first queue change every part follows the one before it, all requested within the call; logits and cache of whole-step commits`, async () => {
      const backend = queuedBackend(await openReferenceBackend(threeSplits), queueOf, true);
      const queued = Engine.create(backend, OPTIONS);
      const oracle = Engine.create(await openReferenceBackend(threeSplits), OPTIONS);
      oracle.setStepListener(() => {}, 'whole-step commit');
      const parts = queued.layout.variants.find((v) => v.ar === 1)!.parts.map((p) => p.name);
      expect(parts.length).toBe(3);
      const firstChange = parts.findIndex((name) => queueOf(name) !== queueOf(parts[0]));
      for (const e of [queued, oracle]) await e.prefill([5, 17, 3, 250, 9, 11, 2]);
      for (const token of [42, 7, 99, 8]) {
        const [submitted, followed] = [backend.submitted, backend.followed];
        const decoding = queued.decode(token);
        // The parts before the first queue change are submitted, the others follow: nothing waits for the engine's turn.
        expect([backend.submitted - submitted, backend.followed - followed]).toEqual([firstChange, parts.length - firstChange]);
        await decoding;
        expect(backend.submitted - submitted).toBe(parts.length);
        await oracle.decode(token);
        expect(logitsHex(queued)).toBe(logitsHex(oracle));
      }
      expect(kvHex(queued)).toEqual(kvHex(oracle));
      // A failing first part: the step fails with its error, the cache is as before the step, and
      // decoding goes on as the oracle's.
      const before = queued.nValid;
      const submitted = backend.submitted;
      backend.failOn(parts[0]);
      await expect(queued.decode(5)).rejects.toThrow(`graph "${parts[0]}" failed`);
      // A follower of the failed part never runs; one following a later part of its queue (which
      // still ran, as QNN runs a context's queue) does.
      expect(backend.submitted - submitted).toBe(firstChange === 1 ? 1 : parts.length);
      expect(queued.nValid).toBe(before);
      expect(kvHex(queued)).toEqual(kvHex(oracle));
      for (const e of [queued, oracle]) await e.decode(5);
      expect(logitsHex(queued)).toBe(logitsHex(oracle));
      expect(kvHex(queued)).toEqual(kvHex(oracle));
      await queued.dispose();
      await oracle.dispose();
    });
  }

  for (const sync of [false, true]) {
    it(`a split that fails (${sync ? 'throwing at the call' : 'rejecting later'}) leaves the cache as before the step, the previous step's entries included`, async () => {
      const { overlapped, backend, oracle } = await pair();
      for (const e of [overlapped, oracle]) {
        await e.prefill([5, 17, 3, 250, 9]);
        await e.decode(42); // its last split's entries are still staged in `overlapped`
      }
      const before = overlapped.nValid;
      const parts = overlapped.layout.variants.find((v) => v.ar === 1)!.parts.map((p) => p.name);
      for (const failing of [parts[0], parts[1]]) {
        backend.failOn(failing, sync);
        await expect(overlapped.decode(7)).rejects.toThrow(`graph "${failing}" failed`);
        expect(overlapped.nValid).toBe(before);
      }
      expect(kvHex(overlapped)).toEqual(kvHex(oracle));
      for (const e of [overlapped, oracle]) await e.decode(7);
      expect(logitsHex(overlapped)).toBe(logitsHex(oracle));
      expect(kvHex(overlapped)).toEqual(kvHex(oracle));
      await overlapped.dispose();
      await oracle.dispose();
    });
  }
});
