import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Dialog } from '../../src/runtime/dialog.js';
import { dialogConfig } from '../runtime/fixtures.js';
import { cli, QWEN_VOCAB, screen, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const root = tempDir('cli-run-errors');
const previousCache = process.env.GENIE_TS_CACHE_DIR;
// A flag mistake that slipped through would build the demo model: keep it out of the user's cache.
const cacheDir = join(root, 'cache');
beforeAll(() => {
  process.env.GENIE_TS_CACHE_DIR = cacheDir;
});
afterAll(() => {
  if (previousCache === undefined) delete process.env.GENIE_TS_CACHE_DIR;
  else process.env.GENIE_TS_CACHE_DIR = previousCache;
});

const usageError = (message: string) => ({ code: 2, stdout: '', stderr: `genie-ts run: ${message}\n(see genie-ts run --help)\n` });
const runtimeError = (message: string) => ({ code: 1, stdout: '', stderr: `genie-ts run: ${message}\n` });

describe('genie-ts run: bad usage exits 2 with the message and a pointer to --help', () => {
  let count = 0;
  const fresh = (name: string): string => join(root, `usage-${count++}-${name}`);

  const cases: Array<[string, string[], string]> = [
    ['an unknown flag', ['-p', 'hi', '--bogus'], 'unknown flag "--bogus"'],
    ['an unknown one-dash flag', ['-x', '-p', 'hi'], 'unknown flag "-x"'],
    ['a missing value', ['-p'], '-p needs a value'],
    ['a missing config value', ['-p', 'hi', '-c'], '-c needs a value'],
    ['a value that is another flag', ['-c', '--json', '-p', 'hi'], '-c needs a value'],
    ['a value for a boolean', ['-p', 'hi', '--json=yes'], '--json takes no value, got "yes"'],
    ['a repeated flag', ['-p', 'hi', '--prompt', 'ho'], '--prompt is given twice (also as -p)'],
    ['a positional argument', ['-p', 'hi', 'extra'], 'unexpected argument "extra"'],
    ['-p with --prompt_file', ['-p', 'hi', '--prompt_file', 'x.txt'], '--prompt, --prompt_file and --tokens_file are mutually exclusive'],
    ['-p with -tok', ['-tok', 'x.txt', '-p', 'hi'], '--prompt, --prompt_file and --tokens_file are mutually exclusive'],
    ['--top-p above 1', ['-p', 'hi', '--top-p', '2'], '--top-p "2": expected a number in [0, 1]'],
    ['--top-p below 0', ['-p', 'hi', '--top-p', '-0.5'], '--top-p "-0.5": expected a number in [0, 1]'],
    ['--top-p not a number', ['-p', 'hi', '--top-p', 'half'], '--top-p "half": expected a number in [0, 1]'],
    ['a negative --temp', ['-p', 'hi', '--temp', '-1'], '--temp "-1": expected a number >= 0'],
    ['an empty --temp', ['-p', 'hi', '--temp='], '--temp "": expected a number >= 0'],
    ['a fractional --seed', ['-p', 'hi', '--seed', '1.5'], '--seed "1.5" is not an integer'],
    ['a negative --seed', ['-p', 'hi', '--seed', '-1'], '--seed "-1": expected 0..4294967295'],
    ['a --seed above uint32', ['-p', 'hi', '--seed', '4294967296'], '--seed "4294967296": expected 0..4294967295'],
    ['a negative --top-k', ['-p', 'hi', '--top-k', '-2'], '--top-k "-2": expected an integer >= 0'],
    ['-n 0', ['-p', 'hi', '-n', '0'], '--max-tokens "0": expected a positive integer'],
    ['-n not an integer', ['-p', 'hi', '-n', 'ten'], '--max-tokens "ten" is not an integer'],
    ['--log loud', ['-p', 'hi', '--log', 'loud'], '--log "loud" is not one of: error, warn, info, verbose'],
    ['-w without a text prompt', ['-tok', 'x.txt', '-w', 'hi again'], '--rewind needs --prompt or --prompt_file (its query follows a text query, as in genie-t2t-run)'],
    ['-w without a value', ['-p', 'hi', '-w'], '-w needs a value'],
    ['--embedding_query_output_type without -e', ['-p', 'hi', '--embedding_query_output_type', 'token'], "--embedding_query_output_type needs --embedding_file (it says how an embedding query's reply is printed)"],
    ['--embedding_query_output_type ids', ['-e', 'x.raw', '--embedding_query_output_type', 'ids'], '--embedding_query_output_type "ids" is not one of: text, token'],
    ['-l with an alpha name but no value', ['-p', 'hi', '-l', 'adapter,alpha'], '--lora "adapter,alpha": expected an adapter name, then ALPHA_NAME,VALUE pairs'],
    ['-l with an alpha value that is not a number', ['-p', 'hi', '--lora', 'adapter,alpha,strong'], '--lora "adapter,alpha,strong": the value of alpha "strong" is not a number'],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: ${args.join(' ')}`, async () => {
      const profile = fresh('profile.json');
      const dump = fresh('dump.f32');
      expect(await cli(['run', ...args, '--profile', profile, '--dump-logits', dump])).toEqual(usageError(message));
      expect(existsSync(profile)).toBe(false);
      expect(existsSync(dump)).toBe(false);
    });
  }

  it('no prompt at all', async () => {
    expect(await cli(['run'])).toEqual(usageError('give a prompt with -p, --prompt_file, --tokens_file or --embedding_file'));
    expect(await cli(['run', '--json', '-n', '3'])).toEqual(usageError('give a prompt with -p, --prompt_file, --tokens_file or --embedding_file'));
    expect(existsSync(cacheDir)).toBe(false);
  });
});

describe('genie-ts run: bad files and inputs exit 1 with a message naming them', () => {
  let bundle: Bundle;
  let config: string;
  let count = 0;
  const fresh = (name: string): string => join(root, `runtime-${count++}-${name}`);
  const write = (name: string, text: string): string => {
    const path = fresh(name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    bundle = await writeTinyBundle(root);
    config = writeConfig(bundle, 'greedy.json', { maxNumTokens: 4 });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a missing config file', async () => {
    const path = join(root, 'no-such-config.json');
    expect(await cli(['run', '-c', path, '-p', 'hi'])).toEqual(
      runtimeError(`cannot read config file ${path}: ENOENT: no such file or directory`),
    );
  });

  it('a config that is not JSON', async () => {
    const path = write('broken.json', '{"dialog": ');
    const result = await cli(['run', '-c', path, '-p', 'hi']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^genie-ts run: invalid JSON in ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at 1:\\d+: .+\\n$`));
  });

  it('an invalid config: its path, the error count, then one indented line per ConfigError issue', async () => {
    const body = dialogConfig(bundle);
    body.dialog.context.size = '128';
    body.dialog.sampler['top-p'] = 'high';
    body.dialog.extra = true;
    const path = writeConfig(bundle, 'invalid.json', body);
    const result = await cli(['run', '-c', path, '-p', 'hi']);
    expect([result.code, result.stdout]).toEqual([1, '']);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toBe(`genie-ts run: ${path}: 3 errors`);
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(1, -1).sort()).toEqual([
      '  dialog.context.size: expected a positive integer, found "128"',
      expect.stringMatching(/^ {2}dialog\.extra: unknown key; expected one of: version, type, /),
      expect.stringMatching(/^ {2}dialog\.sampler\.top-p: expected a number/),
    ]);
  });

  it('a config whose files are missing', async () => {
    const body = dialogConfig(bundle);
    body.dialog.engine.model.binary['ctx-bins'] = ['gone_part_1_of_1.safetensors'];
    const path = writeConfig(bundle, 'missing-bin.json', body);
    const result = await cli(['run', '-c', path, '-p', 'hi']);
    expect([result.code, result.stdout]).toEqual([1, '']);
    expect(result.stderr).toMatch(/^genie-ts run: .*gone_part_1_of_1\.safetensors.*\n$/);
  });

  it('a valid config this runtime cannot run', async () => {
    const body = dialogConfig(bundle);
    body.dialog.type = 'lade';
    body.dialog.lade = { version: 1, 'update-mode': 'FWD_MAX_HIT', window: 8, ngram: 5, gcap: 8 };
    const path = writeConfig(bundle, 'lade.json', body);
    expect(await cli(['run', '-c', path, '-p', 'hi'])).toEqual(runtimeError('not supported yet: dialog.type "lade"'));
  });

  it('a value Genie accepts that genie-ts does not run: each one named with its path', async () => {
    const body = dialogConfig(bundle);
    body.dialog.context.size = -3;
    body.dialog.engine['n-threads'] = 0; // Genie's thread pool size; genie-ts does not use it
    const path = writeConfig(bundle, 'negative-size.json', body);
    expect(await cli(['run', '-c', path, '-p', 'hi'])).toEqual(runtimeError('cannot run: dialog.context.size: expected a positive integer, found -3'));
  });

  it('a missing prompt file', async () => {
    const path = join(root, 'no-such-prompt.txt');
    expect(await cli(['run', '-c', config, '--prompt_file', path])).toEqual(
      runtimeError(`--prompt_file "${path}": ENOENT: no such file or directory`),
    );
  });

  it('a missing tokens file', async () => {
    const path = join(root, 'no-such-tokens.txt');
    expect(await cli(['run', '-c', config, '-tok', path])).toEqual(
      runtimeError(`--tokens_file "${path}": ENOENT: no such file or directory`),
    );
  });

  it.each<[string, string, number, string]>([
    ['a word', '12 34\nx7 5', 3, 'x7'],
    ['a negative id', '1\t-5', 2, '-5'],
    ['a fraction', '1.5', 1, '1.5'],
    ['a comma list', '1,2,3', 1, '1,2,3'],
  ])('a tokens file with %s', async (_, text, entry, word) => {
    const path = write('tokens.txt', text);
    expect(await cli(['run', '-c', config, '-tok', path])).toEqual(
      runtimeError(`tokens file "${path}": entry ${entry} "${word}" is not a token id`),
    );
  });

  it('an empty tokens file, or one with only whitespace', async () => {
    for (const text of ['', ' \n\t\n']) {
      const path = write('empty.txt', text);
      expect(await cli(['run', '-c', config, '-tok', path])).toEqual(runtimeError(`tokens file "${path}" holds no token ids`));
    }
  });

  it('a token id beyond the vocabulary', async () => {
    const path = write('big.txt', `1 ${QWEN_VOCAB}`);
    expect(await cli(['run', '-c', config, '-tok', path])).toEqual(
      runtimeError(`tokens[1] = ${QWEN_VOCAB} is not a token id in [0, ${QWEN_VOCAB})`),
    );
  });

  it('an empty prompt', async () => {
    expect(await cli(['run', '-c', config, '-p', ''])).toEqual(
      runtimeError('the query has no tokens (empty prompt and nothing to carry over)'),
    );
  });

  it('an unwritable --dump-logits path: exit 1 naming it, the model released, no profile written', async () => {
    const dispose = vi.spyOn(Dialog.prototype, 'dispose');
    const profile = fresh('profile.json');
    for (const path of [join(root, 'no-such-dir', 'logits.f32'), root]) {
      dispose.mockClear();
      const result = await cli(['run', '-c', config, '-p', 'hi', '--dump-logits', path, '--profile', profile]);
      const reason = path === root ? 'EISDIR: illegal operation on a directory' : 'ENOENT: no such file or directory';
      expect(result).toEqual(runtimeError(`--dump-logits "${path}": ${reason}`));
      expect(dispose).toHaveBeenCalledTimes(1);
      expect(existsSync(profile)).toBe(false);
    }
  });

  it('a --profile path in a missing folder, or under a file: exit 1 naming the folder, before the model loads', async () => {
    const create = vi.spyOn(Dialog, 'create');
    const file = write('not-a-folder.txt', 'x');
    for (const [path, folder, problem] of [
      [join(root, 'no-such-dir', 'profile.json'), join(root, 'no-such-dir'), 'does not exist'],
      [join(file, 'profile.json'), file, 'is not a folder'],
    ]) {
      expect(await cli(['run', '-c', config, '-p', 'hi', '--profile', path])).toEqual(
        runtimeError(`--profile "${path}": folder "${folder}" ${problem}`),
      );
    }
    expect(create).not.toHaveBeenCalled();
  });

  it('on a terminal, the error replaces the progress line', async () => {
    const path = join(root, 'no-such-config.json');
    const result = await cli(['run', '-c', path, '-p', 'hi'], true);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('genie-ts: loading model...');
    expect(screen(result.stderr)).toEqual([`genie-ts run: cannot read config file ${path}: ENOENT: no such file or directory`, '']);
  });
});
