/**
 * bench/device/compare.ts (Genie vs genie-ts on a device), off the device: fake `genie-t2t-run` and
 * `genie-ts` commands write profile JSON in the two shapes the script reads (Genie's nested
 * `{ value }` events, genie-ts's flat KPIs), and the medians and ratios come out as computed here.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compare, findKpi, formatRows, median, parseArgs } from '../../bench/device/compare.js';
import { tempDir } from '../backends/reference/fixtures.js';
import { writeConfig, writeTinyBundle } from '../cli/fixtures.js';

/** A shell script that appends its arguments as a line to `<name>.args` and writes `json` to the file after `--profile`. */
function fakeCommand(dir: string, name: string, json: object): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/bin/sh\necho "$*" >> '${path}.args'\n` +
      `while [ "$#" -gt 0 ]; do if [ "$1" = "--profile" ]; then shift; printf '%s' '${JSON.stringify(json)}' > "$1"; fi; shift; done\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

describe('bench/device/compare.ts', () => {
  const dir = tempDir('device-compare');

  it('finds KPIs at any depth, as numbers or { value } objects', () => {
    expect(findKpi({ a: [{ b: { 'token-generation-rate': { value: 53.6, unit: 'toks/sec' } } }] }, 'token-generation-rate')).toBe(53.6);
    expect(findKpi({ 'time-to-first-token': 120 }, 'time-to-first-token')).toBe(120);
    expect(findKpi({ x: 1 }, 'time-to-first-token')).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('parses its flags and refuses bad ones', () => {
    expect(parseArgs(['-c', 'cfg.json', '-p', 'hi there', '--runs', '3', '--genie', 'g'])).toMatchObject({ config: 'cfg.json', prompt: 'hi there', runs: 3, genie: 'g' });
    expect(() => parseArgs(['-c', 'cfg.json'])).toThrow(/usage/);
    expect(() => parseArgs(['-c', 'cfg.json', '-p', 'x', '--runs', '0'])).toThrow(/--runs 0/);
    expect(() => parseArgs(['--nope', 'x'])).toThrow(/--nope/);
    expect(parseArgs(['-c', 'c', '-p', 'x']).executeModes).toEqual([]);
    expect(parseArgs(['-c', 'c', '-p', 'x', '--execute-modes', 'async,queued']).executeModes).toEqual(['async', 'queued']);
    expect(() => parseArgs(['-c', 'c', '-p', 'x', '--execute-modes', 'async,fast'])).toThrow('--execute-modes: "fast" is not one of async, sync, queued');
    expect(() => parseArgs(['-c', 'c', '-p', 'x', '--execute-modes', 'queued,queued'])).toThrow('--execute-modes queued,queued names a mode twice');
    // The default genie-ts command is the CLI's run subcommand (bin/genie-ts.js takes a command first).
    expect(parseArgs(['-c', 'c', '-p', 'x']).genieTs).toMatch(/bin\/genie-ts\.js run$/);
  });

  it.skipIf(process.platform === 'win32')('runs both commands and compares the medians', () => {
    const genie = fakeCommand(dir, 'genie', { components: [{ events: [{ 'time-to-first-token': { value: 1000 }, 'token-generation-rate': { value: 50 } }] }] });
    const genieTs = fakeCommand(dir, 'genie-ts', { 'time-to-first-token': 1010, 'token-generation-rate': 49.5 });
    const rows = compare({ config: 'cfg.json', prompt: 'a prompt', runs: 2, genie, genieTs, executeModes: [] });
    expect(rows.map((r) => [r.genieTsRun, r.kpi, r.genie, r.genieTs, r.met])).toEqual([
      ['default', 'token generation rate (tokens/s)', 50, 49.5, true],
      ['default', 'time to first token (us)', 1000, 1010, true],
    ]);
    expect(rows[0].ratio).toBeCloseTo(0.99, 10);
    expect(formatRows(rows, 2)).toContain('| token generation rate (tokens/s) | default | 50.00 | 49.50 | 0.990x | >= 0.98x | yes |');
  });

  it.skipIf(process.platform === 'win32')('runs genie-ts once per execute mode in each round, a pair of rows per mode', () => {
    const genie = fakeCommand(dir, 'genie-modes', { 'time-to-first-token': 1000, 'token-generation-rate': 50 });
    const genieTs = fakeCommand(dir, 'genie-ts-modes', { 'time-to-first-token': 900, 'token-generation-rate': 52 });
    const rows = compare({ config: 'cfg.json', prompt: 'a prompt', runs: 2, genie, genieTs, executeModes: ['async', 'queued'] });
    expect(rows.map((r) => [r.genieTsRun, r.kpi, r.met])).toEqual([
      ['execute mode async', 'token generation rate (tokens/s)', true],
      ['execute mode async', 'time to first token (us)', true],
      ['execute mode queued', 'token generation rate (tokens/s)', true],
      ['execute mode queued', 'time to first token (us)', true],
    ]);
    const calls = readFileSync(`${genieTs}.args`, 'utf8').trim().split('\n');
    expect(calls.map((line) => line.replace(/--profile \S+/, '--profile F'))).toEqual(
      ['async', 'queued', 'async', 'queued'].map((mode) => `-c cfg.json -p a prompt --profile F --execute-mode ${mode}`),
    );
    expect(readFileSync(`${genie}.args`, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it.skipIf(process.platform === 'win32')("reads the KPIs genie-ts run writes with --profile (the default command's shape, on the sources)", async () => {
    const bundle = await writeTinyBundle(dir, 'compare-bundle');
    const config = writeConfig(bundle, 'compare.json');
    const genie = fakeCommand(dir, 'genie-real', { 'time-to-first-token': 1000, 'token-generation-rate': 50 });
    const genieTs = `${process.execPath} --import tsx test/children/genie-ts.ts run`;
    const rows = compare({ config, prompt: 'Hello', runs: 1, genie, genieTs, executeModes: [] });
    expect(rows.map((r) => r.kpi)).toEqual(['token generation rate (tokens/s)', 'time to first token (us)']);
    for (const row of rows) expect(row.genieTs).toBeGreaterThan(0);
  }, 60_000);
});
