import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextLimitError } from '../../src/graphs/errors.js';
import { DialogBusyError, type Dialog, type QueryOptions } from '../../src/runtime/dialog.js';
import { exactError } from '../expect-error.js';
import {
  BACKENDS, DialogPool, expectTurnMatchesRecompute, makeModel, maxRowDiff, silentEos, tempDir, tokenIds, tokenTurn,
  writeBundle, type Bundle, type Turn,
} from './fixtures.js';

const CL = 128;
const CONTEXT = 40;

describe.each(BACKENDS)('%s: context limit, abort and concurrency leave the dialog usable', (backend) => {
  const root = tempDir('runtime-limits');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'limits');
  const vocab = model.config.vocabSize;
  const EOS = silentEos(model);
  const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);
  let bundle: Bundle;

  function open(contextSize = CONTEXT): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, { contextSize }));
  }

  /** Runs a query expected to fail mid-stream; returns what it sampled and streamed before the error. */
  async function failingTurn(dialog: Dialog, tokens: number[], options: QueryOptions = {}) {
    const sampled: number[] = [];
    const logits: Float32Array[] = [];
    const pieces: string[] = [];
    let error: unknown;
    try {
      const query = dialog.tokenQuery(tokens, {
        ...options,
        onLogits: (row, token) => {
          sampled.push(token);
          logits.push(row.slice());
        },
      });
      for await (const piece of query) pieces.push(piece);
    } catch (caught) {
      error = caught;
    }
    return { error, sampled, logits, pieces };
  }

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'limits', arSet: [1, 32], cl: CL, splits: 2 });
  });
  afterAll(() => dialogs.disposeAll());

  describe('context limit', () => {
    it('a prompt longer than context.size fails when query() is called; a shorter one then works without reset', async () => {
      const dialog = await open();
      expect(() => dialog.tokenQuery(ids(CONTEXT + 1, 1))).toThrow(
        exactError(ContextLimitError, 'the prompt needs 41 tokens but only 40 of context.size=40 are left; shorten the prompt'),
      );
      expect(dialog.contextUsed).toBe(0);

      const prompt = ids(10, 2);
      const turn = await tokenTurn(dialog, prompt, { maxTokens: 5 });
      expect(turn.result.promptTokens).toEqual(prompt);
      expectTurnMatchesRecompute(model, prompt, turn);
    });

    it('a next turn that no longer fits fails unchanged, and one that fits still continues the conversation', async () => {
      const dialog = await open();
      const p1 = ids(20, 3);
      const t1 = await tokenTurn(dialog, p1, { maxTokens: 5 });
      const used = dialog.contextUsed;
      expect(used).toBe(24);
      // The turn adds the carried-over token and EOS before the prompt: 24 + 2 + 15 > 40.
      expect(() => dialog.tokenQuery(ids(15, 4))).toThrow(
        exactError(ContextLimitError, 'the prompt needs 17 tokens but only 16 of context.size=40 are left; call reset() to make room, or shorten the prompt'),
      );
      expect(dialog.contextUsed).toBe(used);

      const p2 = ids(6, 5);
      const t2 = await tokenTurn(dialog, p2, { maxTokens: 3 });
      const g1 = t1.result.generatedTokens;
      expect(t2.result.promptTokens).toEqual([g1[4], EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...g1, EOS, ...p2], t2);
    });

    it('generation that reaches context.size throws ContextLimitError; after reset the output equals a fresh dialog', async () => {
      const dialog = await open();
      const prompt = ids(30, 6);
      const run = await failingTurn(dialog, prompt);
      expect(run.error).toBeInstanceOf(ContextLimitError);
      expect((run.error as Error).message).toBe('context.size=40 reached after 11 generated tokens; cap the reply (maxTokens), or reset() the dialog to make room');
      // Tokens sampled: one from the prompt step, then one per decode while n_past + 1 <= 40.
      expect(run.sampled).toHaveLength(CONTEXT - prompt.length + 1);
      expectTurnMatchesRecompute(model, prompt, run);
      expect(dialog.contextUsed).toBe(CONTEXT);

      // The last delivered token was never fed: it and EOS come before the 2 prompt tokens.
      expect(() => dialog.tokenQuery(ids(2, 7))).toThrow(
        exactError(ContextLimitError, 'the prompt needs 4 tokens but only 0 of context.size=40 are left; call reset() to make room, or shorten the prompt'),
      );
      dialog.reset();
      expect(dialog.contextUsed).toBe(0);
      const again = await tokenTurn(dialog, prompt, { maxTokens: 8 });
      const fresh = await tokenTurn(await open(), prompt, { maxTokens: 8 });
      expect(again.result.promptTokens).toEqual(prompt);
      expect(again.sampled).toEqual(fresh.sampled);
      expect(again.sampled).toEqual(run.sampled.slice(0, 8));
      expect(maxRowDiff(again, fresh)).toBe(0);
    });

    it('the reply that reached context.size is lastResult, stop reason context-limit (Genie\'s WARNING_CONTEXT_EXCEEDED)', async () => {
      const dialog = await open();
      const prompt = ids(30, 6);
      const run = await failingTurn(dialog, prompt);
      expect(run.error).toBeInstanceOf(ContextLimitError);
      const result = dialog.lastResult!;
      expect(result.stopReason).toBe('context-limit');
      expect(result.promptTokens).toEqual(prompt);
      // Every sampled token was delivered (the silent EOS never comes): the reply is all of them.
      expect(result.generatedTokens).toEqual(run.sampled);
      expect(result.text).toBe(run.pieces.join(''));
      expect(result.kpis['num-generated-tokens']).toBe(run.sampled.length);
      expect(dialog.kpis).toBe(result.kpis);
      // The error carries the partial result too.
      expect((run.error as ContextLimitError).result).toBe(result);
    });

    it('a prompt that does not fit leaves no result of its own', async () => {
      const dialog = await open();
      expect(() => dialog.tokenQuery(ids(CONTEXT + 1, 1))).toThrow(ContextLimitError);
      try {
        dialog.tokenQuery(ids(CONTEXT + 1, 1));
      } catch (error) {
        expect((error as ContextLimitError).result).toBeUndefined();
      }
      expect(dialog.lastResult).toBeUndefined();
    });

    it('with context.size equal to the CL, the binaries’ own limit is a ContextLimitError too', async () => {
      const dialog = await open(CL);
      const run = await failingTurn(dialog, ids(CL - 8, 8));
      expect(run.error).toBeInstanceOf(ContextLimitError);
      expect(run.sampled.length).toBeGreaterThan(0);
      dialog.reset();
      const turn = await tokenTurn(dialog, ids(5, 9), { maxTokens: 3 });
      expectTurnMatchesRecompute(model, ids(5, 9), turn);
    });
  });

  describe('abort', () => {
    it('an already aborted signal runs nothing; the next turn is as if the query never happened', async () => {
      const dialog = await open();
      const p1 = ids(8, 10);
      const aborted = await tokenTurn(dialog, p1, { signal: AbortSignal.abort() });
      expect(aborted.result.stopReason).toBe('abort');
      expect(aborted.result.promptTokens).toEqual([]);
      expect(aborted.result.kpis['num-prompt-tokens']).toBe(0);
      expect(aborted.result.generatedTokens).toEqual([]);
      expect(aborted.sampled).toEqual([]);
      expect(dialog.contextUsed).toBe(0);

      const t1 = await tokenTurn(dialog, p1, { maxTokens: 3 });
      expect(t1.result.promptTokens).toEqual(p1);
      expectTurnMatchesRecompute(model, p1, t1);

      await tokenTurn(dialog, ids(4, 11), { signal: AbortSignal.abort() });
      const p2 = ids(5, 12);
      const t2 = await tokenTurn(dialog, p2, { maxTokens: 3 });
      const g1 = t1.result.generatedTokens;
      expect(t2.result.promptTokens).toEqual([g1[2], EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...g1, EOS, ...p2], t2);
    });

    it('an abort after k tokens ends with stopReason abort; the k-th token is carried over to the next turn', async () => {
      const dialog = await open();
      const p1 = ids(9, 13);
      const controller = new AbortController();
      const t1 = await tokenTurn(dialog, p1, { signal: controller.signal }, (count) => {
        if (count === 3) controller.abort();
      });
      expect(t1.result.stopReason).toBe('abort');
      expect(t1.result.generatedTokens).toEqual(t1.sampled);
      expect(t1.sampled).toHaveLength(3);
      expectTurnMatchesRecompute(model, p1, t1);
      expect(dialog.contextUsed).toBe(p1.length + 2);

      const p2 = ids(4, 14);
      const t2 = await tokenTurn(dialog, p2, { maxTokens: 4 });
      expect(t2.result.promptTokens).toEqual([t1.sampled[2], EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...t1.sampled, EOS, ...p2], t2);
    });

    it('an abort between prefill chunks rolls the KV back to where the turn started', async () => {
      const dialog = await open(CL);
      const p1 = ids(6, 15);
      const t1 = await tokenTurn(dialog, p1, { maxTokens: 2 });
      const used = dialog.contextUsed;

      const controller = new AbortController();
      const long = dialog.tokenQuery(ids(100, 16), { signal: controller.signal });
      const first = long.next(); // runs synchronously up to the first graph execution of chunk 1
      controller.abort();
      const end = await first;
      expect(end.done).toBe(true);
      expect(end.value).toMatchObject({ stopReason: 'abort', promptTokens: [], generatedTokens: [] });
      expect(dialog.contextUsed).toBe(used);

      const p2 = ids(5, 17);
      const t2 = await tokenTurn(dialog, p2, { maxTokens: 3 });
      const g1 = t1.result.generatedTokens;
      expect(t2.result.promptTokens).toEqual([g1[1], EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...g1, EOS, ...p2], t2);
    });
  });

  describe('concurrency', () => {
    it('a second query() while one runs throws DialogBusyError at once, and the first one is unaffected', async () => {
      const dialog = await open();
      const p1 = ids(12, 18);
      const sampled: number[] = [];
      const logits: Float32Array[] = [];
      const running = dialog.tokenQuery(p1, {
        maxTokens: 4,
        onLogits: (row, token) => {
          sampled.push(token);
          logits.push(row.slice());
        },
      });
      const pending = running.next();
      expect(() => dialog.tokenQuery(ids(3, 19))).toThrow(exactError(DialogBusyError, 'dialog is busy: finish or abort the running query first'));
      expect(() => dialog.query('a')).toThrow(exactError(DialogBusyError, 'dialog is busy: finish or abort the running query first'));
      expect(() => dialog.reset()).toThrow(DialogBusyError);

      const pieces: string[] = [];
      let step = await pending;
      while (!step.done) {
        pieces.push(step.value);
        step = await running.next();
      }
      expect(step.value.stopReason).toBe('max-tokens');
      expect(step.value.generatedTokens).toEqual(sampled);
      const turn: Turn = { result: step.value, pieces, sampled, logits };
      expectTurnMatchesRecompute(model, p1, turn);
      await tokenTurn(dialog, ids(3, 19), { maxTokens: 1 });
    });

    it('an exception thrown by onLogits ends the query; the rejected token counts as never generated', async () => {
      const dialog = await open();
      const p1 = ids(8, 22);
      const sampled: number[] = [];
      const failing = dialog.tokenQuery(p1, {
        onLogits: (_, token) => {
          sampled.push(token);
          if (sampled.length === 3) throw new RangeError('consumer failed');
        },
      });
      await expect(async () => {
        for await (const piece of failing) void piece;
      }).rejects.toThrow('consumer failed');
      expect(dialog.contextUsed).toBe(p1.length + 2);

      const p2 = ids(4, 23);
      const t2 = await tokenTurn(dialog, p2, { maxTokens: 3 });
      expect(t2.result.promptTokens).toEqual([EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...sampled.slice(0, 2), EOS, ...p2], t2);
    });

    it('breaking out of for await early leaves the dialog usable; the last streamed token is carried over', async () => {
      const dialog = await open();
      const p1 = ids(7, 20);
      const sampled: number[] = [];
      for await (const piece of dialog.tokenQuery(p1, { onLogits: (_, token) => void sampled.push(token) })) {
        expect(piece.length).toBeGreaterThan(0);
        if (sampled.length >= 2) break;
      }
      expect(dialog.contextUsed).toBe(p1.length + sampled.length - 1);

      const p2 = ids(4, 21);
      const t2 = await tokenTurn(dialog, p2, { maxTokens: 3 });
      expect(t2.result.promptTokens).toEqual([sampled[sampled.length - 1], EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...sampled, EOS, ...p2], t2);
    });
  });
});
