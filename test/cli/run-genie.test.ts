/**
 * genie-t2t-run parity of `genie-ts run` (issue 13): Genie's context-exceeded status as a warning,
 * `-w/--rewind`, `-l/--lora`, `--top-p 0`, and configs genie-ts refuses at load. Oracles: the same
 * queries through the library (`Dialog`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ContextLimitError } from '../../src/graphs/errors.js';
import { Dialog, type QueryResult } from '../../src/runtime/dialog.js';
import { drain } from '../runtime/fixtures.js';
import { cli, printed, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const PROMPT = '<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n';
const CONTEXT = 40;

/** `--json` output: one JSON object per line. */
const jsonLines = (stdout: string): QueryResult[] => stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as QueryResult);

describe('genie-ts run: Genie\'s statuses and genie-t2t-run\'s flags', () => {
  const root = tempDir('cli-run-genie');
  let bundle: Bundle;
  /** No max-num-tokens and a 40-token context: greedy decoding on random weights fills it. */
  let small: string;
  /** max-num-tokens 5. */
  let capped: string;

  beforeAll(async () => {
    bundle = await writeTinyBundle(root, 'genie');
    small = writeConfig(bundle, 'small.json', { contextSize: CONTEXT });
    capped = writeConfig(bundle, 'capped.json', { maxNumTokens: 5 });
  });

  /** The library's view of a reply that fills the context: its stream, then `lastResult`. */
  async function contextLimitOracle(): Promise<QueryResult> {
    await using dialog = await Dialog.create(small);
    let error: unknown;
    try {
      for await (const _ of dialog.query(PROMPT));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ContextLimitError);
    return dialog.lastResult!;
  }

  const warning = (generated: number): string =>
    `genie-ts run: warning: context exceeded (Genie's GENIE_STATUS_WARNING_CONTEXT_EXCEEDED): the reply filled the ${CONTEXT}-token ` +
    `context after ${generated} generated tokens and ends there; stop it earlier with --max-tokens (-n), or use a config with a larger context.size\n`;

  describe('a reply that fills the context (GENIE_STATUS_WARNING_CONTEXT_EXCEEDED)', () => {
    it('prints what it generated, warns on stderr and exits 0', async () => {
      const oracle = await contextLimitOracle();
      expect(oracle.stopReason).toBe('context-limit');
      expect(oracle.generatedTokens.length).toBeGreaterThan(5);
      const result = await cli(['run', '-c', small, '-p', PROMPT]);
      expect(result).toEqual({ code: 0, stdout: printed(oracle.text), stderr: warning(oracle.generatedTokens.length) });
      expect(`${result.stdout}${result.stderr}`).not.toContain('reset()');
    });

    it('--json still prints the summary, stop reason "context-limit"', async () => {
      const oracle = await contextLimitOracle();
      const result = await cli(['run', '-c', small, '-p', PROMPT, '--json']);
      expect([result.code, result.stderr]).toEqual([0, warning(oracle.generatedTokens.length)]);
      const [json] = jsonLines(result.stdout);
      expect(json).toMatchObject({ stopReason: 'context-limit', promptTokens: oracle.promptTokens, generatedTokens: oracle.generatedTokens, text: oracle.text });
      expect(json.kpis['num-generated-tokens']).toBe(oracle.generatedTokens.length);
    });

    it('-n stops it before: no warning', async () => {
      expect(await cli(['run', '-c', small, '-p', PROMPT, '-n', '3', '--json'])).toMatchObject({ code: 0, stderr: '' });
    });

    it('a prompt longer than the context is an error: nothing ran (exit 1), and no "reset()" advice', async () => {
      const result = await cli(['run', '-c', small, '-p', PROMPT.repeat(4)]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^genie-ts run: the prompt needs \d+ tokens but only 40 of context.size=40 are left; shorten the prompt\n$/);
    });
  });

  describe('-w/--rewind PROMPT: a REWIND query after the text query', () => {
    it('prints both replies, the second as dialog.query(PROMPT, { rewind: true }) after the first', async () => {
      await using dialog = await Dialog.create(capped);
      const first = await drain((o) => dialog.query(PROMPT, o));
      const conversation = `${PROMPT}${first.result.text}<|im_end|>\n<|im_start|>user\nAnd three more.<|im_end|>\n<|im_start|>assistant\n`;
      const second = await drain((o) => dialog.query(conversation, { ...o, rewind: true }));
      expect(second.result.reusedTokens).toBeGreaterThan(0);

      const result = await cli(['run', '-c', capped, '-p', PROMPT, '-w', conversation]);
      expect(result).toEqual({ code: 0, stdout: `${printed(first.result.text)}${printed(second.result.text)}`, stderr: '' });
      const json = await cli(['run', '-c', capped, '-p', PROMPT, '--rewind', conversation, '--json']);
      const [one, two] = jsonLines(json.stdout);
      expect([one.generatedTokens, two.generatedTokens]).toEqual([first.result.generatedTokens, second.result.generatedTokens]);
      expect(two.promptTokens).toEqual(second.result.promptTokens);
    });

    it('logs how many prompt tokens the rewind reused', async () => {
      const conversation = `${PROMPT}more`;
      const result = await cli(['run', '-c', capped, '-p', PROMPT, '-w', conversation, '--log', 'info']);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/\[info\] rewind: \d+ prompt tokens reused from the KV cache\n/);
    });
  });

  it('-l/--lora: NotSupportedError naming the adapter, before the model loads (exit 1)', async () => {
    const create = vi.spyOn(Dialog, 'create');
    try {
      for (const value of ['french', 'french,lora_alpha,0.5']) {
        expect(await cli(['run', '-c', capped, '-p', PROMPT, '-l', value])).toEqual({
          code: 1,
          stdout: '',
          stderr: 'genie-ts run: not supported yet: --lora adapter "french" (LoRA adapters are not implemented)\n',
        });
      }
      expect(create).not.toHaveBeenCalled();
    } finally {
      create.mockRestore();
    }
  });

  it('--top-p 0 keeps the most likely token alone: the greedy reply at any temperature', async () => {
    const greedy = await cli(['run', '-c', capped, '-p', PROMPT, '--temp', '0']);
    const topP0 = await cli(['run', '-c', capped, '-p', PROMPT, '--temp', '1.5', '--top-p', '0', '--seed', '7']);
    expect(greedy.code).toBe(0);
    expect(topP0).toEqual(greedy);
  });

  it('an embedding (text-embedding model) root: refused at load with NotSupportedError naming it (exit 1)', async () => {
    const body = {
      embedding: {
        version: 1,
        context: { version: 1, 'n-vocab': 30522, 'ctx-size': 512, 'embed-size': 1024, 'pad-token': 0 },
        tokenizer: { version: 1, path: 'tokenizer.json' },
        engine: {
          version: 1,
          backend: { version: 1, type: 'QnnHtp', QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'pooled-output': true, 'allow-async-init': false } },
          model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['bge.bin'] } },
        },
      },
    };
    const path = join(bundle.dir, 'bge.json');
    writeFileSync(path, JSON.stringify(body));
    expect(await cli(['run', '-c', path, '-p', 'hello'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'genie-ts run: not supported yet: config root "embedding" (text-embedding models (genie-t2e-run) are not implemented; ' +
        'the engine runs "dialog" and "text-generator" configs)\n',
    });
  });
});
