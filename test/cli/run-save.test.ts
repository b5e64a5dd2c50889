/**
 * `genie-ts run -s DIR` / `-r DIR` (genie-t2t-run's --save / --restore): -r restores before the query,
 * -s saves after the queries. Oracle: the same two queries on one library `Dialog`; the restoring run
 * is a fresh process (test/children/genie-ts.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Dialog, type QueryResult } from '../../src/runtime/dialog.js';
import { drain } from '../runtime/fixtures.js';
import { runChild } from '../children/run-child.js';
import { cli, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const P1 = '<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n';
const P2 = '<|im_start|>user\nAnd three more.<|im_end|>\n<|im_start|>assistant\n';
const SEEDED = { version: 1, seed: 5, temp: 1.2, 'top-k': 40 };

describe('genie-ts run -s / -r', () => {
  const root = tempDir('cli-run-save');
  let bundle: Bundle;
  let config: string;

  beforeAll(async () => {
    bundle = await writeTinyBundle(root, 'save');
    config = writeConfig(bundle, 'seeded.json', { maxNumTokens: 6, sampler: SEEDED });
  });

  it('-s after the query, then -r in a fresh process: the second reply is the library dialog\'s second reply', async () => {
    await using dialog = await Dialog.create(config);
    const first = await drain((o) => dialog.query(P1, o));
    const second = await drain((o) => dialog.query(P2, o));

    const dir = join(root, 'state');
    const saved = await cli(['run', '-c', config, '-p', P1, '-s', dir, '--json']);
    expect(saved.code, saved.stderr).toBe(0);
    expect((JSON.parse(saved.stdout) as QueryResult).generatedTokens).toEqual(first.result.generatedTokens);
    expect(existsSync(join(dir, 'dialog.json'))).toBe(true);

    const restored = await runChild('genie-ts.ts', ['run', '-c', config, '--restore', dir, '-p', P2, '--json', '--log', 'info'], { timeoutMs: 120_000 });
    expect(restored.code, restored.stderr).toBe(0);
    const result = JSON.parse(restored.stdout.trim().split('\n').at(-1)!) as QueryResult;
    expect(result.generatedTokens).toEqual(second.result.generatedTokens);
    expect(result.promptTokens).toEqual(second.result.promptTokens);
    expect(restored.stderr).toMatch(/\[info\] restored .*: \d+ KV entries/);
  });

  it('-r of a folder that is not a save: exit 1, the error names the folder', async () => {
    const missing = join(root, 'nowhere');
    const result = await cli(['run', '-c', config, '-p', P1, '-r', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(missing);
    expect(result.stdout).toBe('');
  });
});
