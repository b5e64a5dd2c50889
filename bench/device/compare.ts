/**
 * Genie against genie-ts on the same bundle, on a device (issue 15, point 5): runs `genie-t2t-run`
 * and `genie-ts run` alternately on one config and prompt, each with `--profile FILE`, reads the
 * KPIs both write (docs/genie-behaviour.md#profiling-kpis: `time-to-first-token` in us,
 * `token-generation-rate` in tokens/s, found at any depth of the JSON, as a number or as
 * `{ "value": n }`) and prints the medians side by side with genie-ts's ratio to Genie (target:
 * tokens/s >= 0.98x, TTFT <= 1.02x). With `--execute-modes async,queued` genie-ts runs once per
 * QnnHtp execute mode in each round (`--execute-mode`; the config's QnnHtp `poll` applies to
 * queued), a pair of rows per mode: which mode should be the default is a device question.
 *
 *   node --import tsx bench/device/compare.ts -c genie_config.json -p "<prompt>" [--runs 5]
 *     [--genie genie-t2t-run] [--genie-ts "node bin/genie-ts.js run"] [--execute-modes async,queued]
 *     [--json FILE]
 *
 * Run it where both run: on the device (adb shell with Node, e.g. Termux; QNN libraries on
 * LD_LIBRARY_PATH and ADSP_LIBRARY_PATH set as for genie-t2t-run) or on a Snapdragon laptop.
 * Commands are split on spaces; the prompt goes through unchanged (Genie applies no template).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CompareOptions {
  readonly config: string;
  readonly prompt: string;
  readonly runs: number;
  readonly genie: string;
  /** The genie-ts command up to its flags (the `run` subcommand included). */
  readonly genieTs: string;
  /** QnnHtp execute modes genie-ts runs in, each through `--execute-mode`; empty: once, without the flag. */
  readonly executeModes: readonly string[];
  readonly json?: string;
}

export interface RunKpis {
  readonly ttftUs: number;
  readonly tokensPerSecond: number;
}

export interface CompareRow {
  /** How genie-ts ran: `default`, or `execute mode M`. */
  readonly genieTsRun: string;
  readonly kpi: string;
  readonly genie: number;
  readonly genieTs: number;
  readonly ratio: number;
  readonly target: string;
  readonly met: boolean;
}

const DEFAULT_GENIE_TS = `${process.execPath} ${fileURLToPath(new URL('../../bin/genie-ts.js', import.meta.url))} run`;
const EXECUTE_MODES = ['async', 'sync', 'queued'];

/** The value of `key` at any depth of a profile JSON: a number, or an object's `value`. */
export function findKpi(json: unknown, key: string): number | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const record = json as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(record, key)) {
    const value = record[key];
    if (typeof value === 'number') return value;
    if (typeof value === 'object' && value !== null && typeof (value as { value?: unknown }).value === 'number') {
      return (value as { value: number }).value;
    }
  }
  for (const child of Object.values(record)) {
    const found = findKpi(child, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One run of `command` with `-c config -p prompt --profile FILE` and `extra`; throws with its stderr when it fails. */
export function runOnce(command: string, config: string, prompt: string, dir: string, tag: string, extra: readonly string[] = []): RunKpis {
  const [program, ...args] = command.split(' ').filter((part) => part !== '');
  const profile = join(dir, `${tag}.json`);
  rmSync(profile, { force: true });
  const result = spawnSync(program, [...args, '-c', config, '-p', prompt, '--profile', profile, ...extra], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} exited with ${result.status ?? result.signal}: ${(result.stderr || result.error?.message || '').trim()}`);
  }
  const json: unknown = JSON.parse(readFileSync(profile, 'utf8'));
  const ttftUs = findKpi(json, 'time-to-first-token');
  const tokensPerSecond = findKpi(json, 'token-generation-rate');
  if (ttftUs === undefined || tokensPerSecond === undefined) {
    throw new Error(`${command}: profile ${profile} has no time-to-first-token / token-generation-rate`);
  }
  return { ttftUs, tokensPerSecond };
}

/** Runs Genie and each genie-ts variant `runs` times, round by round (Genie first), and compares the medians. */
export function compare(options: CompareOptions): CompareRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'genie-ts-device-compare-'));
  try {
    const variants = options.executeModes.length === 0
      ? [{ label: 'default', extra: [] }]
      : options.executeModes.map((mode) => ({ label: `execute mode ${mode}`, extra: ['--execute-mode', mode] }));
    const genie: RunKpis[] = [];
    const genieTs: RunKpis[][] = variants.map(() => []);
    for (let i = 0; i < options.runs; i++) {
      genie.push(runOnce(options.genie, options.config, options.prompt, dir, `genie-${i}`));
      variants.forEach(({ extra }, v) => genieTs[v].push(runOnce(options.genieTs, options.config, options.prompt, dir, `genie-ts-${v}-${i}`, extra)));
    }
    const genieTps = median(genie.map((k) => k.tokensPerSecond));
    const genieTtft = median(genie.map((k) => k.ttftUs));
    return variants.flatMap(({ label }, v) => {
      const tps = median(genieTs[v].map((k) => k.tokensPerSecond));
      const ttft = median(genieTs[v].map((k) => k.ttftUs));
      return [
        { genieTsRun: label, kpi: 'token generation rate (tokens/s)', genie: genieTps, genieTs: tps, ratio: tps / genieTps, target: '>= 0.98x', met: tps / genieTps >= 0.98 },
        { genieTsRun: label, kpi: 'time to first token (us)', genie: genieTtft, genieTs: ttft, ratio: ttft / genieTtft, target: '<= 1.02x', met: ttft / genieTtft <= 1.02 },
      ];
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function parseArgs(argv: readonly string[]): CompareOptions {
  const values: Record<string, string> = {};
  const names: Record<string, string> = {
    '-c': 'config', '--config': 'config', '-p': 'prompt', '--prompt': 'prompt', '--runs': 'runs', '--genie': 'genie', '--genie-ts': 'genieTs',
    '--execute-modes': 'executeModes', '--json': 'json',
  };
  for (let i = 0; i < argv.length; i++) {
    const name = names[argv[i]];
    if (name === undefined || i + 1 >= argv.length) throw new Error(`unknown flag or missing value: ${argv[i]}`);
    values[name] = argv[++i];
  }
  if (values.config === undefined || values.prompt === undefined) {
    throw new Error('usage: compare.ts -c CONFIG -p PROMPT [--runs N] [--genie CMD] [--genie-ts CMD] [--execute-modes LIST] [--json FILE]');
  }
  const runs = Number(values.runs ?? 5);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs} is not a positive integer`);
  const executeModes = values.executeModes === undefined ? [] : values.executeModes.split(',');
  for (const mode of executeModes) {
    if (!EXECUTE_MODES.includes(mode)) throw new Error(`--execute-modes: "${mode}" is not one of ${EXECUTE_MODES.join(', ')}`);
  }
  if (new Set(executeModes).size !== executeModes.length) throw new Error(`--execute-modes ${values.executeModes} names a mode twice`);
  return {
    config: values.config, prompt: values.prompt, runs, genie: values.genie ?? 'genie-t2t-run', genieTs: values.genieTs ?? DEFAULT_GENIE_TS, executeModes, json: values.json,
  };
}

export function formatRows(rows: readonly CompareRow[], runs: number): string {
  const lines = [`| KPI (median of ${runs} runs) | genie-ts run | genie-t2t-run | genie-ts | genie-ts / Genie | target | met |`, '| --- | --- | ---: | ---: | ---: | --- | --- |'];
  for (const r of rows) {
    lines.push(`| ${r.kpi} | ${r.genieTsRun} | ${r.genie.toFixed(2)} | ${r.genieTs.toFixed(2)} | ${r.ratio.toFixed(3)}x | ${r.target} | ${r.met ? 'yes' : 'no'} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const options = parseArgs(process.argv.slice(2));
  const rows = compare(options);
  console.log(formatRows(rows, options.runs));
  if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(rows, null, 2)}\n`);
}
