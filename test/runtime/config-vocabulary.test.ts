/**
 * The special token ids of a config against its tokenizer, checked by Dialog.create before the
 * binaries are opened (the ids against n-vocab are the schema's, n-vocab against the logits is
 * config-geometry's).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/runtime/config/index.js';
import { checkConfigTokenIds, TokenizerMismatchError } from '../../src/runtime/config-vocabulary.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { exactError } from '../expect-error.js';
import { dialog, type Json } from './config/fixtures.js';
import { sharedTokenizer, tempDir } from './fixtures.js';

const tokenizer = { vocabSize: 1000, source: 'tok.json' };

function config(edit: (d: Json) => void, root = 'dialog'): ReturnType<typeof parseConfig> {
  const body = dialog();
  body.context = { version: 1, size: 4096, 'n-vocab': 2000, 'bos-token': -1, 'eos-token': 2 };
  edit(body);
  return parseConfig({ [root]: body }, { baseDir: '/m' });
}

describe('checkConfigTokenIds', () => {
  it('accepts ids of the tokenizer, -1 for none, and a pad token past it', () => {
    expect(() => checkConfigTokenIds(config(() => {}), tokenizer)).not.toThrow();
    const all = config((d) => Object.assign(d.context, { 'bos-token': 1, 'eos-token': [2, 999], 'eot-token': 998, 'pad-token': 1500 }));
    expect(() => checkConfigTokenIds(all, tokenizer)).not.toThrow();
  });

  it.each<[string, (d: Json) => void, string]>([
    ['bos', (d) => (d.context['bos-token'] = 1000), 'dialog.context.bos-token = 1000'],
    ['a scalar eos', (d) => (d.context['eos-token'] = 1999), 'dialog.context.eos-token = 1999'],
    ['an eos of a list', (d) => (d.context['eos-token'] = [2, 1200, 3]), 'dialog.context.eos-token[1] = 1200'],
    ['eot', (d) => (d.context['eot-token'] = 1001), 'dialog.context.eot-token = 1001'],
  ])('names %s past the tokenizer, its value and the tokenizer', (_what, edit, key) => {
    const id = Number(key.split(' = ')[1]);
    expect(() => checkConfigTokenIds(config(edit), tokenizer)).toThrow(
      exactError(TokenizerMismatchError, `${key}, but the tokenizer "tok.json" has no token ${id} (its ids are 0 .. 999)`),
    );
  });

  it('reads text-generator configs alike', () => {
    expect(() => checkConfigTokenIds(config((d) => (d.context['bos-token'] = 1500), 'text-generator'), tokenizer)).toThrow(
      'text-generator.context.bos-token = 1500, but the tokenizer "tok.json" has no token 1500 (its ids are 0 .. 999)',
    );
  });
});

describe('Dialog.create', () => {
  const dir = tempDir('runtime-config-vocabulary');

  it('refuses an EOS the tokenizer lacks before it opens the binaries (which do not exist here)', async () => {
    const qwen = await sharedTokenizer();
    const body = dialog();
    body.engine = { version: 1, 'n-threads': 1, backend: { version: 1, type: 'Reference' }, model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['missing.safetensors'] } } };
    body.context['eos-token'] = [151645, 151935];
    const error = await Dialog.create({ dialog: body }, { baseDir: dir, tokenizer: qwen }).catch((caught: unknown) => caught);
    expect(error).toEqual(
      exactError(TokenizerMismatchError, `dialog.context.eos-token[1] = 151935, but the tokenizer "${qwen.source}" has no token 151935 (its ids are 0 .. ${qwen.vocabSize - 1})`),
    );
    // With ids the tokenizer has, the next problem is the missing binary.
    body.context['eos-token'] = [151645, 151643];
    const next = await Dialog.create({ dialog: body }, { baseDir: dir, tokenizer: qwen }).catch((caught: unknown) => caught);
    expect(next).not.toBeInstanceOf(TokenizerMismatchError);
    expect((next as Error).message).toContain(join(dir, 'missing.safetensors'));
  });
});
