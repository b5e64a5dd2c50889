import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoCommand } from '../../src/cli/commands/demo.js';
import type { CliIO } from '../../src/cli/io.js';
import { writeDemoBundle } from '../../src/demo/index.js';
import { listFiles, SMALL, tempDir } from '../demo/fixtures.js';

const root = tempDir('cli');
let count = 0;
const fresh = (): string => join(root, `out${count++}`);

async function run(args: string[], isTTY = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY };
  const code = await demoCommand(args, io);
  return { code, stdout, stderr };
}

const SMALL_FLAGS = ['--layers', '2', '--hidden', '8', '--heads', '2', '--kv-heads', '1', '--ar', '4,1', '--cl', '16', '--seed', '7'];

describe('genie-ts demo', () => {
  it('writes the same bundle as the library, prints its path and a summary, and exits 0', async () => {
    const out = fresh();
    const result = await run(['--out', out, ...SMALL_FLAGS]);
    expect(result).toEqual({
      code: 0,
      stdout:
        `${out}\ndemo model with random weights (layers 2, hidden 8, heads 2, kv-heads 1, splits 2, ar 1,4, cl 16, ` +
        `input ids, seed 7, quant none, backend reference); config: ${join(out, 'genie_config.json')}\n`,
      stderr: '',
    });
    const library = await writeDemoBundle(fresh(), SMALL);
    const files = listFiles(library.dir);
    expect(listFiles(out)).toEqual(files);
    for (const f of files) expect(readFileSync(join(out, f)).equals(readFileSync(join(library.dir, f))), f).toBe(true);
  });

  it('accepts --name=value, --input embeds, and shows progress on a terminal', async () => {
    const out = fresh();
    const result = await run([`--out=${out}`, '--hidden=8', '--heads=2', '--kv-heads=1', '--cl=16', '--ar=1,4', '--input=embeds', '--splits=1'], true);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^generating random weights \(.*input embeds.*\)\nwriting demo_part_1_of_1\.safetensors\n/);
    expect(listFiles(out)).toContain('embedding_lut.bin');
  });

  it('overwrites an existing demo bundle only with --force', async () => {
    const out = fresh();
    expect((await run(['--out', out, ...SMALL_FLAGS])).code).toBe(0);
    expect(await run(['--out', out, ...SMALL_FLAGS])).toEqual({
      code: 1,
      stdout: '',
      stderr: `genie-ts demo: output folder "${out}" already holds a demo bundle; pass force (--force) to overwrite it\n`,
    });
    expect((await run(['--out', out, ...SMALL_FLAGS, '--seed', '8'])).code).toBe(2);
    const forced = await run(['--force', '--out', out, ...SMALL_FLAGS.slice(0, -2), '--seed', '8']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8')).options.seed).toBe(8);
  });

  it('prints usage for -h and --help', async () => {
    for (const flag of ['-h', '--help']) {
      const { code, stdout, stderr } = await run([flag]);
      expect([code, stderr]).toEqual([0, '']);
      expect(stdout).toMatch(/^usage: genie-ts demo --out DIR/);
      for (const f of ['--layers', '--hidden', '--heads', '--kv-heads', '--splits', '--ar', '--cl', '--seed', '--input', '--quant', '--force']) {
        expect(stdout).toContain(f);
      }
      expect(stdout).toContain('(default 1,32)');
    }
  });

  const badUsage: Array<[string, string[], string]> = [
    ['an unknown flag', ['--bogus'], 'unknown flag "--bogus"'],
    ['a missing value', ['--layers'], '--layers needs a value'],
    ['a value that is a flag', ['--cl', '--force'], '--cl needs a value'],
    ['a non-integer', ['--layers', 'two'], '--layers "two" is not an integer'],
    ['a fractional integer', ['--cl', '512.5'], '--cl "512.5" is not an integer'],
    ['an AR list entry that is not an integer', ['--ar', '1,x'], '--ar "1,x": entry "x" is not an integer'],
    ['an unknown input kind', ['--input', 'tokens'], '--input "tokens" is not one of: ids, embeds'],
    ['an unknown quantization', ['--quant', 'int8'], '--quant "int8" is not one of: none, htp, fp16'],
    ['layers out of range', ['--layers', '0'], '--layers 0: expected an integer in [1, 64]'],
    ['a hidden size that is not a multiple of heads', ['--hidden', '66'], '--hidden 66: not a multiple of heads 4'],
    ['kv heads not dividing heads', ['--kv-heads', '3'], '--kv-heads 3: does not divide heads 4'],
    ['too many splits', ['--splits', '4'], '--splits 4: expected an integer in [1, 3] (layers 2 plus the embedding part)'],
    ['a repeated AR', ['--ar', '32,1,32'], '--ar 32,1,32: AR 32 appears twice'],
    ['an AR not below CL', ['--ar', '1,64', '--cl', '64'], '--ar 1,64: entry 64 is not an integer in [1, cl 64)'],
    ['a negative seed', ['--seed', '-1'], '--seed -1: expected an integer in [0, 4294967295]'],
    ['a seed above uint32', ['--seed', '4294967296'], '--seed 4294967296: expected an integer in [0, 4294967295]'],
    ['a repeated flag', ['--seed', '1', '--seed', '2'], '--seed is given twice'],
    ['a value for --force', ['--force=yes'], '--force takes no value, got "yes"'],
    ['a positional argument', ['extra'], 'unexpected argument "extra"'],
  ];
  for (const [what, args, message] of badUsage) {
    it(`exits 2 naming the flag and value for ${what}, writing nothing`, async () => {
      const out = fresh();
      expect(await run(['--out', out, ...args])).toEqual({
        code: 2,
        stdout: '',
        stderr: `genie-ts demo: ${message}\n(see genie-ts demo --help)\n`,
      });
      expect(existsSync(out)).toBe(false);
    });
  }

  it('exits 2 without --out or with an empty one', async () => {
    expect(await run(SMALL_FLAGS)).toEqual({ code: 2, stdout: '', stderr: 'genie-ts demo: missing --out DIR\n(see genie-ts demo --help)\n' });
    expect((await run(['--out=', ...SMALL_FLAGS])).stderr).toBe('genie-ts demo: --out needs a folder, got ""\n(see genie-ts demo --help)\n');
  });

  it('exits 1 with the message when the output folder cannot be written, and works again afterwards', async () => {
    const occupied = fresh();
    mkdirSync(occupied);
    writeFileSync(join(occupied, 'mine.txt'), 'keep');
    expect(await run(['--out', occupied, ...SMALL_FLAGS])).toEqual({
      code: 1,
      stdout: '',
      stderr: `genie-ts demo: output folder "${occupied}" is not empty and is not a demo bundle (no valid demo.json); refusing to overwrite it\n`,
    });
    expect(listFiles(occupied)).toEqual(['mine.txt']);

    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    expect((await run(['--out', file, ...SMALL_FLAGS])).stderr).toBe(`genie-ts demo: output "${file}" exists and is not a folder\n`);
    const underFile = await run(['--out', join(file, 'sub'), ...SMALL_FLAGS]);
    expect(underFile.code).toBe(1);
    expect(underFile.stderr).toMatch(/^genie-ts demo: ENOTDIR: not a directory/);

    expect((await run(['--out', fresh(), ...SMALL_FLAGS])).code).toBe(0);
  });
});
