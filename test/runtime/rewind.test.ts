/**
 * Genie's REWIND query (docs/genie-behaviour.md#rewind): the caller resends the whole conversation, the
 * dialog keeps the longest token prefix already in the KV cache and feeds only the rest. Oracles: the
 * common prefix computed here from what Genie's turn rules say the cache holds, one uncached pass
 * over the whole token list (`fullForward`), and a fresh dialog given the same list in one query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { ContextLimitError } from '../../src/graphs/errors.js';
import type { Dialog, QueryOptions } from '../../src/runtime/dialog.js';
import type { Tokenizer } from '../../src/runtime/tokenizer/index.js';
import {
  BACKENDS, DialogPool, QWEN_VOCAB, drain, expectTurnMatchesRecompute, makeModel, maxRowDiff, sharedTokenizer, silentEos,
  stopFrom, tempDir, textTurn, tokenIds, tokenTurn, writeBundle, type Bundle, type ConfigOptions, type Turn,
} from './fixtures.js';

/** Length of the longest common prefix of two token lists. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

const REWIND: QueryOptions = { rewind: true };

describe.each(BACKENDS)('%s: rewind query over text (Qwen vocabulary)', (backend) => {
  const root = tempDir('runtime-rewind-text');
  const dialogs = new DialogPool(backend);
  const A = '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n';
  const B = '<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n';
  let bundle: Bundle;
  let tokenizer: Tokenizer;

  beforeAll(async () => {
    tokenizer = await sharedTokenizer();
    bundle = await writeBundle(root, makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: 16, intermediateSize: 32 }, 'rewind-text'), {
      name: 'qwen-vocab',
      arSet: [1, 8],
      cl: 128,
      splits: 2,
    });
  });
  afterAll(() => dialogs.disposeAll());

  it('resending the whole conversation reuses the cached prefix and equals one uncached pass and a fresh query', async () => {
    const BOS = 151643;
    const config = dialogs.config(bundle, { bos: BOS });
    const chat = await dialogs.open(bundle, config);
    const t1 = await textTurn(chat, A, { maxTokens: 12 });
    expect(t1.result.stopReason).toBe('max-tokens');
    expect(t1.result.reusedTokens).toBe(0);
    const g = t1.result.generatedTokens;
    // Genie's rules: BOS, the prompt, every generated token but the last (sampled, never fed).
    const cached = [BOS, ...tokenizer.encode(A), ...g.slice(0, -1)];
    expect(chat.contextUsed).toBe(cached.length);

    const whole = A + t1.result.text + B;
    const list = [BOS, ...tokenizer.encode(whole)];
    const reused = commonPrefix(list, cached);
    expect(reused).toBeGreaterThan(tokenizer.encode(A).length);
    const t2 = await textTurn(chat, whole, { ...REWIND, maxTokens: 8 });
    expect(t2.result.reusedTokens).toBe(reused);
    expect(t2.result.promptTokens).toEqual(list.slice(reused));
    expect(t2.result.kpis['num-prompt-tokens']).toBe(list.length - reused);
    expectTurnMatchesRecompute(bundle.model, list, t2);

    const fresh = await dialogs.open(bundle, config);
    const one = await textTurn(fresh, whole, { maxTokens: 8 });
    expect(one.result.promptTokens).toEqual(list);
    expect(one.sampled).toEqual(t2.sampled);
    expect(maxRowDiff(one, t2)).toBeLessThanOrEqual(1e-4);
    expect(chat.contextUsed).toBe(fresh.contextUsed);
  });
});

describe.each(BACKENDS)('%s: rewind query over token ids', (backend) => {
  const root = tempDir('runtime-rewind');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'rewind');
  const vocab = model.config.vocabSize;
  const EOS = silentEos(model);
  const p1 = tokenIds(12, 1, 1, vocab - 1);
  const p2 = tokenIds(7, 2, 1, vocab - 1);
  let bundle: Bundle;
  let tokenizer: Tokenizer;

  function open(options: ConfigOptions = {}): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, options));
  }

  /** `ids` with the token at `index` replaced by a different one. */
  function divergeAt(ids: readonly number[], index: number): number[] {
    const out = [...ids];
    out[index] = (out[index] % (vocab - 2)) + 1;
    expect(out[index]).not.toBe(ids[index]);
    return out;
  }

  /** Turn 1 of most tests: p1, 6 greedy tokens; the cache then holds p1 and the first 5. */
  async function firstTurn(chat: Dialog): Promise<number[]> {
    const t1 = await tokenTurn(chat, p1, { maxTokens: 6 });
    expect(t1.result.stopReason).toBe('max-tokens');
    return t1.result.generatedTokens.slice();
  }

  /** Runs a rewind query of `list` and checks it against the oracles: reuse, fed tokens, uncached pass. */
  async function rewindTurn(chat: Dialog, list: number[], reused: number, maxTokens = 4): Promise<Turn> {
    const turn = await tokenTurn(chat, list, { ...REWIND, maxTokens });
    expect(turn.result.reusedTokens).toBe(reused);
    expect(turn.result.promptTokens).toEqual(list.slice(reused));
    expectTurnMatchesRecompute(model, list, turn);
    expect(chat.contextUsed).toBe(list.length + maxTokens - 1);
    return turn;
  }

  beforeAll(async () => {
    tokenizer = await sharedTokenizer();
    bundle = await writeBundle(root, model, { name: 'ids', arSet: [1, 32], cl: 256, splits: 2 });
  });
  afterAll(() => dialogs.disposeAll());

  it('on a fresh dialog nothing is reused and the turn equals a normal first query', async () => {
    const chat = await open({ bos: 3 });
    const turn = await tokenTurn(chat, p1, { ...REWIND, maxTokens: 4 });
    expect(turn.result.reusedTokens).toBe(0);
    expect(turn.result.promptTokens).toEqual([3, ...p1]);
    expectTurnMatchesRecompute(model, [3, ...p1], turn);
    const plain = await tokenTurn(await open({ bos: 3 }), p1, { maxTokens: 4 });
    expect(plain.result.reusedTokens).toBe(0);
    expect(turn.sampled).toEqual(plain.sampled);
  });

  it('the whole conversation resent: BOS, no EOS insertion, no carried-over token; only the new part is fed', async () => {
    const BOS = 3;
    const chat = await open({ bos: BOS });
    const g = await firstTurn(chat);
    // The caller's ids hold the whole conversation; the dialog puts BOS in front, as for a first turn.
    const list = [BOS, ...p1, ...g, EOS, ...p2];
    // Cached: BOS, p1, g[0..4]; g[5] was never fed, so the match stops there.
    const turn = await tokenTurn(chat, list.slice(1), { ...REWIND, maxTokens: 5 });
    expect(turn.result.reusedTokens).toBe(1 + p1.length + 5);
    expect(turn.result.promptTokens).toEqual([g[5], EOS, ...p2]);
    expectTurnMatchesRecompute(model, list, turn);

    const fresh = await open({ bos: BOS });
    const one = await tokenTurn(fresh, list.slice(1), { maxTokens: 5 });
    expect(one.sampled).toEqual(turn.sampled);
    expect(maxRowDiff(one, turn)).toBeLessThanOrEqual(1e-4);

    // The turn after a rewind follows the normal rules again: carried-over token, EOS, prompt.
    const next = await tokenTurn(chat, p1, { maxTokens: 3 });
    expect(next.result.reusedTokens).toBe(0);
    const last = turn.result.generatedTokens[4];
    expect(next.result.promptTokens).toEqual([last, EOS, BOS, ...p1]);
    expectTurnMatchesRecompute(model, [...list, ...turn.sampled, EOS, BOS, ...p1], next);
  });

  it('a prompt that diverges after k tokens rewinds to k', async () => {
    const chat = await open();
    const g = await firstTurn(chat);
    for (const k of [7, 0, 15]) {
      const held = k <= p1.length ? p1 : [...p1, ...g.slice(0, 5)];
      // Rebuild the cache each time: the previous rewind replaced what it held.
      chat.reset();
      expect(await firstTurn(chat)).toEqual(g);
      const list = [...divergeAt([...p1, ...g], k), ...p2];
      expect(commonPrefix(list, held)).toBe(k);
      await rewindTurn(chat, list, k);
    }
  });

  it('successive rewinds each reuse what the previous one left in the cache', async () => {
    const chat = await open();
    const g = await firstTurn(chat);
    const first = [...p1, ...g, ...p2];
    const t = await rewindTurn(chat, first, p1.length + 5, 4);
    const second = [...first, ...t.sampled, EOS, ...p1];
    // Cached: the first list and the first 3 sampled tokens.
    await rewindTurn(chat, second, first.length + 3, 3);
  });

  it('a prompt entirely in the cache drops and re-feeds its last token', async () => {
    const chat = await open();
    const g = await firstTurn(chat);
    const cached = [...p1, ...g.slice(0, 5)];
    await rewindTurn(chat, cached, cached.length - 1, 3);

    // A strict prefix of the cache: the rest of the cache is forgotten.
    chat.reset();
    await firstTurn(chat);
    const turn = await rewindTurn(chat, p1.slice(0, 5), 4, 3);
    expect(turn.result.promptTokens).toEqual([p1[4]]);
  });

  it('a stop sequence leaves exactly the kept tokens in the cache', async () => {
    const free = (await tokenTurn(await open(), p1, { maxTokens: 24 })).sampled;
    const { stop } = stopFrom(tokenizer, free, 6, 3);
    const chat = await open({ stopSequences: [stop] });
    const t1 = await tokenTurn(chat, p1);
    expect(t1.result.stopReason).toBe('stop-sequence');
    const kept = t1.result.generatedTokens;
    expect(kept.length).toBeGreaterThan(0);
    // The free-running continuation holds the stop's tokens right after the kept ones: none may match.
    const list = [...p1, ...free, ...p2];
    expect(commonPrefix(list, [...p1, ...free])).toBe(list.length - p2.length);
    await rewindTurn(chat, list, p1.length + kept.length);
  });

  it('an abort during generation leaves the fed tokens; one during a rewind prefill leaves the reused prefix', async () => {
    const chat = await open();
    const controller = new AbortController();
    const t1 = await drain((o) => chat.tokenQuery(p1, o), { signal: controller.signal }, (count) => {
      if (count === 3) controller.abort();
    });
    expect(t1.result.stopReason).toBe('abort');
    expect(t1.sampled).toHaveLength(3);
    // Sampled 3, fed 2: the third would have opened the next turn.
    const list = [...p1, ...t1.sampled, ...p2];
    await rewindTurn(chat, list, p1.length + 2);

    // A signal already aborted: the query does nothing, the cache is untouched.
    const before = chat.contextUsed;
    const none = await tokenTurn(chat, p2, { ...REWIND, signal: AbortSignal.abort() });
    expect(none.result).toMatchObject({ stopReason: 'abort', promptTokens: [], reusedTokens: 0 });
    expect(chat.contextUsed).toBe(before);

    // Aborted after the first 32-token chunk of the remainder (AR 32): only the reused prefix stays.
    chat.reset();
    await tokenTurn(chat, p1, { maxTokens: 1 }); // cache: p1 (the one sampled token is never fed)
    expect(chat.contextUsed).toBe(p1.length);
    const long = [...p1, ...tokenIds(40, 9, 1, vocab - 1)];
    const midPrefill = { get aborted() { return chat.contextUsed > p1.length; } } as AbortSignal;
    const aborted = await tokenTurn(chat, long, { ...REWIND, signal: midPrefill });
    expect(aborted.result).toMatchObject({ stopReason: 'abort', promptTokens: [], reusedTokens: p1.length });
    expect(aborted.sampled).toEqual([]);
    expect(chat.contextUsed).toBe(p1.length);
    // Nothing is carried over from before the rewind; the next plain turn opens with EOS.
    const next = await tokenTurn(chat, p2, { maxTokens: 3 });
    expect(next.result.promptTokens).toEqual([EOS, ...p2]);
    expectTurnMatchesRecompute(model, [...p1, EOS, ...p2], next);
    await rewindTurn(chat, [...p1, EOS, ...p2, ...next.sampled], p1.length + 1 + p2.length + 2);
  });

  it('after reset() nothing is reused', async () => {
    const chat = await open();
    const g = await firstTurn(chat);
    chat.reset();
    expect(chat.contextUsed).toBe(0);
    await rewindTurn(chat, [...p1, ...g, ...p2], 0);
  });

  it('the penalty history follows the cache: a rewind turn samples as a fresh query of the same list', async () => {
    const sampler = {
      version: 1,
      seed: 1,
      temp: 0,
      'token-penalty': { version: 1, 'penalize-last-n': 16, 'repetition-penalty': 1.8, 'presence-penalty': 2 },
    };
    const fresh = await open({ sampler });
    const g = (await tokenTurn(fresh, p1, { maxTokens: 30 })).sampled;
    const g2 = (await tokenTurn(fresh, p2, { maxTokens: 6 })).sampled;
    const cached = [...p1, ...g, EOS, ...p2, ...g2.slice(0, 5)];
    // Each list's last 16 tokens must be the window, though the history had moved far past them.
    const lists = [
      [...p1, ...g.slice(0, 10), ...p2],
      // A prefix that ends inside the second turn (carried-over token and EOS included).
      [...cached.slice(0, p1.length + g.length + 4), ...p1.slice(0, 3)],
    ];
    for (const list of lists) {
      const chat = await open({ sampler });
      await tokenTurn(chat, p1, { maxTokens: 30 });
      await tokenTurn(chat, p2, { maxTokens: 6 });
      const turn = await tokenTurn(chat, list, { ...REWIND, maxTokens: 12 });
      expect(turn.result.reusedTokens).toBe(commonPrefix(list, cached));
      fresh.reset();
      const one = await tokenTurn(fresh, list, { maxTokens: 12 });
      expect(turn.sampled).toEqual(one.sampled);
      expect(maxRowDiff(one, turn)).toBeLessThanOrEqual(1e-4);
    }
  });

  describe('bad input', () => {
    it('rewind that is not a boolean is rejected up front and changes nothing', async () => {
      const chat = await open();
      const g = await firstTurn(chat);
      const used = chat.contextUsed;
      for (const [value, shown] of [['yes', 'string yes'], [1, 'number 1'], [null, 'object null']] as const) {
        const options = { rewind: value } as unknown as QueryOptions;
        expect(() => chat.tokenQuery(p2, options)).toThrow(InvalidArgumentError);
        expect(() => chat.tokenQuery(p2, options)).toThrow(`rewind must be a boolean, got ${shown}`);
        expect(() => chat.query('hello', options)).toThrow(`rewind must be a boolean, got ${shown}`);
      }
      expect(chat.contextUsed).toBe(used);
      await rewindTurn(chat, [...p1, ...g, ...p2], p1.length + 5);
    });

    it('an empty rewind prompt without BOS, and one longer than the context, fail before the cache changes', async () => {
      const chat = await open();
      const g = await firstTurn(chat);
      await expect(tokenTurn(chat, [], REWIND)).rejects.toThrow(InvalidArgumentError);
      await expect(tokenTurn(chat, [], REWIND)).rejects.toThrow('the rewind query has no tokens (empty prompt and no bos-token)');
      const tooLong = [...p1, ...tokenIds(250, 5, 1, vocab - 1)];
      await expect(tokenTurn(chat, tooLong, REWIND)).rejects.toThrow(ContextLimitError);
      // CL 256 with an AR-1 graph: its KV-in holds 255 entries.
      expect(chat.contextLimit).toBe(255);
      await expect(tokenTurn(chat, tooLong, REWIND)).rejects.toThrow(
        `the prompt needs ${tooLong.length - p1.length} tokens but only ${255 - p1.length} of context.size=256 ` +
          "(the binaries' KV cache holds 255 entries) are left; shorten the conversation",
      );
      expect(chat.contextUsed).toBe(p1.length + 5);
      await rewindTurn(chat, [...p1, ...g, ...p2], p1.length + 5);
    });
  });
});

describe.each(BACKENDS)('%s: rewind after an embedding query', (backend) => {
  const root = tempDir('runtime-rewind-embeds');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'rewind-embeds');
  const size = model.config.hiddenSize;
  const vocab = model.config.vocabSize;
  const table = model.weights.get('model.embed_tokens.weight')!.data;
  const EOS = silentEos(model);
  const p1 = tokenIds(6, 31, 1, vocab - 1);
  const p2 = tokenIds(5, 32, 1, vocab - 1);
  let bundle: Bundle;

  /** The LUT rows of `tokens`: the model sees exactly those tokens, yet they come without ids. */
  function rows(tokens: readonly number[]): Float32Array {
    const out = new Float32Array(tokens.length * size);
    tokens.forEach((t, i) => out.set(table.subarray(t * size, (t + 1) * size), i * size));
    return out;
  }

  const lookup = (token: number, row: Float32Array): void => row.set(table.subarray(token * size, (token + 1) * size));

  beforeAll(async () => {
    bundle = await writeBundle(root, model, { name: 'embeds', arSet: [1, 4], cl: 64, splits: 2, inputKind: 'embeds' });
  });
  afterAll(() => dialogs.disposeAll());

  for (const viaCallback of [false, true]) {
    it(`reuse stops at the rows (leading tokens ${viaCallback ? 'through tokenToEmbedding are rows too' : 'through the LUT keep their ids'})`, async () => {
      const chat = await dialogs.open(bundle);
      const t1 = await tokenTurn(chat, p1, { maxTokens: 2 });
      const g = t1.result.generatedTokens;
      const e = await drain((o) => chat.embeddingQuery(rows(p2), { ...o, maxTokens: 3, ...(viaCallback && { tokenToEmbedding: lookup }) }));
      expect(e.result.promptTokens).toEqual([g[1], EOS]);
      // Cached: p1, g0 (ids); g1, EOS (ids through the LUT, rows through the callback); p2 as rows; 2 generated.
      const list = [...p1, ...g, EOS, ...p2, ...e.sampled, ...p1];
      const reused = p1.length + 1 + (viaCallback ? 0 : 2);
      const turn = await tokenTurn(chat, list, { ...REWIND, maxTokens: 3 });
      expect(turn.result.reusedTokens).toBe(reused);
      expect(turn.result.promptTokens).toEqual(list.slice(reused));
      expectTurnMatchesRecompute(model, list, turn);
    });
  }

  it('embeddingQuery rejects rewind: true and stays usable', async () => {
    const chat = await dialogs.open(bundle);
    expect(() => chat.embeddingQuery(rows(p2), REWIND)).toThrow(NotSupportedError);
    expect(() => chat.embeddingQuery(rows(p2), REWIND)).toThrow(
      'embeddingQuery cannot rewind: embedding rows carry no token ids to match against the KV cache',
    );
    const turn = await drain((o) => chat.embeddingQuery(rows(p2), { ...o, maxTokens: 3 }));
    expectTurnMatchesRecompute(model, p2, turn);
  });
});
