/**
 * Concurrency: two dialogs in one process (on QnnHtp, on one simulated provider) stay isolated when
 * their queries interleave; abort, reset and dispose racing with a query, both while it is parked at a
 * yield and while one of its steps is in flight, at several points of the query: never a crash, and
 * afterwards the dialog is usable (its next query equals the same query on a fresh dialog) or cleanly
 * disposed (typed errors, no live native handle).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisposedError } from '../../src/runtime/engine/index.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { DialogBusyError } from '../../src/runtime/dialog-state.js';
import type { QueryResult } from '../../src/runtime/dialog-types.js';
import { createSimulatedQnn, type SimulatedQnn } from '../../src/simulator/index.js';
import {
  BACKENDS, dialogConfig, makeModel, maxRowDiff, sharedTokenizer, tempDir, tokenIds, tokenTurn, writeBundle,
  type BackendKind, type Bundle, type Turn,
} from '../runtime/fixtures.js';

const model = makeModel({}, 'concurrency');
const vocab = model.config.vocabSize;
const PROMPT_A = tokenIds(20, 1, 1, vocab - 2);
const PROMPT_B = tokenIds(13, 2, 1, vocab - 2);
const AFTER = tokenIds(6, 3, 1, vocab - 2);
const MAX = 10;

describe.each(BACKENDS)('%s: concurrent dialogs and racing calls', (backend: BackendKind) => {
  const root = tempDir('concurrency');
  let bundle: Bundle;
  /** One provider for every QnnHtp dialog of this file: "two dialogs on one provider". */
  let sim: SimulatedQnn | undefined;
  /** The undisturbed turns, from fresh dialogs: the oracle of isolation and of "usable afterwards". */
  let freshA: Turn;
  let freshB: Turn;
  let freshAfter: Turn;

  async function open(): Promise<Dialog> {
    return Dialog.create(dialogConfig(bundle, { backend }), {
      baseDir: bundle.dir,
      tokenizer: await sharedTokenizer(),
      backend: sim ? { qnn: { provider: 'simulated', simulated: sim } } : undefined,
    });
  }

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'c', arSet: [1, 8], cl: 128, splits: 2 });
    sim = backend === 'QnnHtp' ? createSimulatedQnn() : undefined;
    for (const [prompt, set] of [
      [PROMPT_A, (t: Turn) => (freshA = t)],
      [PROMPT_B, (t: Turn) => (freshB = t)],
      [AFTER, (t: Turn) => (freshAfter = t)],
    ] as const) {
      const d = await open();
      set(await tokenTurn(d, prompt, { maxTokens: MAX }));
      await d.dispose();
    }
    if (sim) expect(sim.liveHandles()).toBe(0);
  });
  afterAll(() => {
    if (sim) expect(sim.liveHandles()).toBe(0);
    sim?.dispose();
  });

  /** The dialog is back to a clean conversation and runs a query exactly as a fresh one does. */
  async function expectUsableAfterReset(d: Dialog): Promise<void> {
    d.reset();
    const turn = await tokenTurn(d, AFTER, { maxTokens: MAX });
    expect(turn.sampled).toEqual(freshAfter.sampled);
    expect(maxRowDiff(turn, freshAfter)).toBe(0);
  }

  async function expectCleanlyDisposed(d: Dialog): Promise<void> {
    expect(() => d.tokenQuery(AFTER)).toThrow(DisposedError);
    expect(() => d.reset()).toThrow(DisposedError);
    await d.dispose();
  }

  it('two dialogs whose queries interleave step by step give the tokens and logits of each alone', async () => {
    const a = await open();
    const b = await open();
    const [turnA, turnB] = await Promise.all([tokenTurn(a, PROMPT_A, { maxTokens: MAX }), tokenTurn(b, PROMPT_B, { maxTokens: MAX })]);
    expect(turnA.sampled).toEqual(freshA.sampled);
    expect(turnB.sampled).toEqual(freshB.sampled);
    expect(maxRowDiff(turnA, freshA)).toBe(0);
    expect(maxRowDiff(turnB, freshB)).toBe(0);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  /** Steps through a query until `yields` pieces were delivered; returns the parked generator. */
  async function parkedAt(d: Dialog, yields: number, signal?: AbortSignal): Promise<AsyncGenerator<string, QueryResult>> {
    const generator = d.tokenQuery(PROMPT_A, { maxTokens: MAX, signal });
    for (let i = 0; i < yields; i++) expect((await generator.next()).done).toBe(false);
    return generator;
  }

  async function finish(generator: AsyncGenerator<string, QueryResult>): Promise<QueryResult> {
    for (;;) {
      const next = await generator.next();
      if (next.done) return next.value;
    }
  }

  describe.each([1, 2, 5])('while the query is parked at yield %i', (yields) => {
    it('abort: the query ends with stop reason "abort", the dialog is usable', async () => {
      const d = await open();
      const controller = new AbortController();
      const generator = await parkedAt(d, yields, controller.signal);
      controller.abort();
      const result = await finish(generator);
      expect(result.stopReason).toBe('abort');
      expect(result.generatedTokens.length).toBeLessThanOrEqual(yields + 1);
      await expectUsableAfterReset(d);
      await d.dispose();
    });

    it('reset: the parked query is cancelled (stop reason "cancelled"), the dialog is usable', async () => {
      const d = await open();
      const generator = await parkedAt(d, yields);
      d.reset();
      expect(d.contextUsed).toBe(0);
      const result = await finish(generator);
      expect(result.stopReason).toBe('cancelled');
      expect(d.contextUsed).toBe(0);
      await expectUsableAfterReset(d);
      await d.dispose();
    });

    it('dispose: the parked query is cancelled and the dialog cleanly disposed', async () => {
      const d = await open();
      const generator = await parkedAt(d, yields);
      await d.dispose();
      const result = await finish(generator);
      expect(result.stopReason).toBe('cancelled');
      await expectCleanlyDisposed(d);
      if (sim) expect(sim.liveHandles()).toBe(0);
    });

    it('a second query on the same dialog cancels the parked one and runs as after it', async () => {
      const d = await open();
      const generator = await parkedAt(d, yields);
      const second = d.tokenQuery(AFTER, { maxTokens: 2 });
      const secondResult = await finish(second);
      expect(secondResult.stopReason).toBe('max-tokens');
      expect((await finish(generator)).stopReason).toBe('cancelled');
      await expectUsableAfterReset(d);
      await d.dispose();
    });
  });

  describe.each([0, 1, 4])('while a step is in flight (after %i delivered pieces)', (yields) => {
    it('abort lands at the next step: at most one more token', async () => {
      const d = await open();
      const controller = new AbortController();
      const generator = await parkedAt(d, yields, controller.signal);
      const inFlight = generator.next();
      controller.abort();
      const first = await inFlight;
      const result = first.done ? first.value : await finish(generator);
      expect(result.stopReason).toBe('abort');
      expect(result.generatedTokens.length).toBeLessThanOrEqual(yields + 2);
      await expectUsableAfterReset(d);
      await d.dispose();
    });

    it('reset and a second query are DialogBusyError; the running query ends undisturbed', async () => {
      const d = await open();
      const generator = await parkedAt(d, yields);
      const inFlight = generator.next();
      expect(() => d.reset()).toThrow(DialogBusyError);
      expect(() => d.tokenQuery(AFTER)).toThrow(DialogBusyError);
      const first = await inFlight;
      expect(first.done).toBe(false);
      const result = await finish(generator);
      expect(result.stopReason).toBe('max-tokens');
      expect(result.generatedTokens).toEqual(freshA.sampled);
      await expectUsableAfterReset(d);
      await d.dispose();
    });

    it('dispose waits for the step; the query rejects with DisposedError; no native handle is left', async () => {
      const d = await open();
      const generator = await parkedAt(d, yields);
      const inFlight = generator.next();
      const disposed = d.dispose();
      await expect(inFlight).rejects.toThrow(DisposedError);
      await disposed;
      await expectCleanlyDisposed(d);
      if (sim) expect(sim.liveHandles()).toBe(0);
    });
  });
});
