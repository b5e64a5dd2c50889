import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextLimitError } from '../../src/graphs/errors.js';
import { Dialog } from '../../src/runtime/dialog.js';
import { demoTokenizerPath, loadTokenizer } from '../../src/runtime/tokenizer/index.js';
import { silentEos } from '../runtime/fixtures.js';
import { cli, libraryTurn, printed, screen, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const KPI_NAMES = [
  'init-time', 'time-to-first-token', 'prompt-processing-rate', 'token-generation-time', 'token-generation-rate',
  'num-prompt-tokens', 'num-generated-tokens',
].sort();

const PROMPT = '<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n';
/** The config's `max-num-tokens`: greedy decoding on random weights never meets the (silent) EOS. */
const MAX_NUM_TOKENS = 10;

interface RunJson {
  promptTokens: number[];
  generatedTokens: number[];
  text: string;
  stopReason: string;
  kpis: Record<string, number>;
}

/** `--json` output: exactly one line holding one JSON object. */
function parseJsonOutput(stdout: string): RunJson {
  expect(stdout.endsWith('\n')).toBe(true);
  expect(stdout.slice(0, -1)).not.toContain('\n');
  const value = JSON.parse(stdout);
  expect(Object.keys(value).sort()).toEqual(['generatedTokens', 'kpis', 'promptTokens', 'stopReason', 'text']);
  expect(Object.keys(value.kpis).sort()).toEqual(KPI_NAMES);
  return value;
}

const floats = (path: string): Float32Array => {
  const bytes = readFileSync(path);
  expect(bytes.length % 4).toBe(0);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
};

describe('genie-ts run -c CONFIG', () => {
  const root = tempDir('cli-run');
  let bundle: Bundle;
  let config: string;
  let count = 0;
  const fresh = (name: string): string => join(root, `${count++}-${name}`);

  beforeAll(async () => {
    bundle = await writeTinyBundle(root);
    config = writeConfig(bundle, 'greedy.json', { maxNumTokens: MAX_NUM_TOKENS });
  });

  it('streams the same text as the library query to stdout, a newline after it, nothing on stderr', async () => {
    const oracle = await libraryTurn(config, { text: PROMPT });
    expect(oracle.result.generatedTokens).toHaveLength(MAX_NUM_TOKENS);
    expect(oracle.result.text).not.toBe('');
    expect(await cli(['run', '-c', config, '-p', PROMPT])).toEqual({ code: 0, stdout: printed(oracle.result.text), stderr: '' });
  });

  it('--json prints one JSON object whose ids, text and stop reason are the library result', async () => {
    const oracle = await libraryTurn(config, { text: PROMPT });
    const result = await cli(['run', '--config', config, '--prompt', PROMPT, '--json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const json = parseJsonOutput(result.stdout);
    expect(json.promptTokens).toEqual(oracle.result.promptTokens);
    expect(json.generatedTokens).toEqual(oracle.result.generatedTokens);
    expect(json.text).toBe(oracle.result.text);
    expect(json.stopReason).toBe('max-tokens');
    expect(json.kpis['num-prompt-tokens']).toBe(oracle.result.promptTokens.length);
    expect(json.kpis['num-generated-tokens']).toBe(MAX_NUM_TOKENS);
  });

  it('-tok reads whitespace-separated ids (spaces, newlines, tabs) like tokenQuery', async () => {
    const ids = Array.from((await loadTokenizer(demoTokenizerPath())).encode(PROMPT));
    expect(ids.length).toBeGreaterThan(6);
    const path = fresh('tokens.txt');
    const seps = [' ', '\n', '\t', '  ', '\r\n', ' \t\n'];
    writeFileSync(path, `\n ${ids.map((id, i) => `${id}${seps[i % seps.length]}`).join('')}\n\n`);
    const oracle = await libraryTurn(config, { tokens: ids });

    const text = await cli(['run', '-c', config, '-tok', path]);
    expect(text).toEqual({ code: 0, stdout: printed(oracle.result.text), stderr: '' });
    const json = parseJsonOutput((await cli(['run', '-c', config, '--tokens_file', path, '--json'])).stdout);
    expect(json.promptTokens).toEqual(oracle.result.promptTokens);
    expect(json.generatedTokens).toEqual(oracle.result.generatedTokens);
    // The text prompt encodes to the same ids: same generation.
    expect(json.generatedTokens).toEqual((await libraryTurn(config, { text: PROMPT })).result.generatedTokens);
  });

  it('--prompt_file reads the whole file (newlines included) as the prompt', async () => {
    const path = fresh('prompt.txt');
    const prompt = `${PROMPT}\n`;
    writeFileSync(path, prompt);
    const oracle = await libraryTurn(config, { text: prompt });
    const result = await cli(['run', '-c', config, '--prompt_file', path, '--json']);
    expect(result.code).toBe(0);
    const json = parseJsonOutput(result.stdout);
    expect(json.promptTokens).toEqual(oracle.result.promptTokens);
    expect(json.generatedTokens).toEqual(oracle.result.generatedTokens);
    expect(json.text).toBe(oracle.result.text);
  });

  it('-n caps the generated tokens below the config’s max-num-tokens', async () => {
    const oracle = await libraryTurn(config, { text: PROMPT }, { maxTokens: 3 });
    const json = parseJsonOutput((await cli(['run', '-c', config, '-p', PROMPT, '-n', '3', '--json'])).stdout);
    expect(json.generatedTokens).toEqual(oracle.result.generatedTokens);
    expect(json.generatedTokens).toHaveLength(3);
    expect(json.stopReason).toBe('max-tokens');
    expect(json.kpis['num-generated-tokens']).toBe(3);
    const full = await libraryTurn(config, { text: PROMPT });
    expect(full.result.generatedTokens.slice(0, 3)).toEqual(json.generatedTokens);
  });

  const overrides: Array<[string[], Record<string, number>]> = [
    [['--seed', '7', '--temp', '1.3', '--top-k', '50', '--top-p', '0.9'], { seed: 7, temp: 1.3, topK: 50, topP: 0.9 }],
    [['--temp', '2', '--seed', '4294967295'], { temp: 2, seed: 4294967295 }],
    [['--temp=0.8', '--top-p=0.5', '--seed=11'], { temp: 0.8, topP: 0.5, seed: 11 }],
  ];
  for (const [flags, sampler] of overrides) {
    it(`${flags.join(' ')} overrides the config’s sampler like Dialog.create(path, { sampler })`, async () => {
      const oracle = await libraryTurn(config, { text: PROMPT }, {}, { sampler });
      const greedy = await libraryTurn(config, { text: PROMPT });
      expect(oracle.result.generatedTokens).not.toEqual(greedy.result.generatedTokens);
      const result = await cli(['run', '-c', config, '-p', PROMPT, ...flags, '--json']);
      expect(result.code).toBe(0);
      const json = parseJsonOutput(result.stdout);
      expect(json.generatedTokens).toEqual(oracle.result.generatedTokens);
      expect(json.text).toBe(oracle.result.text);
    });
  }

  it('--top-k 1 on a sampling config is greedy', async () => {
    const sampling = writeConfig(bundle, 'sampling.json', {
      maxNumTokens: MAX_NUM_TOKENS,
      sampler: { version: 1, seed: 3, temp: 1.5, 'top-k': 100, 'top-p': 1 },
    });
    const greedy = await libraryTurn(config, { text: PROMPT });
    expect((await libraryTurn(sampling, { text: PROMPT })).result.generatedTokens).not.toEqual(greedy.result.generatedTokens);
    const json = parseJsonOutput((await cli(['run', '-c', sampling, '-p', PROMPT, '--top-k', '1', '--json'])).stdout);
    expect(json.generatedTokens).toEqual(greedy.result.generatedTokens);
  });

  it('--dump-logits writes generated + EOS rows of vocab float32 values, equal to the onLogits rows', async () => {
    const free = (await libraryTurn(config, { text: PROMPT })).result.generatedTokens;
    // The first token not seen before position 3 becomes an EOS: the query ends there.
    const k = free.findIndex((t, i) => i >= 3 && !free.slice(0, i).includes(t));
    const eosConfig = writeConfig(bundle, 'eos.json', { maxNumTokens: MAX_NUM_TOKENS, eos: [silentEos(bundle.model), free[k]] });
    const oracle = await libraryTurn(eosConfig, { text: PROMPT });
    expect(oracle.result.stopReason).toBe('eos');
    expect(oracle.result.generatedTokens).toEqual(free.slice(0, k));
    expect(oracle.logits).toHaveLength(k + 1);

    const path = fresh('logits.f32');
    const result = await cli(['run', '-c', eosConfig, '-p', PROMPT, '--dump-logits', path]);
    expect(result).toEqual({ code: 0, stdout: printed(oracle.result.text), stderr: '' });
    const vocab = bundle.model.config.vocabSize;
    const dumped = floats(path);
    expect(dumped.length).toBe((k + 1) * vocab);
    oracle.logits.forEach((row, i) => expect(dumped.subarray(i * vocab, (i + 1) * vocab)).toEqual(row));
  });

  it('--dump-logits with -n: one row per generated token when no EOS is sampled', async () => {
    const oracle = await libraryTurn(config, { text: PROMPT }, { maxTokens: 4 });
    const path = fresh('capped.f32');
    expect((await cli(['run', '-c', config, '-p', PROMPT, '-n', '4', '--dump-logits', path])).code).toBe(0);
    const vocab = bundle.model.config.vocabSize;
    const dumped = floats(path);
    expect(dumped.length).toBe(4 * vocab);
    oracle.logits.forEach((row, i) => expect(dumped.subarray(i * vocab, (i + 1) * vocab)).toEqual(row));
  });

  it('--profile writes the KPIs under Genie’s names, the same as --json reports', async () => {
    const path = fresh('profile.json');
    const result = await cli(['run', '-c', config, '-p', PROMPT, '--profile', path, '--json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const json = parseJsonOutput(result.stdout);
    const profile = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(profile).sort()).toEqual(KPI_NAMES);
    expect(profile).toEqual(json.kpis);
    expect(profile['num-generated-tokens']).toBe(MAX_NUM_TOKENS);
    expect(profile['num-prompt-tokens']).toBe(json.promptTokens.length);
    for (const name of KPI_NAMES) expect(profile[name], name).toBeGreaterThanOrEqual(0);
  });

  it('--profile refuses to overwrite an existing file: exit 1, file unchanged, nothing run', async () => {
    const path = fresh('existing.json');
    writeFileSync(path, 'keep me');
    expect(await cli(['run', '-c', config, '-p', PROMPT, '--profile', path])).toEqual({
      code: 1,
      stdout: '',
      stderr: `genie-ts run: --profile "${path}" already exists (genie-ts, like Genie, does not overwrite it)\n`,
    });
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('--log info and verbose write diagnostics to stderr only; stdout stays exactly the text', async () => {
    const oracle = await libraryTurn(config, { text: PROMPT });
    const info = await cli(['run', '-c', config, '-p', PROMPT, '--log', 'info']);
    expect([info.code, info.stdout]).toEqual([0, printed(oracle.result.text)]);
    const infoLines = info.stderr.trimEnd().split('\n');
    expect(infoLines[0]).toMatch(/^\[info\] backend Reference, context\.size 128, init \d+\.\d ms$/);
    expect(infoLines[1]).toMatch(/^\[info\] stop: max-tokens; KPIs \{"init-time":/);
    expect(infoLines).toHaveLength(2);

    const verbose = await cli(['run', '-c', config, '-p', PROMPT, '--log', 'verbose']);
    expect([verbose.code, verbose.stdout]).toEqual([0, printed(oracle.result.text)]);
    expect(verbose.stderr).toContain(
      `[verbose] prompt tokens ${oracle.result.promptTokens.join(' ')}; generated ${oracle.result.generatedTokens.join(' ')}\n`,
    );
    const warn = await cli(['run', '-c', config, '-p', PROMPT, '--log', 'warn']);
    expect(warn).toEqual({ code: 0, stdout: printed(oracle.result.text), stderr: '' });
  });

  it('on a terminal the progress line is cleared before every diagnostic and at the end', async () => {
    const quiet = await cli(['run', '-c', config, '-p', PROMPT], true);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toContain('genie-ts: loading model...');
    expect(screen(quiet.stderr)).toEqual(['']);

    const info = await cli(['run', '-c', config, '-p', PROMPT, '--log', 'info'], true);
    expect(info.code).toBe(0);
    const lines = screen(info.stderr);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[info\] backend Reference, /);
    expect(lines[1]).toMatch(/^\[info\] stop: max-tokens; /);
    expect(lines[2]).toBe('');
  });

  it('a query that runs into the context limit keeps the streamed text, ends its line, warns with advice a CLI user can follow and exits 0', async () => {
    const unlimited = writeConfig(bundle, 'unlimited.json');
    await using dialog = await Dialog.create(unlimited);
    let text = '';
    const drainAll = async (): Promise<void> => {
      for await (const piece of dialog.query(PROMPT)) text += piece;
    };
    const error = await drainAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContextLimitError);
    expect(text).not.toBe('');
    const generated = dialog.lastResult!.generatedTokens.length;

    const result = await cli(['run', '-c', unlimited, '-p', PROMPT]);
    expect(result).toEqual({
      code: 0,
      stdout: printed(text),
      stderr:
        `genie-ts run: warning: context exceeded (Genie's GENIE_STATUS_WARNING_CONTEXT_EXCEEDED): the reply filled the ${dialog.contextLimit}-token ` +
        `context after ${generated} generated tokens and ends there; stop it earlier with --max-tokens (-n), or use a config with a larger context.size\n`,
    });
  });

  it('-h prints the usage with every flag and exits 0', async () => {
    const result = await cli(['run', '-h']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(/^usage: genie-ts run /);
    for (const flag of ['-c, --config', '-p, --prompt', '--prompt_file', '-tok, --tokens_file', '-n, --max-tokens', '--seed',
      '--temp', '--top-k', '--top-p', '--json', '--dump-logits', '--profile', '--log', '--embedding_query_output_type', '-w, --rewind',
      '-l, --lora']) {
      expect(result.stdout).toContain(flag);
    }
  });
});
