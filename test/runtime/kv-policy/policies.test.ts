/**
 * Dropping whole turns, custom policies (DialogOptions.kvPolicy), recompute, and what a policy may
 * answer. Oracles: the float64 cached decoder holding the entries the policy's definition keeps, and
 * for recompute a fresh uncached pass over the kept tokens at positions 0...
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { ContextLimitError } from '../../../src/graphs/errors.js';
import { CallbackError } from '../../../src/runtime/callbacks.js';
import type { Dialog, DialogOptions, QueryResult } from '../../../src/runtime/dialog.js';
import { decideAfterStep, decideRoom } from '../../../src/runtime/kv-policy/apply.js';
import type { KvCacheView, KvPolicy, KvRoomRequest } from '../../../src/runtime/kv-policy/index.js';
import { fullForward } from '../../backends/reference/qwen2-oracle.js';
import { exactError } from '../../expect-error.js';
import { DialogPool, makeModel, tempDir, tokenIds, tokenTurn, writeBundle, type Bundle, type Turn } from '../fixtures.js';
import { CachedOracle } from './cached-oracle.js';

const CL = 48;
const CAPACITY = CL - 1;

function worstDiff(rows: readonly Float32Array[], want: readonly ArrayLike<number>[]): number {
  expect(rows.length).toBe(want.length);
  let worst = 0;
  rows.forEach((row, i) => {
    for (let v = 0; v < row.length; v++) worst = Math.max(worst, Math.abs(row[v] - want[i][v]));
  });
  return worst;
}

const viewTurns = (view: KvCacheView): number[] => Array.from({ length: view.length }, (_, s) => view.turn(s));
const viewTokens = (view: KvCacheView): number[] => Array.from({ length: view.length }, (_, s) => view.token(s));

describe('KV policies on a dialog (Reference)', () => {
  const root = tempDir('kv-policies');
  const pool = new DialogPool('Reference');
  const model = makeModel({}, 'kv-policies');
  const vocab = model.config.vocabSize;
  const ids = (n: number, seed: number): number[] => tokenIds(n, seed, 1, vocab - 1);
  let bundle: Bundle;

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'bundle', arSet: [1, 8], cl: CL, splits: 2 });
  });
  afterAll(() => pool.disposeAll());

  const open = (kvPolicy: DialogOptions['kvPolicy']): Promise<Dialog> => pool.open(bundle, undefined, { kvPolicy });

  it('drop-oldest-turns keeps the first turn and the running one, drops whole turns oldest first; logits equal the cached oracle', async () => {
    const dialog = await open({ type: 'drop-oldest-turns', keepTurns: 1 });
    const oracle = new CachedOracle(model.config, model.weights);
    // Turn t of the oracle: which turn each oracle entry belongs to (the carried token and EOS close the previous turn).
    const turnOf: number[] = [];
    const feedTurn = (t: number, turn: Turn): Float64Array[] => {
      const fed = turn.result.promptTokens;
      const closing = t === 0 ? 0 : 2;
      const needed = fed.length;
      if (oracle.length + needed > CAPACITY) dropTurns(needed);
      const rows: Float64Array[] = [];
      let row: Float64Array = new Float64Array(0);
      fed.forEach((token, i) => {
        row = oracle.feed(token);
        turnOf.push(i < closing ? t - 1 : t);
      });
      rows.push(row);
      for (const token of turn.sampled.slice(0, -1)) {
        if (oracle.length + 1 > CAPACITY) dropTurns(1, t);
        rows.push(oracle.feed(token));
        turnOf.push(t);
      }
      return rows;
    };
    // The definition: keep turn 0; drop the oldest other whole turns (never the running one) until the step fits.
    const dropTurns = (needed: number, running = Number.POSITIVE_INFINITY): void => {
      const over = oracle.length + needed - CAPACITY;
      const firstTurns = [...new Set(turnOf)].filter((t) => t !== turnOf[0] && t < running);
      const gone: number[] = [];
      for (const t of firstTurns) {
        if (gone.length >= over) break;
        turnOf.forEach((owner, i) => owner === t && gone.push(i));
      }
      expect(gone.length).toBeGreaterThanOrEqual(over);
      oracle.drop(gone);
      const kept = turnOf.filter((_, i) => !gone.includes(i));
      turnOf.length = 0;
      turnOf.push(...kept);
    };
    for (let t = 0; t < 5; t++) {
      const turn = await tokenTurn(dialog, ids(t === 0 ? 10 : 6, 10 + t), { maxTokens: 8 });
      expect(turn.result.stopReason).toBe('max-tokens');
      expect(worstDiff(turn.logits, feedTurn(t, turn))).toBeLessThanOrEqual(1e-4);
      expect(viewTurns(dialog.kvCache)).toEqual(turnOf);
      expect(viewTokens(dialog.kvCache)).toEqual(oracle.tokens());
    }
    // Turns 0 and 4 remain whole; something in between was dropped.
    expect(new Set(turnOf).has(0) && new Set(turnOf).has(4)).toBe(true);
    expect(new Set(turnOf).size).toBeLessThan(5);
  });

  it('a reply longer than the room left: drop-oldest-turns answers error, ContextLimitError carries the partial result, the dialog goes on', async () => {
    const dialog = await open({ type: 'drop-oldest-turns', keepTurns: 1 });
    await tokenTurn(dialog, ids(20, 21), { maxTokens: 4 });
    const error = await tokenTurn(dialog, ids(10, 22), { maxTokens: 40 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContextLimitError);
    expect((error as ContextLimitError).message).toMatch(/reached after \d+ generated tokens; cap the reply \(maxTokens\), or reset\(\) the dialog to make room \(kv policy "drop-oldest-turns" answered 'error'\)$/);
    const partial = (error as ContextLimitError).result as QueryResult;
    expect(partial.stopReason).toBe('context-limit');
    expect(partial.generatedTokens.length).toBeGreaterThan(0);
    expect(dialog.contextUsed).toBe(CAPACITY);
    // Usable: the next turn drops the turn that filled the cache and runs.
    const next = await tokenTurn(dialog, ids(4, 23), { maxTokens: 3 });
    expect(next.result.stopReason).toBe('max-tokens');
  });

  /** A custom policy: evicts every other entry after the 4 first ones; records what it saw. */
  function everyOther(): KvPolicy & { readonly requests: KvRoomRequest[] } {
    const requests: KvRoomRequest[] = [];
    return {
      name: 'every-other',
      requests,
      makeRoom(cache, request) {
        requests.push({ ...request });
        const evict: number[] = [];
        for (let s = 5; s < cache.length && cache.length - evict.length + request.needed > cache.capacity; s += 2) evict.push(s);
        return { evict };
      },
    };
  }

  it('a custom policy evicting from the middle: the kept entries keep their positions, logits equal the cached oracle', async () => {
    const policy = everyOther();
    const dialog = await open(policy);
    const oracle = new CachedOracle(model.config, model.weights);
    const turn = await tokenTurn(dialog, ids(30, 31), { maxTokens: 40 });
    const rows: Float64Array[] = [];
    let row: Float64Array = new Float64Array(0);
    for (const token of turn.result.promptTokens) row = oracle.feed(token);
    rows.push(row);
    for (const token of turn.sampled.slice(0, -1)) {
      if (oracle.length + 1 > CAPACITY) {
        const gone: number[] = [];
        for (let s = 5; s < oracle.length && oracle.length - gone.length + 1 > CAPACITY; s += 2) gone.push(s);
        oracle.drop(gone);
      }
      rows.push(oracle.feed(token));
    }
    expect(worstDiff(turn.logits, rows)).toBeLessThanOrEqual(1e-4);
    expect(policy.requests.length).toBeGreaterThan(0);
    expect(policy.requests.every((r) => r.phase === 'decode' && r.needed === 1 && r.turn === 0)).toBe(true);
    const view = dialog.kvCache;
    expect(Array.from({ length: view.length }, (_, s) => view.position(s))).toEqual(oracle.positions());
  });

  it('recompute: the kept tokens are fed again from position 0, so logits equal a fresh uncached pass over them', async () => {
    const keepLast = 20;
    const policy: KvPolicy = {
      name: 'keep-last-recompute',
      makeRoom: (cache) => ({ evict: Array.from({ length: cache.length - keepLast }, (_, i) => i), recompute: true }),
    };
    const dialog = await open(policy);
    const turn = await tokenTurn(dialog, ids(40, 41), { maxTokens: 12 });
    // 40 + 12 - 1 = 51 tokens fed into 47 entries: one recompute when the cache is full (after 7 decodes).
    const fed = [...turn.result.promptTokens, ...turn.sampled.slice(0, -1)];
    const cut = CAPACITY; // the decode feeding fed[CAPACITY] found the cache full
    const kept = fed.slice(cut - keepLast, cut);
    const after = fed.slice(cut);
    // Row j of the turn comes from feeding fed[39 + j]; the first after the recompute fed fed[cut] at position keepLast.
    const want = fullForward(model.config, model.weights, [...kept, ...after]).slice(keepLast);
    const rowsAfter = turn.logits.slice(cut - 39);
    expect(worstDiff(rowsAfter, want)).toBeLessThanOrEqual(1e-4);
    const view = dialog.kvCache;
    expect(Array.from({ length: view.length }, (_, s) => view.position(s))).toEqual(Array.from({ length: keepLast + after.length }, (_, i) => i));
  });

  describe('bad answers: a typed error naming the policy; the KV cache and the conversation are as before the step', () => {
    const cases: [string, KvPolicy['makeRoom'], Error][] = [
      ['a string', () => 'evict' as never, new InvalidArgumentError(`kv policy "bad": makeRoom answered the string "evict"; expected 'error' or { evict: slots, recompute? }`)],
      ['no array', () => ({ evict: 3 }) as never, new InvalidArgumentError('kv policy "bad": makeRoom answered evict = 3; expected an array of slots')],
      ['a slot out of range', (c) => ({ evict: [0, c.length] }), new InvalidArgumentError(`kv policy "bad": makeRoom answered evict[1] = ${CAPACITY}, not a held slot in [0, ${CAPACITY})`)],
      ['unsorted slots', () => ({ evict: [4, 2] }), new InvalidArgumentError('kv policy "bad": makeRoom answered evict[1] = 2 after 4; slots must be strictly ascending')],
      ['too few', () => ({ evict: [] }), new InvalidArgumentError(`kv policy "bad": makeRoom evicted 0 of ${CAPACITY} entries, but 1 more must fit in ${CAPACITY}: evict at least 1, or answer 'error'`)],
      ['recompute: "yes"', () => ({ evict: [0], recompute: 'yes' }) as never, new InvalidArgumentError('kv policy "bad": makeRoom answered recompute = the string "yes"; expected a boolean')],
      ['a throw', () => {
        throw new RangeError('policy bug');
      }, new CallbackError('kvPolicy "bad" makeRoom', new RangeError('policy bug'))],
    ];
    it.each(cases)('%s', async (_name, makeRoom, expected) => {
      const dialog = await open({ name: 'bad', makeRoom });
      const run = tokenTurn(dialog, ids(CAPACITY - 3, 51), { maxTokens: 10 });
      const error = await run.catch((e: unknown) => e);
      expect(error).toEqual(exactError(expected.constructor as never, expected.message));
      if (expected instanceof CallbackError) expect((error as Error).cause).toBeInstanceOf(RangeError);
      // The cache is full, as the failing step found it; the dialog takes a reset and a new query.
      expect(dialog.contextUsed).toBe(CAPACITY);
      dialog.reset();
      expect((await tokenTurn(dialog, ids(5, 52), { maxTokens: 2 })).result.stopReason).toBe('max-tokens');
    });

    it('recompute over an entry that came in as a row is refused; afterStep may not recompute', () => {
      const kinds = ['token', 'embedding', 'image', 'token'] as const;
      const view: KvCacheView = {
        length: 4, capacity: 4, nextPosition: 4,
        position: (s) => s, token: (s) => (kinds[s] === 'token' ? 7 : -1), kind: (s) => kinds[s], turn: () => 0,
      };
      const request = { needed: 1, phase: 'decode', turn: 0 } as const;
      const policy = (evict: number[]): KvPolicy => ({ name: 'rows', makeRoom: () => ({ evict, recompute: true }), afterStep: () => ({ evict, recompute: true }) });
      expect(() => decideRoom(policy([0]), view, request)).toThrow(
        exactError(InvalidArgumentError, 'kv policy "rows": makeRoom answered recompute: true, but kept slot 1 holds an embedding row, which has no token to feed again'),
      );
      expect(() => decideRoom(policy([0, 1]), view, request)).toThrow(/kept slot 2 holds an image row/);
      expect(decideRoom(policy([1, 2]), view, request)?.evict).toEqual([1, 2]);
      expect(() => decideAfterStep(policy([1, 2]), view)).toThrow(
        exactError(InvalidArgumentError, 'kv policy "rows": afterStep answered recompute: true; only makeRoom may recompute (afterStep runs between a step and its sampling)'),
      );
    });
  });

  it('options: specs and policies are checked at Dialog.create', async () => {
    const cases: [unknown, string][] = [
      ['window', 'Dialog.create option kvPolicy must be \'none\', a { type } spec or a KvPolicy object, got the string "window"'],
      [{ type: 'lru' }, 'Dialog.create option kvPolicy.type must be "sliding-window" or "drop-oldest-turns" (or pass a KvPolicy object), got the string "lru"'],
      [{ type: 'sliding-window', windowSize: 0 }, 'Dialog.create option kvPolicy: sliding-window window-size must be an integer >= 1, got 0'],
      [{ type: 'sliding-window', windowSize: 8, sinks: 2 }, 'Dialog.create option kvPolicy: unknown option "sinks" (known: type, reservedTokens, windowSize)'],
      [{ type: 'drop-oldest-turns', keepTurns: -1 }, 'Dialog.create option kvPolicy: drop-oldest-turns keepTurns must be an integer >= 0, got -1'],
      [{ name: 'x', makeRoom: 3 }, 'Dialog.create option kvPolicy.makeRoom must be a function, got 3'],
      [{ name: '', makeRoom: () => 'error' }, 'Dialog.create option kvPolicy.name must be a non-empty string, got the string ""'],
    ];
    for (const [kvPolicy, message] of cases) {
      await expect(pool.open(bundle, undefined, { kvPolicy: kvPolicy as never })).rejects.toThrow(exactError(InvalidArgumentError, message));
    }
    const none = await pool.open(bundle, undefined, { kvPolicy: 'none' });
    expect(none.kvPolicy).toBeNull();
  });
});
