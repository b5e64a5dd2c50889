/**
 * When a query's errors surface and when it takes the dialog. `query()` / `tokenQuery()` throw at
 * once when the query cannot start now; the returned generator takes the dialog only at its first
 * `next()` and plans its turn on the dialog as it is then. These rules live in the Dialog, not in a
 * backend, so one backend is enough here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { ContextLimitError } from '../../src/graphs/errors.js';
import { DialogBusyError, type Dialog, type QueryOptions, type QueryResult } from '../../src/runtime/dialog.js';
import { DisposedError } from '../../src/runtime/engine/engine.js';
import { exactError } from '../expect-error.js';
import {
  DialogPool, expectTurnMatchesRecompute, makeModel, silentEos, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type Turn,
} from './fixtures.js';

const CONTEXT = 40;
const BUSY = 'dialog is busy: finish or abort the running query first';

describe('query() throws what stops a query from starting; the generator takes the dialog at its first next()', () => {
  const root = tempDir('runtime-query-start');
  const dialogs = new DialogPool('Reference');
  const model = makeModel({}, 'query-start');
  const vocab = model.config.vocabSize;
  const EOS = silentEos(model);
  const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'query-start', arSet: [1, 32], cl: 128, splits: 1 });
  });
  afterAll(() => dialogs.disposeAll());

  function open(): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, { contextSize: CONTEXT }));
  }

  /** A query generator whose sampled tokens and logits rows are collected (for a generator made ahead of time). */
  function collecting(dialog: Dialog, tokens: number[], options: QueryOptions = {}) {
    const turn = { pieces: [] as string[], sampled: [] as number[], logits: [] as Float32Array[] };
    const generator = dialog.tokenQuery(tokens, {
      ...options,
      onLogits: (row, token) => {
        turn.sampled.push(token);
        turn.logits.push(row.slice());
      },
    });
    const run = async (): Promise<Turn> => {
      for (;;) {
        const step = await generator.next();
        if (step.done) return { ...turn, result: step.value };
        turn.pieces.push(step.value);
      }
    };
    return { generator, run };
  }

  it('busy, empty, too long, a bad option and disposed are thrown by the call itself, and change nothing', async () => {
    const dialog = await open();
    expect(() => dialog.tokenQuery([])).toThrow(
      exactError(InvalidArgumentError, 'the query has no tokens (empty prompt and nothing to carry over)'),
    );
    expect(() => dialog.tokenQuery([], { rewind: true })).toThrow(
      exactError(InvalidArgumentError, 'the rewind query has no tokens (empty prompt and no bos-token)'),
    );
    expect(() => dialog.tokenQuery(ids(CONTEXT + 1, 1))).toThrow(
      exactError(ContextLimitError, 'the prompt needs 41 tokens but only 40 of context.size=40 are left; shorten the prompt'),
    );
    expect(() => dialog.tokenQuery(ids(3, 1), { maxTokens: 0 })).toThrow(
      exactError(InvalidArgumentError, 'maxTokens must be a positive integer, got 0'),
    );

    const running = dialog.tokenQuery(ids(6, 2), { maxTokens: 2 });
    const pending = running.next();
    expect(() => dialog.tokenQuery(ids(3, 3))).toThrow(exactError(DialogBusyError, BUSY));
    expect(() => dialog.query('a')).toThrow(exactError(DialogBusyError, BUSY));
    await pending;
    for (let step = await running.next(); !step.done; step = await running.next());
    expect(dialog.contextUsed).toBe(6 + 1);

    const disposed = await open();
    await disposed.dispose();
    expect(() => disposed.tokenQuery(ids(3, 4))).toThrow(exactError(DisposedError, 'dialog is disposed'));
  });

  it('a generator that is never iterated claims nothing: the dialog stays free and unchanged', async () => {
    const dialog = await open();
    const unused = dialog.tokenQuery(ids(5, 5));
    expect(dialog.contextUsed).toBe(0);
    expect(() => dialog.reset()).not.toThrow();

    const p1 = ids(8, 6);
    const t1 = await tokenTurn(dialog, p1, { maxTokens: 3 });
    expect(t1.result.promptTokens).toEqual(p1);
    expectTurnMatchesRecompute(model, p1, t1);

    const closed = await unused.return(undefined as unknown as QueryResult);
    expect(closed.done).toBe(true);
    expect(dialog.contextUsed).toBe(p1.length + 2);
  });

  it('a generator started while another query runs rejects at its first next(); the running one is unaffected', async () => {
    const dialog = await open();
    const p1 = ids(9, 7);
    const first = collecting(dialog, p1, { maxTokens: 4 });
    const second = dialog.tokenQuery(ids(4, 8));
    const firstDone = first.run();
    await expect(second.next()).rejects.toThrow(exactError(DialogBusyError, BUSY));
    const t1 = await firstDone;
    expect(t1.result.stopReason).toBe('max-tokens');
    expect(t1.result.generatedTokens).toEqual(t1.sampled);
    expectTurnMatchesRecompute(model, p1, t1);
    // The second generator ended with its error: it never runs.
    expect(await second.next()).toEqual({ done: true, value: undefined });
    expect(dialog.contextUsed).toBe(p1.length + 3);
  });

  it('a generator made before another turn continues the conversation as it is when it starts', async () => {
    const dialog = await open();
    const p1 = ids(7, 9);
    const p2 = ids(5, 10);
    const later = collecting(dialog, p2, { maxTokens: 3 });
    const t1 = await tokenTurn(dialog, p1, { maxTokens: 3 });
    const g1 = t1.result.generatedTokens;
    const t2 = await later.run();
    // Genie's turn rules: the last delivered token (never fed), EOS between turns, then the prompt.
    expect(t2.result.promptTokens).toEqual([g1[2], EOS, ...p2]);
    expectTurnMatchesRecompute(model, [...p1, ...g1, EOS, ...p2], t2);
  });

  it('a generator that fitted when made rejects at its first next() once the conversation leaves it no room', async () => {
    const dialog = await open();
    const later = dialog.tokenQuery(ids(10, 11));
    await tokenTurn(dialog, ids(25, 12), { maxTokens: 5 });
    // 25 prompt tokens + 4 fed of the 5 delivered = 29 entries; next: the 5th token, EOS and 10 = 12 > 11 left.
    expect(dialog.contextUsed).toBe(29);
    await expect(later.next()).rejects.toThrow(
      exactError(ContextLimitError, 'the prompt needs 12 tokens but only 11 of context.size=40 are left; call reset() to make room, or shorten the prompt'),
    );
    expect(dialog.contextUsed).toBe(29);
  });

  it('a generator made before reset() starts a fresh conversation; one made before dispose() rejects', async () => {
    const dialog = await open();
    await tokenTurn(dialog, ids(6, 13), { maxTokens: 2 });
    const p2 = ids(5, 14);
    const later = collecting(dialog, p2, { maxTokens: 2 });
    dialog.reset();
    const t2 = await later.run();
    expect(t2.result.promptTokens).toEqual(p2);
    expectTurnMatchesRecompute(model, p2, t2);

    const orphan = dialog.tokenQuery(ids(3, 15));
    await dialog.dispose();
    await expect(orphan.next()).rejects.toThrow(exactError(DisposedError, 'dialog is disposed'));
  });
});
