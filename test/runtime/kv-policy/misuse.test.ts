/**
 * Misuse while a KV policy works: abort, reset and dispose in the middle of a generation that keeps
 * evicting, and dispose during a recompute's prefill. No crash, no hang; the dialog is usable
 * afterwards (or cleanly disposed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisposedError } from '../../../src/runtime/engine/engine.js';
import type { KvPolicy } from '../../../src/runtime/kv-policy/index.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle } from '../fixtures.js';

const CL = 32;

describe('KV policies under abort, reset and dispose (Reference)', () => {
  const root = tempDir('kv-misuse');
  const pool = new DialogPool('Reference');
  const model = makeModel({}, 'kv-misuse');
  const vocab = model.config.vocabSize;
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'bundle', arSet: [1, 8], cl: CL, splits: 2 });
  });
  afterAll(() => pool.disposeAll());

  it('abort after the window has slid many times ends the query; reset, then the dialog answers as a fresh one', async () => {
    const dialog = await pool.open(bundle, undefined, { kvPolicy: { type: 'sliding-window', windowSize: 12, reservedTokens: 2 } });
    const controller = new AbortController();
    const turn = await tokenTurn(dialog, tokenIds(6, 1, 1, vocab - 1), { maxTokens: 500, signal: controller.signal }, (count) => {
      if (count === 100) controller.abort();
    });
    expect(turn.result.stopReason).toBe('abort');
    expect(dialog.contextUsed).toBeLessThanOrEqual(14);
    dialog.reset();
    const fresh = await pool.open(bundle, undefined, { kvPolicy: { type: 'sliding-window', windowSize: 12, reservedTokens: 2 } });
    const prompt = tokenIds(5, 2, 1, vocab - 1);
    expect((await tokenTurn(dialog, prompt, { maxTokens: 40 })).sampled).toEqual((await tokenTurn(fresh, prompt, { maxTokens: 40 })).sampled);
  });

  it('a query parked at a yield while evicting is cancelled by reset() and by a new query', async () => {
    const dialog = await pool.open(bundle, undefined, { kvPolicy: { type: 'sliding-window', windowSize: 10 } });
    const first = dialog.tokenQuery(tokenIds(6, 3, 1, vocab - 1), { maxTokens: 200 });
    for (let i = 0; i < 60; i++) await first.next();
    dialog.reset();
    const done = await first.next();
    expect(done.done).toBe(true);
    expect(dialog.contextUsed).toBe(0);
    const second = dialog.tokenQuery(tokenIds(4, 4, 1, vocab - 1), { maxTokens: 100 });
    for (let i = 0; i < 50; i++) await second.next();
    const third = await tokenTurn(dialog, tokenIds(3, 5, 1, vocab - 1), { maxTokens: 5 });
    expect(third.result.stopReason).toBe('max-tokens');
    expect((await second.result).stopReason).toBe('cancelled');
  });

  it('abort during a rewind query that evicted to go past the context: the kept entries stay consistent, the next rewind goes on', async () => {
    const controller = new AbortController();
    let armed = false;
    const dialog = await pool.open(bundle, undefined, {
      kvPolicy: {
        name: 'oldest-first-then-abort',
        makeRoom: (cache, { needed }) => {
          if (armed) setImmediate(() => controller.abort()); // lands during the prefill (the engine yields per step)
          const count = cache.length + needed - cache.capacity;
          return { evict: Array.from({ length: count }, (_, i) => 2 + i) };
        },
      },
    });
    let conversation = tokenIds(20, 6, 1, vocab - 1);
    const first = await tokenTurn(dialog, conversation, { rewind: true, maxTokens: 8 });
    conversation = [...conversation, ...first.sampled, ...tokenIds(24, 7, 1, vocab - 1)];
    armed = true;
    const aborted = await tokenTurn(dialog, conversation, { rewind: true, maxTokens: 8, signal: controller.signal });
    expect(aborted.result.stopReason).toBe('abort');
    armed = false;
    const view = dialog.kvCache;
    const bos = first.result.promptTokens.length - 20;
    const full = [...first.result.promptTokens.slice(0, bos), ...conversation];
    for (let s = 0; s < view.length; s++) expect(view.token(s)).toBe(full[view.position(s)]);
    const next = await tokenTurn(dialog, conversation, { rewind: true, maxTokens: 4 });
    expect(next.result.stopReason).toBe('max-tokens');
    expect(next.result.reusedTokens).toBeGreaterThan(0);
  });

  it('dispose while a recompute re-feeds the kept tokens: the query rejects with DisposedError, dispose resolves', async () => {
    const dialog = await pool.open(bundle, undefined, {
      kvPolicy: {
        name: 'recompute-and-dispose',
        makeRoom: (cache) => {
          setImmediate(() => void dialog.dispose()); // lands during the recompute's prefill (the engine yields per step)
          return { evict: Array.from({ length: cache.length - 20 }, (_, i) => i), recompute: true };
        },
      } satisfies KvPolicy,
    });
    const error = await tokenTurn(dialog, tokenIds(20, 6, 1, vocab - 1), { maxTokens: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DisposedError);
    await dialog.dispose();
    expect(() => dialog.tokenQuery([1])).toThrow(DisposedError);
  });
});
