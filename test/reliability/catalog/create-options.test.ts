/**
 * Catalog: bad options to `Dialog.create`. Unknown keys (of the options, of `backend`, of
 * `backend.qnn`) and values of the wrong kind are rejected before anything is read or opened, with
 * an InvalidArgumentError naming the key; a bad sampler override fails after the backend opened and
 * releases it (no live QNN handle). Creating a dialog with good options works afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { Dialog, type DialogOptions } from '../../../src/runtime/dialog.js';
import { BACKENDS, backendConfig, DialogPool, sharedTokenizer, tokenTurn } from '../../runtime/fixtures.js';
import { DialogProbe, expectRejects, type BadCall } from './catalog.js';

const BAD: readonly BadCall<DialogOptions>[] = [
  { name: 'options null', call: () => null, error: InvalidArgumentError, words: ['Dialog.create options', 'object', 'null'] },
  { name: 'an unknown option (bogus)', call: () => ({ bogus: 1 }), error: InvalidArgumentError, words: ['Dialog.create options', 'unknown option "bogus"', 'baseDir', 'backend'] },
  { name: 'a misspelt option (maxTokens for maxNumTokens)', call: () => ({ maxTokens: 5 }), error: InvalidArgumentError, words: ['unknown option "maxTokens"', 'maxNumTokens'] },
  { name: 'backend "QnnHtp" (a string)', call: () => ({ backend: 'QnnHtp' }), error: InvalidArgumentError, words: ['options.backend', 'object', 'the string "QnnHtp"'] },
  { name: 'an unknown backend key (qnnn)', call: () => ({ backend: { qnnn: {} } }), error: InvalidArgumentError, words: ['options.backend', 'unknown option "qnnn"', 'qnn'] },
  { name: 'an unknown qnn key (provder)', call: () => ({ backend: { qnn: { provder: 'simulated' } } }), error: InvalidArgumentError, words: ['options.backend.qnn', 'unknown option "provder"', 'provider'] },
  { name: 'a qnn key the factory sets itself (ownsSimulated)', call: () => ({ backend: { qnn: { ownsSimulated: true } } }), error: InvalidArgumentError, words: ['options.backend.qnn', 'unknown option "ownsSimulated"'] },
  { name: 'backend.qnn null', call: () => ({ backend: { qnn: null } }), error: InvalidArgumentError, words: ['options.backend.qnn', 'object', 'null'] },
  { name: 'baseDir 5', call: () => ({ baseDir: 5 }), error: InvalidArgumentError, words: ['baseDir', 'string', '5'] },
  { name: 'maxNumTokens "5"', call: () => ({ maxNumTokens: '5' }), error: InvalidArgumentError, words: ['maxNumTokens', 'positive integer', 'the string "5"'] },
  { name: 'maxNumTokens 0', call: () => ({ maxNumTokens: 0 }), error: InvalidArgumentError, words: ['maxNumTokens', 'positive integer', '0'] },
  { name: 'tokenizer {}', call: () => ({ tokenizer: {} }), error: InvalidArgumentError, words: ['tokenizer', 'Tokenizer', 'an object'] },
  { name: 'tokenizer "tokenizer.json" (a path)', call: () => ({ tokenizer: 'tokenizer.json' }), error: InvalidArgumentError, words: ['tokenizer', 'the string "tokenizer.json"'] },
  { name: 'sampler "greedy"', call: () => ({ sampler: 'greedy' }), error: InvalidArgumentError, words: ['sampler', 'object', 'the string "greedy"'] },
];

describe('catalog: Dialog.create options', () => {
  const probe = new DialogProbe();
  beforeAll(() => probe.setup());
  afterAll(() => probe.dispose());

  it.each(BAD)('$name: InvalidArgumentError naming the key, before anything opens; good options work afterwards', async ({ call, error, words }) => {
    const options = call(undefined as never) as DialogOptions;
    await expectRejects(() => Dialog.create(probe.config(), options), error, words);
    // The config object with the bundle folder as baseDir: this works.
    await using dialog = await Dialog.create(probe.config(), { baseDir: probe.dir, tokenizer: await sharedTokenizer() });
    expect((await tokenTurn(dialog, probe.before, { maxTokens: 2 })).result.stopReason).toBe('max-tokens');
  });

  it.each<[string, unknown, string[]]>([
    ['undefined', undefined, ['config file path or a parsed config object', 'undefined']],
    ['an empty path', '', ['config file path', 'the string ""']],
    ['a number', 5, ['config file path', '5']],
    ['an array', [], ['config file path', 'an array']],
  ])('a config that is %s: InvalidArgumentError before anything is read', async (_, config, words) => {
    await expectRejects(() => Dialog.create(config as string), InvalidArgumentError, words);
  });

  describe.each(BACKENDS)('%s', (backend) => {
    const pool = new DialogPool(backend);
    afterAll(() => pool.disposeAll());

    it.each<[string, object, string[]]>([
      ['a bad sampler override', { penalizeLastN: -1 }, ['sampler.penalizeLastN', '-1']],
      ['an unknown sampler key', { topk: 5 }, ['unknown sampler parameter', '"topk"']],
    ])('%s fails after the backend opened, releasing it (the pool checks no QNN handle is live)', async (_, sampler, words) => {
      const tokenizer = await sharedTokenizer();
      const config = probe.config();
      config.dialog.engine.backend = backendConfig(backend);
      await expectRejects(() => pool.create(config, { baseDir: probe.dir, tokenizer, sampler }), InvalidArgumentError, words);
      const dialog = await pool.create(config, { baseDir: probe.dir, tokenizer });
      expect((await tokenTurn(dialog, probe.before, { maxTokens: 2 })).result.stopReason).toBe('max-tokens');
    });
  });
});
