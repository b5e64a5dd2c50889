/**
 * The turn ledger on its own, driven the way the dialog drives it. Every expectation is written out
 * from Genie's turn rules (docs/genie-behaviour.md#turn-rules, docs/genie-behaviour.md#rewind):
 * a turn feeds the previous turn's last delivered token when it was never fed, then EOS (not on the
 * first turn), then BOS when configured, then the prompt; a rewind query is taken as a fresh first
 * turn (BOS, prompt) and keeps the longest prefix of it held in the KV cache, all but the last token
 * when all of it is held; entries fed as embedding rows never match.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { TurnLedger, type TurnPrompt } from '../../src/runtime/turn-ledger.js';
import { exactError } from '../expect-error.js';

const BOS = 1;
const EOS = 2;
const WINDOW = 64;
const ROW = 4;

const text = (ids: number[]): TurnPrompt => ({ kind: 'tokens', ids, rewind: false });
const rewind = (ids: number[]): TurnPrompt => ({ kind: 'tokens', ids, rewind: true });
const rows = (count: number, viaCallback = false): TurnPrompt => ({
  kind: 'embeddings',
  rows: { data: new Float32Array(count * ROW), dtype: 'FLOAT_32' },
  count,
  toEmbedding: viaCallback ? () => {} : undefined,
});

/** The penalty history, oldest first. */
function history(ledger: TurnLedger): number[] {
  const h = ledger.history;
  return Array.from({ length: h.retained }, (_, i) => h.recent(h.retained - 1 - i));
}

/**
 * A first turn as the dialog runs it: feeds BOS and `prompt`, then delivers `delivered` tokens, each
 * fed before the next one is sampled; the last one stays unfed (a token cap or abort ended the turn).
 * Leaves the KV cache holding [BOS, ...prompt, ...delivered without the last].
 */
function firstTurn(ledger: TurnLedger, prompt: number[], delivered: number[]): void {
  const { input } = ledger.plan(text(prompt), 0);
  ledger.recordPrefill(input, text(prompt));
  delivered.forEach((token, i) => {
    ledger.recordSampled(token);
    if (i < delivered.length - 1) ledger.recordFed(token, false);
  });
}

describe('TurnLedger: Genie turn rules', () => {
  it('a first turn feeds BOS then the prompt, and only the prompt without a bos-token; planning changes nothing', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    expect(ledger.plan(text([10, 11]), 0)).toEqual({ tokens: [BOS, 10, 11], keep: 0, input: [BOS, 10, 11] });
    expect(ledger.plan(text([10, 11]), 0)).toEqual({ tokens: [BOS, 10, 11], keep: 0, input: [BOS, 10, 11] });
    expect(ledger.pending).toBeNull();
    expect(ledger.history.length).toBe(0);
    expect(new TurnLedger(null, EOS, WINDOW).plan(text([10, 11]), 0)).toEqual({ tokens: [10, 11], keep: 0, input: [10, 11] });
  });

  it('the next turn feeds the carried-over token, EOS, BOS, then the prompt, after everything held', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21]);
    expect(ledger.pending).toBe(21);
    // Held: BOS 10 11 20 (21 was delivered but never fed).
    expect(ledger.plan(text([12]), 4)).toEqual({ tokens: [21, EOS, BOS, 12], keep: 4, input: [21, EOS, BOS, 12] });
  });

  it('after an EOS the last delivered token was already fed: EOS, BOS, prompt', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21]);
    ledger.recordFed(21, false); // 21 was fed, then the model sampled EOS, which is never recorded
    expect(ledger.pending).toBeNull();
    expect(ledger.plan(text([12]), 5).input).toEqual([EOS, BOS, 12]);
  });

  it('after a stop sequence its tokens are forgotten and nothing is carried over', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21, 22]);
    // 21 and 22 spelled the stop: 21 was fed (entry 4), 22 was not; the cache is cut to BOS 10 11 20.
    ledger.dropGenerated(2, 4);
    expect(ledger.pending).toBeNull();
    expect(history(ledger)).toEqual([BOS, 10, 11, 20]);
    expect(ledger.plan(text([12]), 4)).toEqual({ tokens: [EOS, BOS, 12], keep: 4, input: [EOS, BOS, 12] });
  });

  it('reset makes the next turn a first turn again', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21]);
    ledger.reset();
    expect(ledger.pending).toBeNull();
    expect(ledger.history.length).toBe(0);
    expect(ledger.plan(text([12]), 0)).toEqual({ tokens: [BOS, 12], keep: 0, input: [BOS, 12] });
  });

  it('an embedding prompt brings its own BOS row; the dialog still feeds the carried-over token and EOS first', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    expect(ledger.plan(rows(3), 0)).toEqual({ tokens: [], keep: 0, input: [] });
    ledger.recordPrefill([], rows(3));
    ledger.recordSampled(30);
    expect(ledger.plan(rows(2), 3).input).toEqual([30, EOS]);
    expect(ledger.plan(text([12]), 3).input).toEqual([30, EOS, BOS, 12]);
  });

  it('the penalty history holds the fed prompt and every delivered token, in order', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21, 22]);
    expect(history(ledger)).toEqual([BOS, 10, 11, 20, 21, 22]);
    expect(ledger.history.length).toBe(6);
  });
});

describe('TurnLedger: REWIND prefix', () => {
  /** Holds BOS 10 11 20 21 in the KV cache; 22 delivered, not fed. */
  function chat(): TurnLedger {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21, 22]);
    return ledger;
  }

  it('takes the prompt as a fresh first turn and keeps its longest held prefix; the unfed token does not match', () => {
    const ledger = chat();
    expect(ledger.plan(rewind([10, 11, 20, 21, 22, EOS, 12]), 5)).toEqual({
      tokens: [BOS, 10, 11, 20, 21, 22, EOS, 12],
      keep: 5,
      input: [22, EOS, 12],
    });
  });

  it('stops at the first token that differs', () => {
    expect(chat().plan(rewind([10, 99, 20]), 5)).toEqual({ tokens: [BOS, 10, 99, 20], keep: 2, input: [99, 20] });
  });

  it('when the whole prompt is held, its last token is fed again', () => {
    expect(chat().plan(rewind([10, 11, 20]), 5)).toEqual({ tokens: [BOS, 10, 11, 20], keep: 3, input: [20] });
  });

  it('after evictions, matches each held entry at its position and feeds what follows the last one', () => {
    // The held entries BOS 10 11 20 21 sit at positions 0 1 2 6 7 (entries 3..5 of the conversation were evicted).
    const positions = [0, 1, 2, 6, 7];
    const at = (slot: number): number => positions[slot];
    // Conversation: BOS 10 11 | 12 13 14 | 20 21 | 22 EOS 30 (the held ones at their positions).
    const conversation = [10, 11, 12, 13, 14, 20, 21, 22, EOS, 30];
    expect(chat().plan(rewind(conversation), 5, at)).toEqual({ tokens: [BOS, 10, 11, 20, 21, 22, EOS, 30], keep: 5, input: [22, EOS, 30] });
    // A difference at a held entry's position stops the run there; the conversation is fed from after the last kept one.
    const edited = [10, 11, 12, 13, 14, 99, 21, 22];
    expect(chat().plan(rewind(edited), 5, at)).toEqual({ tokens: [BOS, 10, 11, 12, 13, 14, 99, 21, 22], keep: 3, input: [12, 13, 14, 99, 21, 22] });
    // The whole conversation held: its last entry is fed again.
    expect(chat().plan(rewind([10, 11, 12, 13, 14, 20, 21]), 5, at)).toEqual({ tokens: [BOS, 10, 11, 20, 21], keep: 4, input: [21] });
  });

  it('an empty prompt is just BOS (fed again), or nothing at all without a bos-token', () => {
    expect(chat().plan(rewind([]), 5)).toEqual({ tokens: [BOS], keep: 0, input: [BOS] });
    const noBos = new TurnLedger(null, EOS, WINDOW);
    firstTurn(noBos, [10, 11], [20]);
    expect(noBos.plan(rewind([]), 2)).toEqual({ tokens: [], keep: 0, input: [] });
  });

  it('rewindTo cuts to the kept prefix: the history becomes it, nothing is carried, EOS comes back unless nothing is kept', () => {
    const ledger = chat();
    const { tokens, keep } = ledger.plan(rewind([10, 11, 30]), 5);
    expect(keep).toBe(3);
    ledger.rewindTo(keep, tokens);
    expect(ledger.pending).toBeNull();
    expect(history(ledger)).toEqual([BOS, 10, 11]);
    expect(ledger.plan(text([12]), 3).input).toEqual([EOS, BOS, 12]);
    expect(ledger.plan(rewind([10, 11, 20]), 3)).toEqual({ tokens: [BOS, 10, 11, 20], keep: 3, input: [20] });

    ledger.rewindTo(0, tokens);
    expect(ledger.history.length).toBe(0);
    expect(ledger.plan(text([12]), 0).input).toEqual([BOS, 12]);
  });
});

describe('TurnLedger: the token id of every KV entry', () => {
  it('decode steps add entries; dropGenerated cuts them back to nValid and the history by k', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10], [20, 21, 22, 23]);
    // Held: BOS 10 20 21 22.
    expect(ledger.plan(rewind([10, 20, 21, 22, 24]), 5).keep).toBe(5);
    ledger.dropGenerated(3, 3); // 21 22 23 spelled a stop; 21 and 22 were fed
    expect(history(ledger)).toEqual([BOS, 10, 20]);
    expect(ledger.plan(rewind([10, 20, 21, 22, 24]), 3)).toEqual({ tokens: [BOS, 10, 20, 21, 22, 24], keep: 3, input: [21, 22, 24] });
  });

  it('unfeed takes back the last fed token: pending again, entries and the next turn as if it had never been fed', () => {
    const fedAndTaken = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(fedAndTaken, [10], [20, 21]);
    fedAndTaken.recordFed(21, false);
    fedAndTaken.unfeed(21);
    const neverFed = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(neverFed, [10], [20, 21]);
    for (const ledger of [fedAndTaken, neverFed]) {
      expect(ledger.pending).toBe(21);
      expect(ledger.entries).toBe(3);
      expect(history(ledger)).toEqual([BOS, 10, 20, 21]);
      expect(ledger.plan(text([30]), 3)).toEqual({ tokens: [21, EOS, BOS, 30], keep: 3, input: [21, EOS, BOS, 30] });
    }
  });

  it('entries fed as rows never match: an embedding prompt\'s rows, and tokens its T2E callback wrote', () => {
    const viaLut = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(viaLut, [10, 11], [20]); // held: BOS 10 11; 20 pending
    const lutTurn = viaLut.plan(rows(2), 3);
    expect(lutTurn.input).toEqual([20, EOS]);
    viaLut.recordPrefill(lutTurn.input, rows(2)); // 20 and EOS through the LUT keep their ids; the 2 rows do not
    expect(viaLut.plan(rewind([10, 11, 20, EOS, 5]), 7).keep).toBe(5);

    const viaCallback = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(viaCallback, [10, 11], [20]);
    viaCallback.recordPrefill([20, EOS], rows(2, true));
    expect(viaCallback.plan(rewind([10, 11, 20, EOS, 5]), 7).keep).toBe(3);

  });

  it('a generated token fed back as a row (Genie\'s T2E) has no id to match; one fed as an id has', () => {
    const asRow = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(asRow, [10], [20]);
    asRow.recordFed(20, true);
    asRow.recordSampled(21);
    asRow.recordFed(21, false);
    expect(asRow.plan(rewind([10, 20, 21, 5]), 4).keep).toBe(2);

    const asId = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(asId, [10], [20, 21, 22]);
    expect(asId.plan(rewind([10, 20, 21, 5]), 4).keep).toBe(4);
  });

  it('reset forgets every entry', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20, 21]);
    ledger.reset();
    expect(ledger.plan(rewind([10, 11, 20]), 0)).toEqual({ tokens: [BOS, 10, 11, 20], keep: 0, input: [BOS, 10, 11, 20] });
  });
});

describe('TurnLedger: bad input is an InvalidArgumentError naming the value, and changes nothing', () => {
  it('constructor arguments', () => {
    expect(() => new TurnLedger(-5, EOS, WINDOW)).toThrow(
      exactError(InvalidArgumentError, 'bosToken must be null or a token id (an integer >= 0), got -5'),
    );
    expect(() => new TurnLedger(BOS, 1.5, WINDOW)).toThrow(exactError(InvalidArgumentError, 'primaryEos must be a token id (an integer >= 0), got 1.5'));
    expect(() => new TurnLedger(BOS, EOS, -1)).toThrow(exactError(InvalidArgumentError, 'history capacity must be an integer in [0, 2^31), got -1'));
  });

  it('plan with a negative nValid', () => {
    expect(() => new TurnLedger(BOS, EOS, WINDOW).plan(text([10]), -1)).toThrow(
      exactError(InvalidArgumentError, 'plan: nValid must be an integer >= 0, got -1'),
    );
  });

  it('a prefill or a sampled token that is not a token id', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    expect(() => ledger.recordPrefill([BOS, -3], text([-3]))).toThrow(
      exactError(InvalidArgumentError, 'tokens[1] must be an integer token id >= 0, got -3'),
    );
    expect(ledger.history.length).toBe(0);
    expect(ledger.plan(rewind([10]), 0).keep).toBe(0);
    expect(ledger.plan(text([10]), 0).input).toEqual([BOS, 10]); // still a first turn

    firstTurn(ledger, [10], [20]);
    expect(() => ledger.recordSampled(-1)).toThrow(exactError(InvalidArgumentError, 'token must be an integer token id >= 0, got -1'));
    expect(ledger.pending).toBe(20);
    expect(history(ledger)).toEqual([BOS, 10, 20]);
  });

  it('recordFed of a token that is not the pending one', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    expect(() => ledger.recordFed(5, false)).toThrow(exactError(InvalidArgumentError, 'recordFed(5): no sampled token is pending'));
    firstTurn(ledger, [10], [20]);
    expect(() => ledger.recordFed(5, false)).toThrow(exactError(InvalidArgumentError, 'recordFed(5): the pending token is 20'));
    expect(ledger.pending).toBe(20);
    expect(ledger.plan(rewind([10, 20]), 2)).toEqual({ tokens: [BOS, 10, 20], keep: 2, input: [20] });
  });

  it('unfeed of a token that is not the last fed one, or while a token is pending', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    expect(() => ledger.unfeed(5)).toThrow(exactError(InvalidArgumentError, 'unfeed(5): no entry is held'));
    firstTurn(ledger, [10], [20]);
    expect(() => ledger.unfeed(20)).toThrow(exactError(InvalidArgumentError, 'unfeed(20): the token 20 is pending'));
    ledger.recordFed(20, false);
    expect(() => ledger.unfeed(21)).toThrow(exactError(InvalidArgumentError, 'unfeed(21): the last entry is 20'));
    expect(ledger.pending).toBeNull();
    expect(ledger.entries).toBe(3);
  });

  it('dropGenerated beyond the history or the held entries', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10], [20, 21]); // history BOS 10 20 21; held BOS 10 20
    expect(() => ledger.dropGenerated(5, 3)).toThrow(
      exactError(InvalidArgumentError, 'dropGenerated: k must be an integer in [0, 4] (tokens in the history), got 5'),
    );
    expect(() => ledger.dropGenerated(1, 4)).toThrow(
      exactError(InvalidArgumentError, 'dropGenerated: nValid must be an integer in [0, 3] (held entries), got 4'),
    );
    expect(ledger.pending).toBe(21);
    expect(history(ledger)).toEqual([BOS, 10, 20, 21]);
  });

  it('rewindTo past the held entries, or to tokens that are not held', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    firstTurn(ledger, [10, 11], [20]); // held: BOS 10 11
    expect(() => ledger.rewindTo(4, [BOS, 10, 11, 20])).toThrow(
      exactError(InvalidArgumentError, 'rewindTo: keep must be an integer in [0, 3] (held entries and given tokens), got 4'),
    );
    expect(() => ledger.rewindTo(3, [BOS, 10, 12])).toThrow(
      exactError(InvalidArgumentError, 'rewindTo: tokens[2] = 12 is not the held entry 11 (keep only a cached prefix)'),
    );
    expect(ledger.pending).toBe(20);
    expect(history(ledger)).toEqual([BOS, 10, 11, 20]);
  });
});

describe('turns and eviction (what KV policies read and change)', () => {
  const turns = (ledger: TurnLedger): number[] => Array.from({ length: ledger.entries }, (_, i) => ledger.turnAt(i));
  const keys = (ledger: TurnLedger): unknown[] => Array.from({ length: ledger.entries }, (_, i) => ledger.keyAt(i));

  /** A turn that feeds `prompt` and delivers `delivered`, the last one unfed (as the dialog drives it). */
  function turn(ledger: TurnLedger, prompt: number[], delivered: number[]): void {
    const plan = ledger.plan(text(prompt), ledger.entries);
    ledger.recordPrefill(plan.input, text(prompt));
    delivered.forEach((token, i) => {
      ledger.recordSampled(token);
      if (i < delivered.length - 1) ledger.recordFed(token, false);
    });
  }

  it('a reply belongs to its prompt\'s turn; the carried-over token and EOS that close it too', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    expect(ledger.upcomingTurn).toBe(0);
    turn(ledger, [10, 11], [20, 21, 22]);
    expect(ledger.currentTurn).toBe(0);
    expect(ledger.upcomingTurn).toBe(1);
    turn(ledger, [12], [30]);
    // [BOS 10 11 20 21] turn 0, then 22 (carried) and EOS close turn 0, then [BOS 12] turn 1.
    expect(keys(ledger)).toEqual([BOS, 10, 11, 20, 21, 22, EOS, BOS, 12]);
    expect(turns(ledger)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1]);
    // A rewind query's entries all belong to its own turn.
    const plan = ledger.plan(rewind([10, 11, 20, 21, 99]), ledger.entries);
    ledger.rewindTo(plan.keep, plan.tokens);
    ledger.recordPrefill(plan.input, rewind([10, 11, 20, 21, 99]));
    expect(turns(ledger)).toEqual([0, 0, 0, 0, 0, 2]);
  });

  it('evict drops keys, stamps and turns together; the history and the carried token stay', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    turn(ledger, [10, 11], [20, 21]);
    turn(ledger, [12, 13], [30, 31]);
    const stamps = Array.from({ length: ledger.entries }, (_, i) => ledger.stampAt(i));
    const before = { keys: keys(ledger), turns: turns(ledger), history: history(ledger), pending: ledger.pending };
    ledger.evict([1, 2, 5]);
    const kept = (list: unknown[]) => list.filter((_, i) => ![1, 2, 5].includes(i));
    expect(keys(ledger)).toEqual(kept(before.keys));
    expect(turns(ledger)).toEqual(kept(before.turns));
    expect(Array.from({ length: ledger.entries }, (_, i) => ledger.stampAt(i))).toEqual(kept(stamps));
    expect(history(ledger)).toEqual(before.history);
    expect(ledger.pending).toBe(before.pending);
    ledger.renewStamps();
    expect(ledger.stampAt(0)).toBeGreaterThan(Math.max(...stamps));
  });

  it('evict refuses slots that are not held or not ascending, changing nothing', () => {
    const ledger = new TurnLedger(null, EOS, WINDOW);
    turn(ledger, [10, 11, 12], [20]);
    for (const [slots, message] of [
      [[3], 'evict: slots must be strictly ascending entries in [0, 3); slots[0] = 3'],
      [[1, 1], 'evict: slots must be strictly ascending entries in [0, 3); slots[1] = 1'],
      [[-1], 'evict: slots must be strictly ascending entries in [0, 3); slots[0] = -1'],
    ] as const) {
      expect(() => ledger.evict(slots)).toThrow(exactError(InvalidArgumentError, message));
    }
    expect(keys(ledger)).toEqual([10, 11, 12]);
  });

  it('restore takes turns when the state has them (a save), puts every entry in turn 0 otherwise, and checks them', () => {
    const ledger = new TurnLedger(BOS, EOS, WINDOW);
    turn(ledger, [10], [20, 21]);
    turn(ledger, [11], [30]);
    const state = ledger.snapshot();
    const copy = new TurnLedger(BOS, EOS, WINDOW);
    copy.restore(state);
    expect(turns(copy)).toEqual(turns(ledger));
    expect(copy.upcomingTurn).toBe(2);
    const { turns: _dropped, ...old } = state;
    copy.restore(old);
    expect(turns(copy)).toEqual(state.entries.map(() => 0));
    expect(() => copy.restore({ ...state, turns: [1, 0, ...state.turns!.slice(2)] })).toThrow(
      exactError(InvalidArgumentError, 'ledger state turns[1] = 0 is not a turn number >= 0 and >= the one before'),
    );
    expect(() => copy.restore({ ...state, turns: [0] })).toThrow(exactError(InvalidArgumentError, `ledger state turns must be an array of ${state.entries.length} turns (one per entry)`));
  });
});
