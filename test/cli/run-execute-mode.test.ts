/**
 * `genie-ts run --execute-mode MODE`: on a QnnHtp config (the simulated provider) queued mode gives
 * the reply the default (async) gives, token for token, with the config's QnnHtp poll off and on;
 * an unknown mode (sync included: the CLI always takes QNN's log) is a usage error, and the flag on
 * another backend is an error naming the backend.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDemoBundle } from '../../src/demo/index.js';
import type { QueryResult } from '../../src/runtime/dialog.js';
import { cli, tempDir, writeConfig, writeTinyBundle } from './fixtures.js';

const OPTIONS = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, splits: 2, ar: [1, 4], cl: 64, seed: 5 } as const;

describe('genie-ts run --execute-mode', () => {
  const root = tempDir('cli-run-execute-mode');
  const previous = process.env.GENIE_TS_QNN_PROVIDER;
  let qnnConfig: string;

  beforeAll(async () => {
    process.env.GENIE_TS_QNN_PROVIDER = 'simulated';
    qnnConfig = (await writeDemoBundle(join(root, 'qnn'), { ...OPTIONS, backend: 'qnn-htp' })).configPath;
  }, 120_000);
  afterAll(() => {
    if (previous === undefined) delete process.env.GENIE_TS_QNN_PROVIDER;
    else process.env.GENIE_TS_QNN_PROVIDER = previous;
  });

  /** The config with QnnHtp `poll` set, written beside the bundle's. */
  function withPoll(poll: boolean): string {
    const config = JSON.parse(readFileSync(qnnConfig, 'utf8'));
    config.dialog.engine.backend.QnnHtp.poll = poll;
    const path = join(root, 'qnn', `poll-${poll}.json`);
    writeFileSync(path, JSON.stringify(config));
    return path;
  }

  async function tokens(args: string[]): Promise<readonly number[]> {
    const run = await cli(['run', ...args, '-p', 'Hello there', '-n', '12', '--json']);
    expect(run.code, run.stderr).toBe(0);
    return (JSON.parse(run.stdout) as QueryResult).generatedTokens;
  }

  it('queued (QnnHtp poll off and on) replies as the default async mode does', async () => {
    const expected = await tokens(['-c', qnnConfig]);
    expect(expected).toHaveLength(12);
    expect(await tokens(['-c', qnnConfig, '--execute-mode', 'async'])).toEqual(expected);
    for (const poll of [false, true]) expect(await tokens(['-c', withPoll(poll), '--execute-mode', 'queued'])).toEqual(expected);
  });

  it.each(['eager', 'sync'])('--execute-mode %s is a usage error naming the choices', async (mode) => {
    const run = await cli(['run', '-c', qnnConfig, '-p', 'Hi', '--execute-mode', mode]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--execute-mode "${mode}" is not one of: async, queued`);
  });

  it('on a Reference config it is an error naming the backend type', async () => {
    const bundle = await writeTinyBundle(root, 'reference');
    const run = await cli(['run', '-c', writeConfig(bundle, 'greedy.json'), '-p', 'Hi', '--execute-mode', 'queued']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`--execute-mode applies to a QnnHtp backend; this config's engine.backend.type is "Reference"`);
  });
});
