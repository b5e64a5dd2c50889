/**
 * Every `examples/*.ts` runs (as `npx tsx examples/NAME.ts` would) and exits 0 with output: the
 * recipes in docs/recipes.md link to these files, so a change that breaks one breaks this test.
 * Each example checks its own claim (e.g. save-restore exits 1 when the restored dialog does not
 * continue with the same tokens). New examples are picked up by their file name.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const examples = readdirSync(join(repo, 'examples')).filter((name) => name.endsWith('.ts')).sort();

function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join('examples', name)], { cwd: repo, timeout: 150_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('examples/', () => {
  it('has examples, each opening with a comment that says what it shows, each linked from docs/recipes.md', () => {
    expect(examples.length).toBeGreaterThan(0);
    const recipes = readFileSync(join(repo, 'docs', 'recipes.md'), 'utf8');
    for (const name of examples) {
      expect(readFileSync(join(repo, 'examples', name), 'utf8'), `examples/${name}`).toMatch(/^\/\*\*\n \* \S/);
      expect(recipes, `docs/recipes.md links examples/${name}`).toContain(`(../examples/${name})`);
    }
  });

  it.each(examples)('%s exits 0 with output', async (name) => {
    const exit = await runExample(name);
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim()).not.toBe('');
  }, 160_000);
});
