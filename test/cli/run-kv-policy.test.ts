/**
 * `genie-ts run --kv-policy SPEC`: the CLI's reply equals the library dialog's with the same policy
 * (the policy itself is tested against a float64 oracle in test/runtime/kv-policy); without one a
 * reply that fills the context stops there; a bad spec is a usage error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { QueryResult } from '../../src/runtime/dialog.js';
import { dialogConfig } from '../runtime/fixtures.js';
import { cli, libraryTurn, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const PROMPT = '<|im_start|>user\nTell a long story.<|im_end|>\n<|im_start|>assistant\n';

describe('genie-ts run --kv-policy', () => {
  const root = tempDir('cli-run-kv-policy');
  let bundle: Bundle;
  let config: string;

  beforeAll(async () => {
    bundle = await writeTinyBundle(root, 'kv');
    config = writeConfig(bundle, 'greedy.json');
  });

  it('sliding-window:32:4 generates past the context (CL 128) exactly as the library dialog with that policy', async () => {
    const run = await cli(['run', '-c', config, '-p', PROMPT, '-n', '300', '--kv-policy', 'sliding-window:32:4', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as QueryResult;
    expect(result.stopReason).toBe('max-tokens');
    expect(result.generatedTokens).toHaveLength(300);
    const library = await libraryTurn(config, { text: PROMPT }, { maxTokens: 300 }, { kvPolicy: { type: 'sliding-window', windowSize: 32, reservedTokens: 4 } });
    expect(result.generatedTokens).toEqual(library.result.generatedTokens);
  });

  it('without a policy the reply stops at the context with the warning; none overrides a config\'s longcontext block', async () => {
    const plain = await cli(['run', '-c', config, '-p', PROMPT, '-n', '300', '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    expect((JSON.parse(plain.stdout) as QueryResult).stopReason).toBe('context-limit');
    const body = dialogConfig(bundle);
    body.dialog.engine.longcontext = { version: 1, type: 'sliding-window', 'reserved-tokens': 4, 'sliding-window': { version: 1, 'window-size': 32 } };
    const withBlock = writeConfig(bundle, 'window.json', body);
    const fromConfig = await cli(['run', '-c', withBlock, '-p', PROMPT, '-n', '300', '--json']);
    expect(fromConfig.code, fromConfig.stderr).toBe(0);
    expect((JSON.parse(fromConfig.stdout) as QueryResult).stopReason).toBe('max-tokens');
    const none = await cli(['run', '-c', withBlock, '-p', PROMPT, '-n', '300', '--kv-policy', 'none', '--json']);
    expect((JSON.parse(none.stdout) as QueryResult).stopReason).toBe('context-limit');
  });

  it.each(['window', 'sliding-window', 'sliding-window:x', 'sliding-window:8:2:1', 'drop-oldest-turns:1:2', 'none:3'])('--kv-policy %s is a usage error', async (spec) => {
    const run = await cli(['run', '-c', config, '-p', PROMPT, '--kv-policy', spec]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--kv-policy "${spec}": expected none, sliding-window:WINDOW[:RESERVED] or drop-oldest-turns[:KEEP] (whole numbers)`);
  });
});
