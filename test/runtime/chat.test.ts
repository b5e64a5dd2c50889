/**
 * `Dialog.chat`: a conversation rendered with the tokenizer's chat template (Qwen's, from the
 * tokenizer_config.json beside it), sent as a REWIND query. Oracles: the template written out by hand
 * for Qwen's ChatML turns, and a fresh dialog fed the whole rendered conversation at once.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { ChatTemplate, ChatTemplateError } from '../../src/runtime/chat-template.js';
import { demoTokenizerPath } from '../../src/runtime/tokenizer/index.js';
import { exactError } from '../expect-error.js';
import { DialogPool, drain, makeModel, QWEN_VOCAB, tempDir, writeBundle, type Bundle, type Json } from './fixtures.js';

/** Qwen's ChatML, written out: each turn `<|im_start|>{role}\n{content}<|im_end|>\n`, then the opened assistant turn. */
const chatml = (messages: { role: string; content: string }[]): string =>
  messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + '<|im_start|>assistant\n';

describe('Dialog.chat', () => {
  const root = tempDir('runtime-chat');
  const pool = new DialogPool('Reference');
  let bundle: Bundle;
  let config: Json;

  beforeAll(async () => {
    const model = makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: 16, intermediateSize: 32 }, 'chat');
    bundle = await writeBundle(root, model, { name: 'chat', arSet: [1, 8], cl: 256, splits: 1 });
    // The tokenizer and its config (Qwen's chat template) beside each other in the bundle.
    copyFileSync(demoTokenizerPath(), join(bundle.dir, 'tokenizer.json'));
    copyFileSync(join(dirname(demoTokenizerPath()), 'tokenizer_config.json'), join(bundle.dir, 'tokenizer_config.json'));
    config = pool.config(bundle, { maxNumTokens: 4 });
    config.dialog.tokenizer.path = 'tokenizer.json';
  });
  afterAll(() => pool.disposeAll());

  it("renders Qwen's template as ChatML and feeds only the new turns", async () => {
    const dialog = await pool.create(config, { baseDir: bundle.dir });
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
    const first = await drain((o) => dialog.chat(messages, o));
    const rendered = chatml(messages);
    expect(first.result.promptTokens).toEqual(Array.from(dialog.tokenizer.encode(rendered)));

    const next = [...messages, { role: 'assistant', content: first.result.text }, { role: 'user', content: 'More' }];
    const second = await drain((o) => dialog.chat(next, o));
    expect(second.result.reusedTokens).toBeGreaterThanOrEqual(Array.from(dialog.tokenizer.encode(rendered)).length);

    const fresh = await pool.create(config, { baseDir: bundle.dir });
    const whole = await drain((o) => fresh.query(chatml(next), o));
    expect(second.sampled).toEqual(whole.sampled);
    for (let i = 0; i < whole.logits.length; i++) {
      let worst = 0;
      for (let v = 0; v < whole.logits[i].length; v++) worst = Math.max(worst, Math.abs(whole.logits[i][v] - second.logits[i][v]));
      expect(worst).toBeLessThanOrEqual(1e-4);
    }
  });

  it('takes a template of its own; bad messages, templates and options are typed errors', async () => {
    const dialog = await pool.create(config, { baseDir: bundle.dir, chatTemplate: '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}>' });
    const turn = await drain((o) => dialog.chat([{ role: 'user', content: 'x' }], o));
    expect(turn.result.promptTokens).toEqual(Array.from(dialog.tokenizer.encode('[user]x>')));
    expect(() => dialog.chat([])).toThrow(exactError(InvalidArgumentError, 'messages must be a non-empty array of { role, content }, got an array'));
    expect(() => dialog.chat([{ role: 'user' } as never])).toThrow(InvalidArgumentError);
    expect(() => dialog.chat([{ role: 'user', content: 'x' }], { rewind: false } as never)).toThrow(InvalidArgumentError);
    await expect(pool.create(config, { baseDir: bundle.dir, chatTemplate: '{% for %}' })).rejects.toThrow(ChatTemplateError);
    const raising = new ChatTemplate("{{ raise_exception('no system role') }}");
    expect(() => raising.render([{ role: 'system', content: 's' }])).toThrow(ChatTemplateError);
  });

  it('without a tokenizer_config.json beside the tokenizer, chat is NotSupportedError; a broken one fails chat only', async () => {
    // A tokenizer alone in its folder.
    const plain = pool.config(bundle, { maxNumTokens: 2 });
    const alone = join(root, 'alone');
    mkdirSync(alone, { recursive: true });
    copyFileSync(demoTokenizerPath(), join(alone, 'tokenizer.json'));
    plain.dialog.tokenizer.path = join(alone, 'tokenizer.json');
    const dialog = await pool.create(plain, { baseDir: bundle.dir });
    expect(() => dialog.chat([{ role: 'user', content: 'x' }])).toThrow(NotSupportedError);
    writeFileSync(join(alone, 'tokenizer_config.json'), '{"chat_template": "{% if %}"}');
    const broken = await pool.create(plain, { baseDir: bundle.dir });
    expect(() => broken.chat([{ role: 'user', content: 'x' }])).toThrow(ChatTemplateError);
    const turn = await drain((o) => broken.query('plain', o));
    expect(turn.sampled.length).toBeGreaterThan(0);
  });
});
