import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin', 'genie-ts.js');
const cacheDir = join(tempDir('cli-bin'), 'cache');

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnBin(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: repo, env: { ...process.env, GENIE_TS_CACHE_DIR: cacheDir }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('bin/genie-ts.js', () => {
  beforeAll(() => {
    // The bin runs the compiled CLI; `npm ci` builds dist/ through `prepare`, a bare checkout may not have it.
    const main = join(repo, 'dist', 'cli', 'main.js');
    if (existsSync(main)) return;
    try {
      execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
        cwd: repo,
        stdio: 'pipe',
      });
    } catch (error) {
      // tsc emits despite type errors elsewhere in the tree (typecheck reports those); only a missing CLI is fatal here.
      if (!existsSync(main)) throw error;
    }
  }, 120_000);

  it('run -p Hello -n 4: exit 0 with text on stdout (demo model built into GENIE_TS_CACHE_DIR)', async () => {
    const result = await spawnBin(['run', '-p', 'Hello', '-n', '4']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).not.toBe('');
    expect(result.stdout.endsWith('\n')).toBe(true);
    expect(existsSync(cacheDir)).toBe(true);
  });

  it('--help: exit 0 with the usage on stdout', async () => {
    const result = await spawnBin(['--help']);
    expect(result).toEqual({ code: 0, stdout: expect.stringMatching(/^usage: genie-ts <command> \[options\]\n/), stderr: '' });
  });

  it('an unknown command: exit 2 naming it on stderr', async () => {
    const result = await spawnBin(['nope']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^genie-ts: unknown command "nope"\n/);
  });
});
