/**
 * Helpers for the `genie-ts run` tests: the CLI driven in-process through `main` with a collecting
 * CliIO, a tiny greedy bundle written with its config file, and the library oracle (the same query
 * through `Dialog`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CliIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { Dialog, type DialogOptions, type QueryOptions } from '../../src/runtime/dialog.js';
import {
  QWEN_VOCAB, dialogConfig, drain, makeModel, tempDir, writeBundle, type Bundle, type ConfigOptions, type Json, type Turn,
} from '../runtime/fixtures.js';

export { QWEN_VOCAB, tempDir, type Bundle, type Json, type Turn };

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `genie-ts <args>` in-process; stdout and stderr are collected as strings. */
export async function cli(args: string[], isTTY = false): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/**
 * What a terminal shows for `text` written to it: progress lines are `\r\x1b[2K` (clear the line)
 * followed by text without a newline. Any other control sequence fails the test.
 */
export function screen(text: string): string[] {
  const lines = [''];
  for (const part of text.split(/(\r\x1b\[2K|\n)/)) {
    if (part === '\r\x1b[2K') lines[lines.length - 1] = '';
    else if (part === '\n') lines.push('');
    else {
      expect(part).not.toMatch(/[\r\x1b]/);
      lines[lines.length - 1] += part;
    }
  }
  return lines;
}

/** What `run` prints for a streamed text: the text, then a newline unless it ends with one. */
export const printed = (text: string): string => (text === '' || text.endsWith('\n') ? text : `${text}\n`);

/**
 * A 2-layer random model over the full Qwen vocabulary (so text prompts encode to valid ids),
 * split in 2 parts with AR {1, 8} and CL 128.
 */
export function writeTinyBundle(root: string, name = 'tiny'): Promise<Bundle> {
  const model = makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: 16, intermediateSize: 32 }, 'cli');
  return writeBundle(root, model, { name, arSet: [1, 8], cl: 128, splits: 2 });
}

/** Writes `config` (default: the greedy config of `bundle`) as `<bundle>/<file>` and returns its path. */
export function writeConfig(bundle: Bundle, file: string, config: Json | ConfigOptions = {}): string {
  const body = 'dialog' in config ? config : dialogConfig(bundle, config as ConfigOptions);
  const path = join(bundle.dir, file);
  writeFileSync(path, JSON.stringify(body, null, 2));
  return path;
}

/** The library oracle: one query on a fresh `Dialog` of `configPath`. */
export async function libraryTurn(
  configPath: string,
  prompt: { text: string } | { tokens: readonly number[] },
  query: QueryOptions = {},
  options: DialogOptions = {},
): Promise<Turn> {
  await using dialog = await Dialog.create(configPath, options);
  return await drain((o) => ('text' in prompt ? dialog.query(prompt.text, o) : dialog.tokenQuery(prompt.tokens, o)), query);
}
