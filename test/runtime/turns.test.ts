import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialog } from '../../src/runtime/dialog.js';
import type { Tokenizer } from '../../src/runtime/tokenizer/index.js';
import {
  BACKENDS, DialogPool, expectTurnMatchesRecompute, makeModel, maxRowDiff, sharedTokenizer, silentEos, stopFrom, tempDir,
  tokenIds, tokenTurn, writeBundle, type Bundle, type ConfigOptions,
} from './fixtures.js';

/**
 * Genie's turn rules (docs/genie-behaviour.md#turn-rules): the previous turn's last sampled token
 * is fed first unless it was EOS or part of a stop match, then EOS (not on the first query), then
 * BOS when configured, then the prompt. Every expectation below spells out the token sequence the
 * model must hold and checks the dialog's logits against one uncached pass over it.
 */
describe.each(BACKENDS)('%s: multi-turn semantics', (backend) => {
  const root = tempDir('runtime-turns');
  const dialogs = new DialogPool(backend);
  const model = makeModel({}, 'turns');
  const vocab = model.config.vocabSize;
  const EOS = silentEos(model);
  const BOS = 3;
  const p1 = tokenIds(12, 1, 1, vocab - 1);
  const p2 = tokenIds(7, 2, 1, vocab - 1);
  let bundle: Bundle;
  let tokenizer: Tokenizer;

  function open(options: ConfigOptions = {}): Promise<Dialog> {
    return dialogs.open(bundle, dialogs.config(bundle, options));
  }

  /** Greedy generation of `count` tokens after `prompt` in a fresh dialog (no BOS), used to pick EOS / stop targets. */
  async function greedyAfter(prompt: number[], count: number): Promise<number[]> {
    const dialog = await open();
    return (await tokenTurn(dialog, prompt, { maxTokens: count })).sampled;
  }

  beforeAll(async () => {
    tokenizer = await sharedTokenizer();
    bundle = await writeBundle(root, model, { name: 'turns', arSet: [1, 32], cl: 256, splits: 2 });
  });
  afterAll(() => dialogs.disposeAll());

  it('two turns equal one query of the same tokens: carried-over token, EOS, BOS, prompt', async () => {
    const chat = await open({ bos: BOS });
    const t1 = await tokenTurn(chat, p1, { maxTokens: 5 });
    expect(t1.result.stopReason).toBe('max-tokens');
    expect(t1.result.promptTokens).toEqual([BOS, ...p1]);
    const g = t1.result.generatedTokens;
    expect(g).toEqual(t1.sampled);
    expectTurnMatchesRecompute(model, [BOS, ...p1], t1);

    const t2 = await tokenTurn(chat, p2, { maxTokens: 10 });
    const carried = g[g.length - 1];
    expect(t2.result.promptTokens).toEqual([carried, EOS, BOS, ...p2]);
    const whole = [BOS, ...p1, ...g, EOS, BOS, ...p2];
    expectTurnMatchesRecompute(model, whole, t2);

    const single = await open({ bos: BOS });
    const one = await tokenTurn(single, whole.slice(1), { maxTokens: 10 });
    expect(one.result.promptTokens).toEqual(whole);
    expect(one.sampled).toEqual(t2.sampled);
    expect(maxRowDiff(one, t2)).toBeLessThanOrEqual(1e-4);
    expect(chat.contextUsed).toBe(single.contextUsed);
  });

  it('an EOS from the eos-token list ends the turn unemitted; the next turn feeds only the primary EOS', async () => {
    const free = await greedyAfter(p1, 8);
    const k = free.findIndex((t, i) => i >= 3 && !free.slice(0, i).includes(t));
    const stopper = free[k];
    const chat = await open({ eos: [EOS, stopper] });

    const t1 = await tokenTurn(chat, p1);
    expect(t1.result.stopReason).toBe('eos');
    expect(t1.sampled).toEqual(free.slice(0, k + 1));
    expect(t1.result.generatedTokens).toEqual(free.slice(0, k));
    expect(t1.result.text).toBe(tokenizer.decode(free.slice(0, k)));
    expect(t1.pieces.join('')).toBe(t1.result.text);
    expect(chat.contextUsed).toBe(p1.length + k);

    const t2 = await tokenTurn(chat, p2, { maxTokens: 6 });
    expect(t2.result.promptTokens).toEqual([EOS, ...p2]);
    expectTurnMatchesRecompute(model, [...p1, ...free.slice(0, k), EOS, ...p2], t2);
  });

  it('an EOS as the very first sampled token ends the turn with no text', async () => {
    const [first] = await greedyAfter(p1, 1);
    const chat = await open({ eos: [EOS, first] });
    const t1 = await tokenTurn(chat, p1);
    expect(t1.result.stopReason).toBe('eos');
    expect(t1.result.generatedTokens).toEqual([]);
    expect(t1.result.text).toBe('');
    expect(t1.pieces).toEqual([]);
    const t2 = await tokenTurn(chat, p2, { maxTokens: 4 });
    expect(t2.result.promptTokens).toEqual([EOS, ...p2]);
    expectTurnMatchesRecompute(model, [...p1, EOS, ...p2], t2);
  });

  it('max-num-tokens caps a turn, maxTokens overrides it, and the capped token is fed at the next turn', async () => {
    const chat = await open({ maxNumTokens: 4 });
    const t1 = await tokenTurn(chat, p1);
    expect(t1.result.stopReason).toBe('max-tokens');
    expect(t1.result.generatedTokens).toHaveLength(4);

    const t2 = await tokenTurn(chat, p2, { maxTokens: 2 });
    expect(t2.result.stopReason).toBe('max-tokens');
    expect(t2.result.generatedTokens).toHaveLength(2);
    const g1 = t1.result.generatedTokens;
    expect(t2.result.promptTokens).toEqual([g1[3], EOS, ...p2]);
    const context2 = [...p1, ...g1, EOS, ...p2];
    expectTurnMatchesRecompute(model, context2, t2);

    const t3 = await tokenTurn(chat, p2);
    expect(t3.result.generatedTokens).toHaveLength(4);
    const g2 = t2.result.generatedTokens;
    expectTurnMatchesRecompute(model, [...context2, ...g2, EOS, ...p2], t3);
  });

  it('the DialogOptions maxNumTokens override beats the config', async () => {
    const chat = await dialogs.open(bundle, dialogs.config(bundle, { maxNumTokens: 4 }), { maxNumTokens: 7 });
    expect((await tokenTurn(chat, p1)).result.generatedTokens).toHaveLength(7);
  });

  describe('stop sequences', () => {
    /**
     * Genie matches stops on decoded text. Oracle: the first prefix of the free-running output
     * whose text contains the stop; the tokens kept are those whose text ends before the stop starts.
     */
    function expectedStop(free: number[], stop: string): { kept: number[]; text: string } {
      for (let j = 1; j <= free.length; j++) {
        const text = tokenizer.decode(free.slice(0, j));
        const at = text.indexOf(stop);
        if (at < 0) continue;
        let kept = 0;
        while (kept < j && tokenizer.decode(free.slice(0, kept + 1)).length <= at) kept++;
        return { kept: free.slice(0, kept), text: text.slice(0, at) };
      }
      throw new Error(`stop ${JSON.stringify(stop)} does not occur in the free-running output`);
    }

    async function checkStop(chat: Dialog, free: number[], stop: string): Promise<void> {
      const { kept, text } = expectedStop(free, stop);
      const t1 = await tokenTurn(chat, p1);
      expect(t1.result.stopReason).toBe('stop-sequence');
      expect(t1.result.generatedTokens).toEqual(kept);
      expect(t1.result.text).toBe(text);
      expect(t1.pieces.join('')).toBe(text);
      expect(chat.contextUsed).toBe(p1.length + kept.length);

      const t2 = await tokenTurn(chat, p2, { maxTokens: 8 });
      expect(t2.result.promptTokens).toEqual([EOS, ...p2]);
      const context = [...p1, ...kept, EOS, ...p2];
      expectTurnMatchesRecompute(model, context, t2);

      const fresh = await open();
      const same = await tokenTurn(fresh, context, { maxTokens: 8 });
      expect(same.sampled).toEqual(t2.sampled);
      expect(maxRowDiff(same, t2)).toBeLessThanOrEqual(1e-4);
    }

    it('a stop from the config leaves the KV as if the stop text had never been generated', async () => {
      const free = await greedyAfter(p1, 24);
      const { stop } = stopFrom(tokenizer, free, 6, 3);
      await checkStop(await open({ stopSequences: ['never occurs \u2603', stop] }), free, stop);
    });

    it('a stop set with setStopSequences works the same way, and an empty list clears it', async () => {
      const free = await greedyAfter(p1, 24);
      const { stop } = stopFrom(tokenizer, free, 10, 4);
      const chat = await open();
      chat.setStopSequences([stop]);
      await checkStop(chat, free, stop);

      chat.reset();
      chat.setStopSequences([]);
      const t = await tokenTurn(chat, p1, { maxTokens: 24 });
      expect(t.result.stopReason).toBe('max-tokens');
      expect(t.result.generatedTokens).toEqual(free);
    });

    it('a stop completed by the bytes flushed when EOS arrives is removed from the KV too', async () => {
      // A lone UTF-8 lead byte is held back until the stream ends; making the token after it an EOS
      // flushes it as U+FFFD, which completes a stop ending in U+FFFD. Every stop token was fed.
      const free = await greedyAfter(p1, 24);
      const i = free.findIndex(
        (t, j) => j >= 2 && tokenizer.decode([t]) === '\uFFFD' && !free.slice(0, j + 1).includes(free[j + 1]) &&
          !tokenizer.decode([free[j - 1]]).includes('\uFFFD'),
      );
      expect(i).toBeGreaterThan(0);
      const stop = `${tokenizer.decode([free[i - 1]])}\uFFFD`;
      const chat = await open({ eos: [EOS, free[i + 1]], stopSequences: [stop] });
      const t1 = await tokenTurn(chat, p1);
      expect(t1.result.stopReason).toBe('stop-sequence');
      const kept = free.slice(0, i - 1);
      expect(t1.result.generatedTokens).toEqual(kept);
      expect(t1.result.text).toBe(tokenizer.decode(kept));
      expect(chat.contextUsed).toBe(p1.length + kept.length);

      const t2 = await tokenTurn(chat, p2, { maxTokens: 6 });
      expect(t2.result.promptTokens).toEqual([EOS, ...p2]);
      expectTurnMatchesRecompute(model, [...p1, ...kept, EOS, ...p2], t2);
    });

    it('a stop that starts inside a token removes that token too', async () => {
      const free = await greedyAfter(p1, 24);
      let found: { stop: string; start: number } | undefined;
      for (let from = 4; !found; from++) {
        const candidate = stopFrom(tokenizer, free, from, 3);
        if (tokenizer.decode([free[candidate.start]]).length >= 2) found = candidate;
        from = candidate.start;
      }
      const stop = found.stop.slice(1);
      const { kept } = expectedStop(free, stop);
      expect(kept.length).toBeLessThanOrEqual(found.start);
      await checkStop(await open({ stopSequences: [stop] }), free, stop);
    });
  });
});
