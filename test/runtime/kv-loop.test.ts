import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialog } from '../../src/runtime/dialog.js';
import type { Tokenizer } from '../../src/runtime/tokenizer/index.js';
import {
  BACKENDS, DialogPool, QWEN_VOCAB, expectTurnMatchesRecompute, makeModel, maxRowDiff, sharedTokenizer, silentEos, tempDir,
  textTurn, tokenTurn, writeBundle, type Bundle, type Turn,
} from './fixtures.js';

const PROMPT = '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n';
const SECOND = '<|im_start|>user\nAnd of Italy? Answer in one word.<|im_end|>\n<|im_start|>assistant\n';

describe.each(BACKENDS)('%s: Dialog over the KV loop vs a full recompute (Qwen vocabulary, text prompt)', (backend) => {
  const root = tempDir('runtime-kv-loop');
  const dialogs = new DialogPool(backend);
  let bundle: Bundle;
  let dialog: Dialog;
  let tokenizer: Tokenizer;
  let first: Turn;

  beforeAll(async () => {
    tokenizer = await sharedTokenizer();
    bundle = await writeBundle(root, makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: 16, intermediateSize: 32 }), {
      name: 'qwen-vocab',
      arSet: [1, 8],
      cl: 128,
      splits: 2,
    });
    dialog = await dialogs.open(bundle);
  });
  afterAll(() => dialogs.disposeAll());

  it('streams greedy tokens whose logits equal the uncached forward pass of prompt + generation', async () => {
    const turn = await textTurn(dialog, PROMPT, { maxTokens: 20 });
    const prompt = Array.from(tokenizer.encode(PROMPT));

    expect(turn.result.stopReason).toBe('max-tokens');
    expect(turn.result.promptTokens).toEqual(prompt);
    expect(turn.result.generatedTokens).toEqual(turn.sampled);
    expect(turn.sampled).toHaveLength(20);
    expectTurnMatchesRecompute(bundle.model, prompt, turn);

    const text = tokenizer.decode(turn.sampled);
    expect(turn.pieces.join('')).toBe(text);
    expect(turn.result.text).toBe(text);
    // prompt + 19 fed generated tokens; the 20th is carried over to the next turn.
    expect(dialog.contextUsed).toBe(prompt.length + 19);
    first = turn;
  });

  it('a second text turn continues the same KV: carried-over token, EOS, then the new prompt', async () => {
    const turn = await textTurn(dialog, SECOND, { maxTokens: 16 });
    const prompt1 = Array.from(tokenizer.encode(PROMPT));
    const prompt2 = Array.from(tokenizer.encode(SECOND));
    const eos = silentEos(bundle.model);
    expect(turn.result.promptTokens).toEqual([first.sampled[19], eos, ...prompt2]);
    expect(turn.result.text).toBe(tokenizer.decode(turn.sampled));
    // The recompute of two turns is checked on a small vocabulary (turns.test.ts); here the
    // single query of the same tokens, itself checked against the recompute above, stands in.
    await using single = await dialogs.open(bundle);
    const whole = await tokenTurn(single, [...prompt1, ...first.sampled, eos, ...prompt2], { maxTokens: 16 });
    expect(whole.sampled).toEqual(turn.sampled);
    expect(maxRowDiff(whole, turn)).toBeLessThanOrEqual(1e-4);
  });

  it('a config file path resolves relative paths against its folder and runs the same model', async () => {
    const path = join(bundle.dir, 'genie_config.json');
    writeFileSync(path, JSON.stringify(dialogs.config(bundle), null, 2));
    await using fromFile = await dialogs.create(path);
    expect(fromFile.tokenizer).toBe(tokenizer);
    const turn = await textTurn(fromFile, PROMPT, { maxTokens: 20 });
    expect(turn.sampled).toEqual(first.sampled);
    expect(maxRowDiff(turn, first)).toBe(0);
  });
});
