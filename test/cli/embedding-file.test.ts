/**
 * `genie-ts run -e/--embedding_file PATH[,TYPE,SCALE,OFFSET]` and `-t/--embedding_table`: raw
 * embedding rows as the prompt. Oracles: the same tokens through `-tok`, and rows written in another
 * encoding by formulas here (QNN convention `float = (q + offset) * scale`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullForward } from '../backends/reference/qwen2-oracle.js';
import { argmax, makeModel, writeBundle, type Model } from '../runtime/fixtures.js';
import { cli, QWEN_VOCAB, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const root = tempDir('cli-embedding-file');
const usageError = (message: string) => ({ code: 2, stdout: '', stderr: `genie-ts run: ${message}\n(see genie-ts run --help)\n` });
const runtimeError = (message: string) => ({ code: 1, stdout: '', stderr: `genie-ts run: ${message}\n` });

const HIDDEN = 16;
const TOKENS = [9707, 11, 1879, 0, 151644, 872, 198];
const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

let model: Model;
let bundle: Bundle;
let config: string;
let table: Float32Array;
const file = (name: string): string => join(bundle.dir, name);

beforeAll(async () => {
  model = makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: HIDDEN, intermediateSize: 32 }, 'cli-embeds');
  bundle = await writeBundle(root, model, { name: 'embeds', arSet: [1, 8], cl: 128, splits: 2, inputKind: 'embeds' });
  config = writeConfig(bundle, 'genie_config.json');
  table = model.weights.get('model.embed_tokens.weight')!.data;
  const rows = new Float32Array(TOKENS.length * HIDDEN);
  TOKENS.forEach((t, i) => rows.set(table.subarray(t * HIDDEN, (t + 1) * HIDDEN), i * HIDDEN));
  writeFileSync(file('prompt.f32'), bytesOf(rows));
  writeFileSync(file('prompt.tok'), TOKENS.join(' '));
});

/** The `--json` object of a run, with the KPIs (timings) dropped. */
async function jsonRun(args: string[]): Promise<Record<string, unknown>> {
  const result = await cli(['run', '-c', config, '-n', '6', '--json', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const { kpis: _kpis, ...rest } = JSON.parse(result.stdout);
  return rest;
}

describe('genie-ts run -e', () => {
  it('a float32 file of the LUT rows of T prints what -tok T prints, and the same generated ids', async () => {
    const byTokens = await cli(['run', '-c', config, '-n', '6', '-tok', file('prompt.tok')]);
    const byRows = await cli(['run', '-c', config, '-n', '6', '-e', file('prompt.f32')]);
    expect(byTokens.code).toBe(0);
    expect(byRows).toEqual(byTokens);
    const jsonTokens = await jsonRun(['-tok', file('prompt.tok')]);
    const jsonRows = await jsonRun(['--embedding_file', `${file('prompt.f32')},float32`]);
    expect(jsonRows.generatedTokens).toEqual(jsonTokens.generatedTokens);
    expect((jsonRows.generatedTokens as number[]).length).toBe(6);
    expect(jsonRows.text).toBe(jsonTokens.text);
    expect(jsonRows.promptTokens).toEqual([]);
    expect(jsonTokens.promptTokens).toEqual(TOKENS);
  });

  it('--embedding_query_output_type token prints the generated ids (space-separated) instead of the text; text is the default', async () => {
    const json = await jsonRun(['-e', file('prompt.f32')]);
    const ids = await cli(['run', '-c', config, '-n', '6', '-e', file('prompt.f32'), '--embedding_query_output_type', 'token']);
    expect(ids).toEqual({ code: 0, stdout: `${(json.generatedTokens as number[]).join(' ')}\n`, stderr: '' });
    const text = await cli(['run', '-c', config, '-n', '6', '-e', file('prompt.f32'), '--embedding_query_output_type', 'text']);
    expect(text).toEqual(await cli(['run', '-c', config, '-n', '6', '-e', file('prompt.f32')]));
    // --json prints the one summary, ids and text both in it.
    const both = await cli(['run', '-c', config, '-n', '6', '-e', file('prompt.f32'), '--embedding_query_output_type', 'token', '--json']);
    const { kpis: _kpis, ...rest } = JSON.parse(both.stdout);
    expect(rest).toEqual(json);
  });

  it('FILE,uint16,SCALE,OFFSET equals a float32 file of the values those codes stand for', async () => {
    const scale = 0.001;
    const offset = -32768;
    const rows = new Float32Array(TOKENS.length * HIDDEN);
    TOKENS.forEach((t, i) => rows.set(table.subarray(t * HIDDEN, (t + 1) * HIDDEN), i * HIDDEN));
    const codes = Uint16Array.from(rows, (x) => Math.min(65535, Math.max(0, Math.round(x / scale - offset))));
    expect(new Set(codes).has(0) || new Set(codes).has(65535)).toBe(false);
    writeFileSync(file('prompt.u16'), bytesOf(codes));
    writeFileSync(file('prompt-dequantized.f32'), bytesOf(Float32Array.from(codes, (q) => (q + offset) * scale)));
    const byCodes = await jsonRun(['-e', `${file('prompt.u16')},uint16,${scale},${offset}`]);
    const byValues = await jsonRun(['-e', file('prompt-dequantized.f32')]);
    expect(byCodes).toEqual(byValues);
  });

  it('-t with the LUT itself changes nothing', async () => {
    const plain = await jsonRun(['-e', file('prompt.f32')]);
    expect(await jsonRun(['-e', file('prompt.f32'), '-t', join(bundle.dir, bundle.lut!)])).toEqual(plain);
    const withTable = await jsonRun(['-e', file('prompt.f32'), '--embedding_table', `${join(bundle.dir, bundle.lut!)},float32`]);
    expect(withTable).toEqual(plain);
  });

  it('-t with a table whose row t holds the embedding of t+1: generated ids follow the model fed those rows', async () => {
    const shift = (t: number): number => (t + 1) % QWEN_VOCAB;
    const shifted = new Float32Array(table.length);
    for (let t = 0; t < QWEN_VOCAB; t++) shifted.set(table.subarray(shift(t) * HIDDEN, (shift(t) + 1) * HIDDEN), t * HIDDEN);
    writeFileSync(file('shifted-lut.bin'), bytesOf(shifted));
    const run = await jsonRun(['-e', file('prompt.f32'), '-t', file('shifted-lut.bin')]);
    const generated = run.generatedTokens as number[];
    expect(generated).not.toEqual((await jsonRun(['-e', file('prompt.f32')])).generatedTokens);
    const logits = fullForward(model.config, model.weights, [...TOKENS, ...generated.slice(0, -1).map(shift)]);
    generated.forEach((token, i) => expect(token).toBe(argmax(logits[TOKENS.length - 1 + i])));
  });
});

describe('genie-ts run -e/-t: bad specs exit 2, file problems exit 1', () => {
  const usageCases: Array<[string, string[], string]> = [
    ['uint16 without SCALE and OFFSET', ['-e', 'f,uint16'], '--embedding_file "f,uint16": TYPE uint16 needs SCALE and OFFSET'],
    ['an unknown TYPE', ['-e', 'f,float64'], '--embedding_file "f,float64": TYPE "float64" is not one of: float32, uint8, uint16, int8, int16'],
    ['a non-numeric SCALE', ['-e', 'f,uint8,abc,0'], '--embedding_file "f,uint8,abc,0": SCALE "abc" is not a number > 0'],
    ['a zero SCALE', ['-e', 'f,int16,0,0'], '--embedding_file "f,int16,0,0": SCALE "0" is not a number > 0'],
    ['a fractional OFFSET', ['-e', 'f,uint16,0.5,1.5'], '--embedding_file "f,uint16,0.5,1.5": OFFSET "1.5" is not an integer'],
    ['SCALE without OFFSET', ['-e', 'f,uint16,0.5'], '--embedding_file "f,uint16,0.5": expected PATH[,TYPE,SCALE,OFFSET]'],
    [
      'SCALE and OFFSET for float32',
      ['-e', 'f,float32,1,0'],
      '--embedding_file "f,float32,1,0": SCALE and OFFSET apply to the fixed-point types (uint8, uint16, int8, int16) only',
    ],
    ['an empty PATH', ['-e', ',uint8,1,0'], '--embedding_file ",uint8,1,0": PATH is empty'],
    ['-e with -p', ['-e', 'f', '-p', 'hi'], '--embedding_file and --prompt are mutually exclusive (give one prompt source)'],
    ['-e with -tok', ['-tok', 't', '--embedding_file', 'f'], '--embedding_file and --tokens_file are mutually exclusive (give one prompt source)'],
    ['-t without -e', ['-p', 'hi', '-t', 'lut.bin'], '--embedding_table needs --embedding_file (it turns generated tokens into embeddings for that query)'],
    ['a bad -t spec', ['-e', 'f', '-t', 'lut.bin,uint8'], '--embedding_table "lut.bin,uint8": TYPE uint8 needs SCALE and OFFSET'],
  ];
  for (const [what, args, message] of usageCases) {
    it(`${what}: ${args.join(' ')}`, async () => {
      expect(await cli(['run', '-c', config, ...args])).toEqual(usageError(message));
    });
  }

  it('a missing file', async () => {
    const missing = file('missing.f32');
    expect(await cli(['run', '-c', config, '-e', missing])).toEqual(
      runtimeError(`--embedding_file "${missing}": ENOENT: no such file or directory`),
    );
  });

  it('a file that is not a whole number of rows', async () => {
    const odd = file('odd.u16');
    writeFileSync(odd, new Uint8Array(HIDDEN * 2 * 3 + 2));
    expect(await cli(['run', '-c', config, '-e', `${odd},uint16,0.01,-100`])).toEqual(
      runtimeError(
        `--embedding_file "${odd}" has ${HIDDEN * 6 + 2} bytes, not a positive multiple of one row ` +
          `(${HIDDEN} x 2 bytes of UFIXED_POINT_16 = ${HIDDEN * 2} bytes)`,
      ),
    );
  });

  it('a -t table of the wrong size', async () => {
    const short = file('short-lut.bin');
    writeFileSync(short, new Uint8Array(1000));
    const expected = QWEN_VOCAB * HIDDEN * 4;
    expect(await cli(['run', '-c', config, '-e', file('prompt.f32'), '-t', short])).toEqual(
      runtimeError(
        `--embedding_table: embedding LUT "${short}" has 1000 bytes, expected n-vocab x size x bytes = ` +
          `${QWEN_VOCAB} x ${HIDDEN} x 4 = ${expected}`,
      ),
    );
  });

  it('a model that takes token ids', async () => {
    const ids = await writeTinyBundle(root, 'ids');
    const idsConfig = writeConfig(ids, 'genie_config.json');
    expect(await cli(['run', '-c', idsConfig, '-e', file('prompt.f32')])).toEqual(
      runtimeError('--embedding_file needs a model whose first graph takes embeddings; this one takes token ids'),
    );
  });
});

describe('genie-ts run --help', () => {
  it('lists -e and -t', async () => {
    const { code, stdout } = await cli(['run', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('-e, --embedding_file PATH[,TYPE,SCALE,OFFSET]');
    expect(stdout).toContain('-t, --embedding_table PATH[,TYPE,SCALE,OFFSET]');
  });
});
