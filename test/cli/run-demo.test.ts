import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MAX_NUM_TOKENS, demoCacheFolderName, DEFAULT_DEMO_OPTIONS, ensureDemoBundle } from '../../src/demo/index.js';
import { snapshot } from '../demo/fixtures.js';
import { cli, libraryTurn, printed, screen, tempDir } from './fixtures.js';

describe('genie-ts run without -c: the embedded demo model', () => {
  const cacheDir = join(tempDir('cli-demo'), 'cache');
  const previous = process.env.GENIE_TS_CACHE_DIR;
  const bundleDir = join(cacheDir, demoCacheFolderName(DEFAULT_DEMO_OPTIONS));
  let firstStdout = '';

  beforeAll(() => {
    process.env.GENIE_TS_CACHE_DIR = cacheDir;
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.GENIE_TS_CACHE_DIR;
    else process.env.GENIE_TS_CACHE_DIR = previous;
  });

  it('builds the bundle into $GENIE_TS_CACHE_DIR on first use and streams its text', async () => {
    const result = await cli(['run', '-p', 'Hello', '-n', '4'], true);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`genie-ts: building the demo model in ${bundleDir} (once: later runs reuse it)`);
    expect(screen(result.stderr)).toEqual(['']);
    expect(readdirSync(cacheDir)).toEqual([demoCacheFolderName(DEFAULT_DEMO_OPTIONS)]);

    const bundle = await ensureDemoBundle();
    expect(bundle.dir).toBe(bundleDir);
    const oracle = await libraryTurn(bundle.configPath, { text: 'Hello' }, { maxTokens: 4 });
    expect(oracle.result.generatedTokens).toHaveLength(4);
    expect(oracle.result.text.trim()).not.toBe('');
    expect(result.stdout).toBe(printed(oracle.result.text));
    firstStdout = result.stdout;
  });

  it('without -n stops at the demo config\'s max-num-tokens and exits 0 (random weights never sample the EOS)', async () => {
    const result = await cli(['run', '-p', 'Hello', '--json']);
    expect([result.code, result.stderr]).toEqual([0, '']);
    const json = JSON.parse(result.stdout);
    expect(json.stopReason).toBe('max-tokens');
    expect(json.generatedTokens).toHaveLength(DEMO_MAX_NUM_TOKENS);
  });

  it('reuses the cached bundle: nothing rebuilt or rewritten, the same seeded text', async () => {
    const before = snapshot(bundleDir);
    const result = await cli(['run', '-p', 'Hello', '-n', '4', '--log', 'info'], true);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(firstStdout);
    expect(result.stderr).not.toContain('building');
    const lines = screen(result.stderr);
    expect(lines[0]).toBe(`[info] embedded demo model (random weights): ${join(bundleDir, 'genie_config.json')}`);
    expect(lines.slice(1, -1).every((line) => line.startsWith('[info] '))).toBe(true);
    expect(lines.at(-1)).toBe('');
    expect(snapshot(bundleDir)).toEqual(before);
    expect(readdirSync(cacheDir)).toEqual([demoCacheFolderName(DEFAULT_DEMO_OPTIONS)]);
  });
});
