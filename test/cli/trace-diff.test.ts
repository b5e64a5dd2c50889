/**
 * `genie-ts trace diff`: a float demo bundle against its `--quant htp` twin, both traced with
 * `run --trace --force-tokens` so the decode steps stay aligned; the terminal tables, `--json`
 * (checked against the metrics recomputed from the step files with mathjs), the HTML report's
 * structure (series and cells against the diff), and bad input.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as math from 'mathjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeDemoBundle } from '../../src/demo/index.js';
import { readStepTensors, readTrace } from '../../src/runtime/trace/trace-reader.js';
import { cli, tempDir } from './fixtures.js';

const TINY = { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 4], cl: 32, seed: 11 };
const FORCED = [100, 200, 300, 400];

/** The `data-*` attributes of every element of `tag` with class `cls` in `html` (a structural read, no DOM). */
function elements(html: string, tag: string, cls: string): Array<Record<string, string>> {
  const found: Array<Record<string, string>> = [];
  for (const match of html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))) {
    const attrs = Object.fromEntries([...match[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if ((attrs.class ?? '').split(' ').includes(cls)) found.push(attrs);
  }
  return found;
}

describe('genie-ts trace diff', () => {
  const root = tempDir('cli-trace-diff');
  let float: string;
  let quant: string;

  beforeAll(async () => {
    const f = await writeDemoBundle(join(root, 'float'), TINY);
    const q = await writeDemoBundle(join(root, 'htp'), { ...TINY, quant: 'htp' });
    const force = join(root, 'force.txt');
    writeFileSync(force, FORCED.join(' '));
    float = join(root, 'trace-float');
    quant = join(root, 'trace-htp');
    for (const [config, dir] of [[f.configPath, float], [q.configPath, quant]]) {
      const run = await cli(['run', '-c', config, '-p', 'Hello, world! How are you', '-n', '4', '--trace', dir, '--force-tokens', force]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
  }, 120_000);

  it('--json: every step and tensor, metrics equal to mathjs on the dequantised step files', async () => {
    const run = await cli(['trace', 'diff', float, quant, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const diff = JSON.parse(run.stdout);
    const [a, b] = [await readTrace(float), await readTrace(quant)];
    expect(diff.steps.length).toBe(a.steps.length);
    expect(diff.steps.flatMap((s: any) => s.tokens).slice(-3)).toEqual(FORCED.slice(0, 3));
    let checked = 0;
    for (const step of diff.steps) {
      const [ta, tb] = [await readStepTensors(a, a.steps[step.index]), await readStepTensors(b, b.steps[step.index])];
      expect(step.tensors.map((t: any) => t.name).sort()).toEqual([...ta.keys()].sort());
      for (const t of step.tensors) {
        if (t.comparison !== 'values') continue;
        let x = Array.from(ta.get(t.name)!.values);
        let y = Array.from(tb.get(t.name)!.values);
        if (t.role === 'logits') {
          // The step's valid rows only: rows past nNew are padding.
          const vocab = ta.get(t.name)!.tensor.shape.at(-1)!;
          const valid = x.length === vocab ? 1 : a.steps[step.index].nNew;
          [x, y] = [x.slice(0, valid * vocab), y.slice(0, valid * vocab)];
        }
        const noise = math.sum(math.dotPow(math.subtract(x, y), 2)) as number;
        const signal = math.sum(math.dotPow(x, 2)) as number;
        if (noise === 0) expect(t.sqnrDb).toBe('inf');
        else expect(t.sqnrDb).toBeCloseTo(10 * Math.log10(signal / noise), 6);
        expect(t.maxAbsError).toBeCloseTo(math.max(math.abs(math.subtract(x, y)) as number[]), 6);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
    // The HTP twin is close: no tensor parts at the default threshold, the logits' argmax agrees.
    expect(diff.firstParting).toBeNull();
    const logits = diff.steps.flatMap((s: any) => s.tensors.filter((t: any) => t.role === 'logits'));
    expect(logits.length).toBeGreaterThan(0);
    for (const t of logits) expect(t.argmax.a).toBe(t.argmax.b);
    // Masks: float vs uint16 codes, the same pattern.
    const masks = diff.steps.flatMap((s: any) => s.tensors.filter((t: any) => t.comparison === 'mask'));
    expect(masks.length).toBe(diff.steps.length);
    for (const m of masks) expect(m.mismatches).toBe(0);
  });

  it('a table per step and per tensor on the terminal; --html writes a self-contained report whose charts match the diff', async () => {
    const html = join(root, 'report.html');
    const run = await cli(['trace', 'diff', float, quant, '--html', html, '--min-sqnr', '60']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const json = JSON.parse((await cli(['trace', 'diff', float, quant, '--json', '--min-sqnr', '60'])).stdout);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`trace diff: A ${float}  vs  B ${quant}  (${json.steps.length} steps compared, parting below 60 dB)`);
    expect(lines[2]).toMatch(/^step\s+kind\s+variant\s+positions\s+min SQNR dB \(tensor\)\s+logits dB\s+logits cos\s+argmax\s+mask diffs$/);
    for (const step of json.steps) expect(lines[4 + step.index]).toMatch(new RegExp(`^${step.index}\\s+${step.kind}\\s+${step.variant}\\s`));
    // At 60 dB an 8-bit KV cache parts; the report says where.
    expect(json.firstParting).not.toBeNull();
    expect(run.stdout).toContain(`first parting: step ${json.firstParting.step}, tensor "${json.firstParting.tensor}": ${json.firstParting.why}`);

    const page = readFileSync(html, 'utf8');
    expect(page).not.toMatch(/<script|<link|src=|href=|url\(|@import/i);
    const roles = [...new Set(json.steps.flatMap((s: any) => s.tensors.filter((t: any) => t.comparison === 'values').map((t: any) => t.role)))];
    const series = elements(page, 'g', 'series');
    expect(series.map((s) => s['data-series']).sort()).toEqual([...roles].sort());
    for (const s of series) {
      const steps = json.steps.filter((step: any) => step.tensors.some((t: any) => t.comparison === 'values' && t.role === s['data-series']));
      expect(Number(s['data-points'])).toBe(steps.length);
    }
    const cells = elements(page, 'rect', 'cell');
    expect(cells.map((c) => `${c['data-step']}/${c['data-tensor']}`).sort()).toEqual(
      json.steps.flatMap((s: any) => s.tensors.map((t: any) => `${s.index}/${t.name}`)).sort(),
    );
    const outlined = elements(page, 'rect', 'first-parting');
    expect(outlined.map((c) => [Number(c['data-step']), c['data-tensor']])).toEqual([[json.firstParting.step, json.firstParting.tensor]]);
  });

  it('bad input: usage errors exit 2, unreadable or unalignable traces exit 1 with the reason', async () => {
    expect(await cli(['trace'])).toMatchObject({ code: 2, stderr: 'genie-ts trace: missing subcommand (diff)\n(see genie-ts trace --help)\n' });
    expect(await cli(['trace', 'diff', float])).toMatchObject({ code: 2, stderr: 'genie-ts trace: trace diff needs two trace folders, A and B\n(see genie-ts trace --help)\n' });
    expect(await cli(['trace', 'diff', float, quant, '--min-sqnr', 'x'])).toMatchObject({ code: 2, stderr: 'genie-ts trace: --min-sqnr "x": expected a number of dB\n(see genie-ts trace --help)\n' });
    const missing = join(root, 'missing');
    expect(await cli(['trace', 'diff', float, missing])).toEqual({
      code: 1, stdout: '', stderr: `genie-ts trace diff: cannot read the trace index "${join(missing, 'trace.json')}": ENOENT: no such file or directory\n`,
    });
    // Another prompt: the first prefill feeds other tokens.
    const other = join(root, 'trace-other');
    const run = await cli(['run', '-c', join(root, 'float', 'genie_config.json'), '-p', 'Goodbye, world! How are you', '-n', '1', '--trace', other]);
    expect(run.code).toBe(0);
    const result = await cli(['trace', 'diff', float, other]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^genie-ts trace diff: the traces cannot be aligned: different prompts: step 0 feeds token \d+ in A and \d+ in B at position 0\n$/);
    const unwritable = await cli(['trace', 'diff', float, quant, '--html', join(root, 'no', 'such', 'report.html')]);
    expect(unwritable).toMatchObject({ code: 1, stderr: `genie-ts trace diff: cannot write the report "${join(root, 'no', 'such', 'report.html')}": ENOENT: no such file or directory\n` });
  });
});
