import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configCommand } from '../../src/cli/commands/config.js';
import type { CliIO } from '../../src/cli/io.js';
import { dialog } from '../runtime/config/fixtures.js';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), isTTY: false };
  const code = await configCommand(args, io);
  return { code, stdout, stderr };
}

describe('genie-ts config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'genie-config-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('valid: prints ok and the summary, warns about missing files, exits 0', async () => {
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    const path = write('valid.json', JSON.stringify({ dialog: dialog() }));
    const result = await run(['check', path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('ok\nroot=dialog type=basic backend=QnnHtp context=4096 ctx-bins=2\n');
    expect(result.stderr).toBe(
      `warning: file not found: ${join(dir, 'model_part_1_of_2.bin')}\nwarning: file not found: ${join(dir, 'model_part_2_of_2.bin')}\n`,
    );
  });

  it('valid but not runnable here: still 0, with a warning', async () => {
    const lade = { version: 1, 'update-mode': 'FWD_LEVEL', window: 8, ngram: 5, gcap: 8 };
    const path = write('lade.json', JSON.stringify({ dialog: { ...dialog(), type: 'lade', lade } }));
    const result = await run(['check', path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('ok\nroot=dialog type=lade backend=QnnHtp context=4096 ctx-bins=2\n');
    expect(result.stderr).toContain('warning: valid Genie config, but this runtime cannot run it: not supported yet: dialog.type "lade"\n');
  });

  it('invalid config: every error on stderr, nothing on stdout, exits 1', async () => {
    const d = dialog();
    d.context.size = '4096';
    d.engine.backend.QnnHtp['cpu-mask'] = 224;
    d.extra = true;
    const path = write('invalid.json', JSON.stringify({ dialog: d }));
    const result = await run(['check', path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`${path}: 3 errors`);
    expect(lines.slice(1).sort()).toEqual([
      '  dialog.context.size: expected a positive integer, found "4096"',
      '  dialog.engine.backend.QnnHtp.cpu-mask: expected a hex string like "0xe0", found 224',
      expect.stringMatching(/^ {2}dialog\.extra: unknown key; expected one of: version, type, /),
    ].sort());
  });

  it('values Genie accepts that genie-ts does not run: a warning each, naming the path, exits 0', async () => {
    writeFileSync(join(dir, 'model_part_1_of_2.bin'), '');
    writeFileSync(join(dir, 'model_part_2_of_2.bin'), '');
    const d = dialog();
    d.context = { ...d.context, 'n-vocab': 32000, 'bos-token': 1, 'eos-token': [2, 128001], 'eot-token': 32000 };
    d.engine.backend.QnnHtp['cpu-mask'] = 'e0';
    const path = write('ids.json', JSON.stringify({ dialog: d }));
    const result = await run(['check', path]);
    const cannot = 'warning: valid Genie config, but this runtime cannot run it: cannot run:';
    expect(result).toEqual({
      code: 0,
      stdout: 'ok\nroot=dialog type=basic backend=QnnHtp context=4096 ctx-bins=2\n',
      stderr:
        `${cannot} dialog.context.eot-token: expected a token id below n-vocab (32000), found 32000\n` +
        `${cannot} dialog.context.eos-token[1]: expected a token id below n-vocab (32000), found 128001\n` +
        `${cannot} dialog.engine.backend.QnnHtp.cpu-mask: expected a hex string like "0xe0", found "e0"\n`,
    });
  });

  it('a key repeated below the top level: a warning, exits 0 (Genie keeps the last value)', async () => {
    const text = JSON.stringify({ dialog: dialog() }).replace('"size":4096', '"size":4096,"size":4096');
    const path = write('repeated.json', text);
    const result = await run(['check', path]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`warning: dialog.context.size: duplicate key at 1:${text.lastIndexOf('"size"') + 1} (first at 1:${text.indexOf('"size"') + 1}); the last value is used, as Genie does\n`);
  });

  it('invalid JSON: the reason with line:column, exits 2', async () => {
    const path = write('broken.json', '{\n  "dialog": {\n    "version": 1 #\n  }\n}\n');
    const result = await run(['check', path]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`genie-ts config check: invalid JSON in ${path} at 3:18: Expected ',' or '}' after property value\n`);
  });

  it('unreadable file: the OS reason, exits 2', async () => {
    const path = join(dir, 'nope.json');
    const result = await run(['check', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`genie-ts config check: cannot read config file ${path}: ENOENT: no such file or directory\n`);
  });

  it.each<[string[], string]>([
    [[], 'missing subcommand'],
    [['check'], 'missing FILE'],
    [['validate', 'x.json'], 'unknown subcommand "validate"'],
    [['check', 'a.json', 'b.json'], 'unexpected argument "b.json"'],
  ])('bad usage %j: usage on stderr, exits 2', async (args, problem) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.startsWith(`genie-ts config: ${problem}\nusage: genie-ts config check FILE\n`)).toBe(true);
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: genie-ts config check FILE\n/);
  });
});
