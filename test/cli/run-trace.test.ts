/**
 * `genie-ts run --trace DIR [--trace-max-mb N]`: the index against independent counts of the
 * planned steps and the fed tokens, the step files read back with the safetensors parser (the final
 * steps' logits rows equal what `--dump-logits` wrote through another path), the size cap, a run
 * killed mid-query, and bad input.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensorsBytes } from '../../src/formats/safetensors.js';
import { readTrace } from '../../src/runtime/trace/trace-reader.js';
import { cli, tempDir, writeConfig, writeTinyBundle, type Bundle } from './fixtures.js';

const PROMPT = [15, 300, 12, 9, 77, 1020, 5, 6, 400, 2];

describe('genie-ts run --trace', () => {
  const root = tempDir('cli-trace');
  let bundle: Bundle;
  let config: string;
  let promptFile: string;

  beforeAll(async () => {
    bundle = await writeTinyBundle(root);
    config = writeConfig(bundle, 'trace.json', {});
    promptFile = join(root, 'prompt.txt');
    writeFileSync(promptFile, PROMPT.join(' '));
  });

  it('indexes every step and writes its tensors; final steps hold the dumped logits rows', async () => {
    const dir = join(root, 'trace-1');
    const dump = join(root, 'logits.bin');
    const run = await cli(['run', '-c', config, '-tok', promptFile, '-n', '3', '--json', '--trace', dir, '--dump-logits', dump]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { generatedTokens } = JSON.parse(run.stdout);
    const index = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8'));
    expect(index.leftOut).toBeNull();
    // 10 prompt tokens over AR {1, 8}: chunks of 8 and 2; then 2 of the 3 generated tokens fed back.
    const steps = index.steps as any[];
    expect(steps.map((s) => [s.kind, s.variant.ar, s.nValid, s.nNew])).toEqual([
      ['prefill', 8, 0, 8], ['prefill', 8, 8, 2], ['decode', 1, 10, 1], ['decode', 1, 11, 1],
    ]);
    expect(steps.flatMap((s) => s.tokens)).toEqual([...PROMPT, ...generatedTokens.slice(0, 2)]);

    const rows = new Float32Array(readFileSync(dump).buffer.slice(0));
    const vocab = rows.length / 3;
    let tensorBytes = 0;
    let finals = 0;
    for (const step of steps) {
      const bytes = new Uint8Array(readFileSync(join(dir, step.file)));
      const layout = parseSafetensorsBytes(bytes, step.file);
      expect(layout.metadata).toEqual({ step: String(step.index), kind: step.kind, variant: step.variant.id });
      for (const split of step.splits) {
        for (const t of split.tensors) {
          if (!split.executed) continue;
          const info = layout.tensors.get(t.name)!;
          expect(info, t.name).toBeDefined();
          expect([info.dtype, info.shape]).toEqual([t.safetensorsDtype, t.shape]);
        }
      }
      for (const info of layout.tensors.values()) tensorBytes += info.end - info.begin;
      if (!step.final) continue;
      const logits = layout.tensors.get('logits')!;
      expect(logits.dtype).toBe('F32');
      const data = new Float32Array(bytes.slice(layout.dataStart + logits.begin, layout.dataStart + logits.end).buffer);
      const row = step.nNew - 1;
      expect(Array.from(data.subarray(row * vocab, (row + 1) * vocab))).toEqual(Array.from(rows.subarray(finals * vocab, (finals + 1) * vocab)));
      finals++;
    }
    expect(finals).toBe(3);
    expect(index.tensorBytes).toBe(tensorBytes);
  });

  it('a size cap leaves later steps\' tensors out, says so on stderr and in the index', async () => {
    const dir = join(root, 'trace-capped');
    const run = await cli(['run', '-c', config, '-tok', promptFile, '-n', '3', '--trace', dir, '--trace-max-mb', '0.0001']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('--trace: the size cap (0.0 MiB) was reached at step 0: the tensors of steps 0..3 were left out');
    const index = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8'));
    expect(index.leftOut).toBe(`tensors of steps 0 and later (the size cap of ${Math.floor(0.0001 * 2 ** 20)} bytes)`);
    expect(index.steps.map((s: any) => s.file)).toEqual([null, null, null, null]);
  });

  it('--trace-tensors and --trace-steps choose what is written; every step and tensor is still indexed', async () => {
    const dir = join(root, 'trace-filtered');
    const run = await cli(['run', '-c', config, '-tok', promptFile, '-n', '3', '--trace', dir, '--trace-tensors', 'logits,kv', '--trace-steps', '1..2']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const index = JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8'));
    expect(index.steps.map((s: any) => s.file)).toEqual([null, 'step-00001.safetensors', 'step-00002.safetensors', null]);
    for (const step of index.steps.slice(1, 3)) {
      const layout = parseSafetensorsBytes(new Uint8Array(readFileSync(join(dir, step.file))), step.file);
      const all = step.splits.flatMap((s: any) => s.tensors);
      const kept: string[] = [...new Set<string>(all.filter((t: any) => t.role === 'kv' || t.role === 'logits').map((t: any) => t.name))].sort();
      expect(all.filter((t: any) => t.kept).map((t: any) => t.name).sort()).toEqual(all.filter((t: any) => kept.includes(t.name)).map((t: any) => t.name).sort());
      expect([...layout.tensors.keys()].sort()).toEqual(kept);
      expect(kept.some((n) => /^past_key_\d+_in$/.test(n)) && kept.includes('logits')).toBe(true);
    }
    const usage = async (...flags: string[]) => (await cli(['run', '-c', config, '-tok', promptFile, '--trace', join(root, 'never'), ...flags])).stderr;
    expect(await usage('--trace-tensors', 'kv,weights')).toContain('--trace-tensors "kv,weights": "weights" is not one of inputs, outputs, kv, logits (or all)');
    expect(await usage('--trace-steps', '3..1')).toContain('--trace-steps "3..1": the range is empty (1 < 3)');
    expect(await usage('--trace-steps', 'x')).toContain('--trace-steps "x": expected N, A..B, A.. or ..B (step indices from 0)');
  });

  it('--log verbose prints one line per graph step (with or without --trace)', async () => {
    const run = await cli(['run', '-c', config, '-tok', promptFile, '-n', '3', '--json', '--log', 'verbose']);
    expect(run.code).toBe(0);
    const { generatedTokens } = JSON.parse(run.stdout);
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('[verbose] step '));
    const head = (l: string): string => l.replace(/; fill .*$/, '');
    expect(lines.map(head)).toEqual([
      `[verbose] step 0 prefill ar8_cl128: nValid 0, positions 0..7, tokens ${PROMPT.slice(0, 8).join(' ')}`,
      `[verbose] step 1 prefill ar8_cl128: nValid 8, positions 8..9, tokens ${PROMPT.slice(8).join(' ')}`,
      `[verbose] step 2 decode ar1_cl128: nValid 10, positions 10..10, tokens ${generatedTokens[0]}`,
      `[verbose] step 3 decode ar1_cl128: nValid 11, positions 11..11, tokens ${generatedTokens[1]}`,
    ]);
    for (const line of lines) expect(line).toMatch(/; fill \d+ us, execute \d+\+\d+ us$/);
  });

  it('a run killed mid-query (SIGKILL) leaves a readable trace: the steps indexed so far, complete false', async () => {
    const dir = join(root, 'killed');
    const forced = join(root, 'forced.txt');
    writeFileSync(forced, Array.from({ length: 110 }, (_, i) => 100 + i).join(' '));
    const args = ['run', '-c', config, '-tok', promptFile, '-n', '110', '--force-tokens', forced, '--trace', dir];
    const child = spawn(process.execPath, [
      '--import', 'tsx', '--input-type=module', '-e',
      `const { main } = await import(${JSON.stringify(join(import.meta.dirname, '../../src/cli/main.ts'))}); process.exitCode = await main(${JSON.stringify(args)});`,
    ], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const index = join(dir, 'trace.json');
    const indexedSteps = (): number => (existsSync(index) ? JSON.parse(readFileSync(index, 'utf8')).steps.length : 0);
    for (let i = 0; i < 8000 && child.exitCode === null && indexedSteps() < 5; i++) await sleep(5);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const trace = await readTrace(dir);
    expect(trace.complete).toBe(false);
    expect(trace.steps.length).toBeGreaterThanOrEqual(5);
    expect(trace.steps.length).toBeLessThan(110);
    expect(trace.steps.flatMap((s) => s.tokens).slice(0, PROMPT.length)).toEqual(PROMPT);
  }, 90_000);

  it('refuses a non-empty folder (exit 1) and --trace-max-mb without --trace (usage, exit 2)', async () => {
    const dir = join(root, 'busy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'x');
    const busy = await cli(['run', '-c', config, '-tok', promptFile, '-n', '1', '--trace', dir]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`trace folder "${dir}" is not empty (give a new or empty folder)`);
    const usage = await cli(['run', '-c', config, '-tok', promptFile, '--trace-max-mb', '5']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--trace-max-mb needs --trace');
  });
});
