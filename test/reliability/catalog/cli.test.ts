/**
 * Catalog: `genie-ts run` and `genie-ts config check` with inputs a new user could give. Each case
 * checks the exit status, the words of the one-line message (naming the file or flag, and what a CLI
 * user can do: never "reset()", which only a library user can call), that nothing ran when the
 * problem was knowable before the run, and that a good run works right after.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir, writeConfig, writeTinyBundle, type Bundle } from '../../cli/fixtures.js';
import { dialogConfig, makeModel, writeBundle } from '../../runtime/fixtures.js';

interface CliCase {
  readonly name: string;
  /** The arguments, given the paths the suite prepared. */
  readonly args: () => string[];
  readonly code: number;
  readonly words: readonly string[];
  /** Nothing was streamed: the problem was found before the run. */
  readonly beforeRun: boolean;
}

describe('catalog: genie-ts run and config check', () => {
  const root = tempDir('catalog-cli');
  const previousCache = process.env.GENIE_TS_CACHE_DIR;
  let bundle: Bundle;
  let config: string;
  const paths: Record<string, string> = {};

  beforeAll(async () => {
    // A mistake that fell through to the embedded demo model would build it: keep it out of the user's cache.
    process.env.GENIE_TS_CACHE_DIR = join(root, 'cache');
    bundle = await writeTinyBundle(root);
    config = writeConfig(bundle, 'greedy.json', { maxNumTokens: 4 });
    paths.small = writeConfig(bundle, 'small-context.json', { contextSize: 16 });
    paths.notUtf8 = join(root, 'latin1.json');
    writeFileSync(paths.notUtf8, Buffer.from('{"dialog": "caf\xe9"}', 'latin1'));
    paths.huge = join(root, 'huge.json');
    writeFileSync(paths.huge, Buffer.alloc(16 * 1024 * 1024 + 1, 0x20));
    paths.folder = join(root, 'a-folder');
    mkdirSync(paths.folder);
    paths.file = join(root, 'a-file.txt');
    writeFileSync(paths.file, 'x');
    // An embeddings bundle whose config was copied away from it: its ctx-bins and its LUT are all missing.
    const embeds = await writeBundle(root, makeModel({ hiddenSize: 16, intermediateSize: 32 }, 'catalog-embeds'), {
      name: 'embeds', arSet: [1, 8], cl: 64, splits: 1, inputKind: 'embeds',
    });
    const away = join(root, 'copied-away');
    mkdirSync(away);
    paths.copied = join(away, 'genie_config.json');
    writeFileSync(paths.copied, JSON.stringify(dialogConfig(embeds)));
    paths.embeds = join(embeds.dir, 'genie_config.json');
    writeFileSync(paths.embeds, JSON.stringify(dialogConfig(embeds)));
  });
  afterAll(() => {
    if (previousCache === undefined) delete process.env.GENIE_TS_CACHE_DIR;
    else process.env.GENIE_TS_CACHE_DIR = previousCache;
  });

  const CASES: readonly CliCase[] = [
    { name: 'run -c /dev/zero', args: () => ['run', '-c', '/dev/zero', '-p', 'hi'], code: 1, words: ['/dev/zero', 'is not a JSON config', 'not text'], beforeRun: true },
    { name: 'config check /dev/zero', args: () => ['config', 'check', '/dev/zero'], code: 2, words: ['/dev/zero', 'is not a JSON config', 'not text'], beforeRun: true },
    { name: 'run -c a Latin-1 file', args: () => ['run', '-c', paths.notUtf8, '-p', 'hi'], code: 1, words: ['latin1.json', 'not UTF-8 text'], beforeRun: true },
    { name: 'run -c a file over 16 MiB', args: () => ['run', '-c', paths.huge, '-p', 'hi'], code: 1, words: ['huge.json', 'larger than 16 MiB'], beforeRun: true },
    { name: 'run -c a folder', args: () => ['run', '-c', paths.folder, '-p', 'hi'], code: 1, words: ['a-folder', 'EISDIR'], beforeRun: true },
    { name: 'run --prompt_file /dev/zero', args: () => ['run', '-c', config, '--prompt_file', '/dev/zero'], code: 1, words: ['--prompt_file', '/dev/zero', 'larger than 64 MiB'], beforeRun: true },
    { name: 'run -tok /dev/zero', args: () => ['run', '-c', config, '-tok', '/dev/zero'], code: 1, words: ['--tokens_file', '/dev/zero', 'larger than 64 MiB'], beforeRun: true },
    {
      name: 'run -e /dev/zero (rows beyond what the context takes)',
      args: () => ['run', '-c', paths.embeds, '-e', '/dev/zero'],
      code: 1,
      words: ['--embedding_file', '/dev/zero', "rows, the context's limit"],
      beforeRun: true,
    },
    {
      name: 'run --profile into a missing folder',
      args: () => ['run', '-c', config, '-p', 'hi', '--profile', join(root, 'no-such-folder', 'p.json')],
      code: 1,
      words: ['--profile', 'no-such-folder', 'does not exist'],
      beforeRun: true,
    },
    {
      name: 'run --profile under a file',
      args: () => ['run', '-c', config, '-p', 'hi', '--profile', join(paths.file, 'p.json')],
      code: 1,
      words: ['--profile', 'a-file.txt', 'is not a folder'],
      beforeRun: true,
    },
    {
      name: 'run -c a config copied away from its ctx-bins and LUT',
      args: () => ['run', '-c', paths.copied, '-p', 'hi'],
      code: 1,
      words: ['copied-away', 'model_part_1_of_1.safetensors', 'ENOENT'],
      beforeRun: true,
    },
    {
      name: 'run a prompt longer than the context',
      args: () => ['run', '-c', paths.small, '-p', 'one two three four five six seven eight nine ten '.repeat(3)],
      code: 1,
      words: ['the prompt needs', 'of context.size=16', 'shorten the prompt'],
      beforeRun: true,
    },
    {
      name: 'run a reply that fills the context (a warning, as Genie\'s status is)',
      args: () => ['run', '-c', paths.small, '-p', 'one two three'],
      code: 0,
      words: ['warning: context exceeded', 'GENIE_STATUS_WARNING_CONTEXT_EXCEEDED', '16-token context', '--max-tokens (-n)', 'larger context.size'],
      beforeRun: false,
    },
  ];

  it.each(CASES)('$name: exit $code with a message naming the problem and what to do; a good run works afterwards', async (c) => {
    const result = await cli(c.args());
    expect(result.code).toBe(c.code);
    const lines = result.stderr.split('\n');
    expect(lines, 'one line of message').toHaveLength(2);
    for (const word of c.words) expect(result.stderr).toContain(word);
    expect(result.stderr).not.toContain('reset()');
    expect(result.stderr).not.toContain('Invalid string length');
    if (c.beforeRun) expect(result.stdout).toBe('');
    else expect(result.stdout).not.toBe('');
    if (c.words.includes('ENOENT')) expect(result.stderr, 'the model is reported before its LUT').not.toContain('LUT');

    const good = await cli(['run', '-c', config, '-p', 'hi']);
    expect([good.code, good.stderr]).toEqual([0, '']);
    expect(good.stdout).not.toBe('');
  });
});
