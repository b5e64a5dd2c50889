/**
 * A query parked at a yield (its generator waiting for the next `next()`) does not hold the dialog:
 * a new query taking the dialog, `reset()`, `dispose()` or its consumer leaving the loop cancel it
 * there, as an abort at that point would, and its result becomes the dialog's `lastResult`. A query
 * inside a model step still makes the others wait (DialogBusyError). These rules live in the Dialog,
 * not in a backend, so one backend is enough here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialogBusyError, type Dialog, type QueryOptions, type QueryResult } from '../../src/runtime/dialog.js';
import { exactError } from '../expect-error.js';
import {
  DialogPool, expectTurnMatchesRecompute, makeModel, silentEos, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle,
} from './fixtures.js';

const CONTEXT = 96;
const BUSY = 'dialog is busy: finish or abort the running query first';

describe('a suspended query is cancelled by a new query, reset(), dispose() or leaving its loop', () => {
  const root = tempDir('runtime-cancel');
  const dialogs = new DialogPool('Reference');
  const model = makeModel({}, 'cancel');
  const vocab = model.config.vocabSize;
  const EOS = silentEos(model);
  const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'cancel', arSet: [1, 32], cl: 128, splits: 1 });
  });
  afterAll(() => dialogs.disposeAll());

  function open(options: { stopSequences?: string[] } = {}): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, { contextSize: CONTEXT, ...options }));
  }

  /** A token query whose sampled tokens are collected, and a way to pull its pieces one by one. */
  function started(dialog: Dialog, tokens: number[], options: QueryOptions = {}) {
    const sampled: number[] = [];
    const logits: Float32Array[] = [];
    const generator = dialog.tokenQuery(tokens, {
      ...options,
      onLogits: (row, token) => {
        sampled.push(token);
        logits.push(row.slice());
      },
    });
    const pieces: string[] = [];
    /** Pulls until `count` pieces arrived (or the query ended: its result). */
    const pull = async (count: number): Promise<QueryResult | undefined> => {
      while (pieces.length < count) {
        const step = await generator.next();
        if (step.done) return step.value;
        pieces.push(step.value);
      }
      return undefined;
    };
    return { generator, sampled, logits, pieces, pull };
  }

  it('an abandoned generator (one next(), then dropped) no longer wedges the dialog: the next query cancels it', async () => {
    const dialog = await open();
    const p1 = ids(9, 1);
    const abandoned = started(dialog, p1);
    expect(await abandoned.pull(1)).toBeUndefined();
    const carried = abandoned.sampled.at(-1)!;

    const p2 = ids(5, 2);
    const t2 = await tokenTurn(dialog, p2, { maxTokens: 3 });
    // The cancelled turn ended as an abort there would: its last token carried over, EOS between turns.
    expect(t2.result.promptTokens).toEqual([carried, EOS, ...p2]);
    expectTurnMatchesRecompute(model, [...p1, ...abandoned.sampled, EOS, ...p2], t2);
    expect(dialog.lastResult).toBe(t2.result);

    // The abandoned generator's next next() ends with its own result, and touches the dialog no more.
    const used = dialog.contextUsed;
    const end = await abandoned.generator.next();
    expect(end.done).toBe(true);
    const cancelled = end.value as QueryResult;
    expect(cancelled).toMatchObject({ stopReason: 'cancelled', promptTokens: p1, generatedTokens: abandoned.sampled });
    expect(cancelled.text).toBe(abandoned.pieces.join(''));
    expect(cancelled.kpis['num-generated-tokens']).toBe(abandoned.sampled.length);
    expect(await abandoned.generator.next()).toEqual({ done: true, value: undefined });
    expect(dialog.contextUsed).toBe(used);
    expect(dialog.lastResult).toBe(t2.result);
  });

  it('cancelling at every yield leaves what an abort at that yield leaves (stop sequences included)', async () => {
    const probe = await open();
    const free = started(probe, ids(7, 3), { maxTokens: 12 });
    const freeEnd = await free.pull(Infinity);
    expect(freeEnd?.stopReason).toBe('max-tokens');
    // A stop sequence from the middle of the free-running text, so that some yields end on it.
    const text = freeEnd!.text;
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2);
    const yields = free.pieces.length;
    expect(yields).toBeGreaterThan(2);

    const p1 = ids(7, 3);
    const p2 = ids(4, 4);
    const reasons = new Set<string>();
    for (let k = 1; k <= yields; k++) {
      // The oracle: an abort fired on receiving the k-th piece (checked when the consumer asks for more).
      const aborting = await open({ stopSequences: [stop] });
      const controller = new AbortController();
      const a = started(aborting, p1, { maxTokens: 12, signal: controller.signal });
      let aborted = await a.pull(k);
      if (aborted === undefined) {
        controller.abort();
        aborted = await a.pull(Infinity);
      }
      const afterAbort = await tokenTurn(aborting, p2, { maxTokens: 3 });

      const cancelling = await open({ stopSequences: [stop] });
      const c = started(cancelling, p1, { maxTokens: 12 });
      let cancelled = await c.pull(k);
      if (cancelled === undefined) {
        const next = await tokenTurn(cancelling, p2, { maxTokens: 3 });
        expect(next.result.promptTokens, `turn after a cancel at yield ${k}`).toEqual(afterAbort.result.promptTokens);
        expect(next.result.generatedTokens, `turn after a cancel at yield ${k}`).toEqual(afterAbort.result.generatedTokens);
        cancelled = (await c.generator.next()).value as QueryResult;
      } else {
        await tokenTurn(cancelling, p2, { maxTokens: 3 });
      }
      expect(cancelled.stopReason, `yield ${k}`).toBe(aborted!.stopReason === 'abort' ? 'cancelled' : aborted!.stopReason);
      expect(cancelled.generatedTokens, `yield ${k}`).toEqual(aborted!.generatedTokens);
      expect(cancelled.text, `yield ${k}`).toBe(aborted!.text);
      reasons.add(cancelled.stopReason);
      await aborting.dispose();
      await cancelling.dispose();
    }
    // Some yields were cut short, at least one came after the stop sequence was complete.
    expect([...reasons]).toContain('cancelled');
    expect([...reasons]).toContain('stop-sequence');
  });

  it('reset() cancels a suspended query; a query inside a step makes reset() and query() throw DialogBusyError', async () => {
    const dialog = await open();
    const q = started(dialog, ids(8, 5));
    await q.pull(2);
    dialog.reset();
    expect(dialog.contextUsed).toBe(0);
    expect(dialog.lastResult).toMatchObject({ stopReason: 'cancelled', generatedTokens: q.sampled });
    expect((await q.generator.next()).value).toBe(dialog.lastResult);

    // Inside a step: the generator runs synchronously up to its first graph execution.
    const other = dialog.tokenQuery(ids(3, 8));
    const stepping = started(dialog, ids(8, 6), { maxTokens: 2 });
    const pending = stepping.generator.next();
    expect(() => dialog.reset()).toThrow(exactError(DialogBusyError, BUSY));
    expect(() => dialog.tokenQuery(ids(3, 7))).toThrow(exactError(DialogBusyError, BUSY));
    await expect(other.next()).rejects.toThrow(exactError(DialogBusyError, BUSY));
    await pending;
    await stepping.pull(Infinity);
    expect(dialog.lastResult?.stopReason).toBe('max-tokens');
  });

  it('a query() call while one is suspended is allowed and changes nothing until its first next()', async () => {
    const dialog = await open();
    const p1 = ids(6, 9);
    const q = started(dialog, p1, { maxTokens: 6 });
    await q.pull(1);
    const waiting = dialog.tokenQuery(ids(4, 10)); // no busy error: it would cancel q when it starts
    const rest = await q.pull(Infinity);
    expect(rest?.stopReason).toBe('max-tokens');
    expect(q.sampled).toHaveLength(6);
    expectTurnMatchesRecompute(model, p1, q);
    // Never iterated: closing it changes nothing either.
    await waiting.return(undefined as never);
    expect(dialog.lastResult).toBe(rest);
  });

  it('break in for await ends the query as cancelled; lastResult and kpis are its own; return() resolves with it', async () => {
    const dialog = await open();
    const first = await tokenTurn(dialog, ids(5, 11), { maxTokens: 8 });
    expect(dialog.lastResult).toBe(first.result);

    const sampled: number[] = [];
    let pieces = 0;
    for await (const piece of dialog.tokenQuery(ids(4, 12), { onLogits: (_, t) => sampled.push(t) })) {
      void piece;
      if (++pieces === 2) break;
    }
    const broken = dialog.lastResult!;
    expect(broken).not.toBe(first.result);
    expect(broken.stopReason).toBe('cancelled');
    expect(broken.generatedTokens).toEqual(sampled);
    expect(dialog.kpis).toBe(broken.kpis);
    expect(broken.kpis['num-generated-tokens']).toBe(sampled.length);
    expect(broken.kpis['num-prompt-tokens']).toBe(broken.promptTokens.length);

    const q = started(dialog, ids(4, 13));
    await q.pull(1);
    const returned = await q.generator.return(undefined as never);
    expect(returned).toEqual({ done: true, value: dialog.lastResult });
    expect(returned.value).toMatchObject({ stopReason: 'cancelled', generatedTokens: q.sampled });
    // The dialog is free and continues the conversation.
    const next = await tokenTurn(dialog, ids(3, 14), { maxTokens: 2 });
    expect(next.result.promptTokens.slice(0, 2)).toEqual([q.sampled.at(-1), EOS]);
  });

  it('a rewind query cancels a suspended one and reuses what that left in the KV cache', async () => {
    const dialog = await open();
    const p1 = ids(6, 20);
    const q = started(dialog, p1);
    await q.pull(2);
    // The conversation so far, then a new user turn: everything but the never-fed last token is cached.
    const conversation = [...p1, ...q.sampled, ...ids(3, 21)];
    const t = await tokenTurn(dialog, conversation, { rewind: true, maxTokens: 2 });
    expect(t.result.reusedTokens).toBe(p1.length + q.sampled.length - 1);
    expectTurnMatchesRecompute(model, conversation, t);
    expect((await q.generator.next()).value).toMatchObject({ stopReason: 'cancelled', generatedTokens: q.sampled });
  });

  it('throw() at a yield ends the query as cancelled and rethrows; dispose() cancels a suspended query', async () => {
    const dialog = await open();
    const q = started(dialog, ids(6, 15));
    await q.pull(1);
    await expect(q.generator.throw(new RangeError('consumer gave up'))).rejects.toThrow('consumer gave up');
    expect(dialog.lastResult).toMatchObject({ stopReason: 'cancelled', generatedTokens: q.sampled });
    await tokenTurn(dialog, ids(3, 16), { maxTokens: 2 });

    const r = started(dialog, ids(6, 17));
    await r.pull(1);
    await dialog.dispose();
    const end = await r.generator.next();
    expect(end).toEqual({ done: true, value: expect.objectContaining({ stopReason: 'cancelled', generatedTokens: r.sampled }) });
  });

  it('a query that fails with an error leaves no lastResult', async () => {
    const dialog = await open();
    await tokenTurn(dialog, ids(5, 18), { maxTokens: 2 });
    expect(dialog.lastResult).toBeDefined();
    const failing = dialog.tokenQuery(ids(3, 19), {
      onLogits: () => {
        throw new RangeError('no');
      },
    });
    await expect(failing.next()).rejects.toThrow('no');
    expect(dialog.lastResult).toBeUndefined();
    expect(dialog.kpis).toBeUndefined();
  });
});
