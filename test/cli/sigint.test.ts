/**
 * Ctrl-C during `genie-ts run` on the Reference backend (whose graphs execute on the JS thread):
 * the first SIGINT stops the query at its next step, prints the reply so far and exits 0; a second
 * one ends the process at once (SIGINT's default action: killed by SIGINT, status 130 in a shell),
 * even in the middle of a long step. Before the fix the generation loop never yielded to the event
 * loop, so the SIGINT listener never ran and Ctrl-C could not even end the process.
 */
import type { ChildProcess } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChild } from '../children/run-child.js';
import { makeModel, writeBundle } from '../runtime/fixtures.js';
import { QWEN_VOCAB, tempDir, writeConfig } from './fixtures.js';

describe('genie-ts run and SIGINT (child process, Reference backend)', () => {
  let config: string;
  beforeAll(async () => {
    // Full Qwen vocabulary (text prompts encode; each step's LM head takes milliseconds, each
    // 128-token prefill chunk's a large fraction of a second) and CL 2048: the run could go on for
    // many seconds.
    const model = makeModel({ vocabSize: QWEN_VOCAB, hiddenSize: 32, intermediateSize: 64 }, 'sigint');
    const bundle = await writeBundle(tempDir('cli-sigint'), model, { name: 'm', arSet: [1, 128], cl: 2048, splits: 2 });
    config = writeConfig(bundle, 'config.json', { maxNumTokens: 2000 });
  });

  const run = (prompt: string, onOutput: (child: ChildProcess, stdout: string, stderr: string) => void) => {
    let stdout = '';
    let stderr = '';
    return runChild('genie-ts.ts', ['run', '-c', config, '-p', prompt, '--log', 'info'], {
      onStdout: (child, text) => onOutput(child, (stdout = text), stderr),
      onStderr: (child, text) => onOutput(child, stdout, (stderr = text)),
    });
  };

  it('one Ctrl-C while the reply streams: the query stops at the next step, the partial reply is printed, exit 0', async () => {
    let sentAt = 0;
    const exit = await run('Hello', (child, stdout) => {
      if (sentAt === 0 && stdout.length > 0) {
        sentAt = Date.now();
        child.kill('SIGINT');
      }
    });
    expect(sentAt).toBeGreaterThan(0);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.stdout.length).toBeGreaterThan(0);
    expect(exit.stdout.endsWith('\n')).toBe(true);
    expect(exit.stderr).toMatch(/\[info\] interrupted: stopping at the next step/);
    expect(exit.stderr).toMatch(/\[info\] stop: abort; KPIs /);
    expect(Number(/"num-generated-tokens":(\d+)/.exec(exit.stderr)?.[1])).toBeLessThan(2000);
  });

  it('a second Ctrl-C during a long prefill step: the process is killed by SIGINT at once', async () => {
    // ~1000 prompt tokens: eight 128-token chunks, each long enough for the second Ctrl-C to land inside one.
    let firstAt = 0;
    let secondAt = 0;
    const exit = await run('Hello '.repeat(1000), (child, _stdout, stderr) => {
      if (firstAt === 0 && stderr.includes('[info] backend ')) {
        firstAt = Date.now();
        child.kill('SIGINT');
      } else if (secondAt === 0 && stderr.includes('[info] interrupted')) {
        secondAt = Date.now();
        child.kill('SIGINT');
      }
    });
    const killedAfterMs = Date.now() - secondAt;
    expect(secondAt).toBeGreaterThan(0);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(killedAfterMs).toBeLessThan(1000);
    expect(exit.stderr).not.toMatch(/stop: /);
    expect(exit.stdout).toBe('');
  });
});
