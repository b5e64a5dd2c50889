/**
 * `genie-ts inspect FILE [--json]` on demo bundles: the graphs against the ctx-bins read by the
 * reference ctx-bin parser, the variants and KV layout against the bundle's options, the buffer plan's
 * memory against a sum written here from the specs, the same report through the simulated QnnHtp
 * provider, `--json` read back with parseGraphSpecsJson, and files that are not models.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCtxBinGraphs } from '../../src/backends/reference/index.js';
import { writeDemoBundle } from '../../src/demo/index.js';
import { parseGraphSpecsJson } from '../../src/graphs/spec-json.js';
import type { GraphSpec } from '../../src/graphs/spec.js';
import { cli, tempDir } from './fixtures.js';

const OPTIONS = { layers: 2, hidden: 16, heads: 2, kvHeads: 1, ar: [1, 4], cl: 32, seed: 5, splits: 2, quant: 'htp' } as const;
const BYTES: Record<string, number> = { INT_32: 4, UFIXED_POINT_16: 2, UFIXED_POINT_8: 1, FLOAT_32: 4 };
const bytesOf = (t: { dtype: string; shape: readonly number[] }): number => BYTES[t.dtype] * t.shape.reduce((a, b) => a * b, 1);

/** The plan's memory from its definition: each non-KV tensor name once at its largest size; each KV pair's region at its largest in + out. */
function expectedPlanBytes(graphs: readonly GraphSpec[]): number {
  const tensors = new Map<string, number>();
  const regions = new Map<string, number>();
  for (const g of graphs) {
    const all = [...g.inputs, ...g.outputs];
    for (const t of all) {
      const kv = /^(past_(?:key|value)_\d+)_(in|out)$/.exec(t.name);
      if (kv === null) tensors.set(t.name, Math.max(tensors.get(t.name) ?? 0, bytesOf(t)));
      else if (kv[2] === 'in') {
        const out = all.find((o) => o.name === `${kv[1]}_out`)!;
        regions.set(kv[1], Math.max(regions.get(kv[1]) ?? 0, bytesOf(t) + bytesOf(out)));
      }
    }
  }
  return [...tensors.values(), ...regions.values()].reduce((a, b) => a + b, 0);
}

describe('genie-ts inspect', () => {
  const root = tempDir('cli-inspect');
  let config: string;
  let parts: string[];
  let graphs: GraphSpec[];

  beforeAll(async () => {
    const bundle = await writeDemoBundle(join(root, 'htp'), OPTIONS);
    config = bundle.configPath;
    parts = [1, 2].map((i) => join(bundle.dir, `demo_part_${i}_of_2.safetensors`));
    graphs = parts.flatMap((file, ctxBin) => readCtxBinGraphs(new Uint8Array(readFileSync(file)), file).map((g) => ({ ...g, ctxBin })));
  }, 60_000);

  it('--json: graphs as the ctx-bins hold them, variants and KV layout of the bundle, the plan memory', async () => {
    const run = await cli(['inspect', config, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect([report.kind, report.backend]).toEqual(['genie-config', 'reference']);
    const specs = parseGraphSpecsJson(run.stdout, 'stdout');
    expect(specs).toEqual(graphs);
    const { layout } = report;
    expect(layout.variants.map((v: any) => [v.id, v.ar, v.cl, v.pastDim, v.parts.length, v.logitsRows])).toEqual(
      OPTIONS.ar.map((ar) => [`ar${ar}_cl${OPTIONS.cl}`, ar, OPTIONS.cl, OPTIONS.cl - ar, OPTIONS.splits, ar]),
    );
    expect(layout.variants[0].parts.map((p: any) => p.kind)).toEqual(['embedding', 'decoder-with-logits']);
    expect([layout.kvMode, layout.kvSlots, layout.splitCount, layout.input.kind]).toEqual(['concat', OPTIONS.layers, 2, 'ids']);
    expect(layout.bufferPlan.totalBytes).toBe(expectedPlanBytes(graphs));
    expect(report.roles[graphs[1].name]).toMatchObject({ input_ids: 'input_ids' });
    const decoder = graphs.find((g) => g.outputs.some((t) => t.name === 'logits'))!;
    expect(report.roles[decoder.name]).toMatchObject({ attention_mask: 'attention_mask', past_key_0_in: 'kv', past_value_1_out: 'kv', logits: 'logits' });
  });

  it('the text report lists variants, the plan and every tensor with dtype and encoding', async () => {
    const run = await cli(['inspect', config]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`${config}: genie-config (backend reference), ${graphs.length} graphs`);
    expect(lines).toContain(`buffer plan: 10 buffers, ${expectedPlanBytes(graphs)} bytes (${(expectedPlanBytes(graphs) / 2 ** 20).toFixed(2)} MiB)`);
    for (const g of graphs) {
      for (const t of [...g.inputs, ...g.outputs]) {
        const encoding = t.encoding === undefined ? '' : ` scale=${t.encoding.scale.toPrecision(6)} offset=${t.encoding.offset}`;
        expect(run.stdout).toContain(`${t.name}  [${t.shape.join(', ')}] ${t.dtype}${encoding}  `);
      }
    }
  });

  it('the same graphs through the simulated QnnHtp provider (a qnn-htp config)', { timeout: 120_000 }, async () => {
    const qnnConfig = (await writeDemoBundle(join(root, 'qnn'), { ...OPTIONS, backend: 'qnn-htp' })).configPath;
    const previous = process.env.GENIE_TS_QNN_PROVIDER;
    process.env.GENIE_TS_QNN_PROVIDER = 'simulated';
    try {
      const run = await cli(['inspect', qnnConfig, '--json']);
      expect(run.stderr).toBe('');
      const report = JSON.parse(run.stdout);
      expect(report.backend).toBe('QnnHtp');
      expect(parseGraphSpecsJson(run.stdout, 'stdout')).toEqual(graphs);
      expect(report.layout.bufferPlan.totalBytes).toBe(expectedPlanBytes(graphs));
    } finally {
      if (previous === undefined) delete process.env.GENIE_TS_QNN_PROVIDER;
      else process.env.GENIE_TS_QNN_PROVIDER = previous;
    }
  });

  it('one ctx-bin of a split model: its graphs, and why they form no model alone', async () => {
    const run = await cli(['inspect', parts[0], '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.kind).toBe('reference-ctx-bin');
    expect(parseGraphSpecsJson(run.stdout, 'stdout')).toEqual(graphs.filter((g) => g.ctxBin === 0));
    expect(report.layout).toBeNull();
    expect(report.layoutProblem).toMatch(/^ModelLayoutError: no graph outputs "logits"/);
  });

  it('bad input: usage exits 2; a missing, empty or non-model file exits 1 naming it', async () => {
    expect(await cli(['inspect'])).toMatchObject({ code: 2, stderr: 'genie-ts inspect: missing FILE\n(see genie-ts inspect --help)\n' });
    const missing = join(root, 'missing.json');
    expect(await cli(['inspect', missing])).toEqual({ code: 1, stdout: '', stderr: `genie-ts inspect: cannot read "${missing}": ENOENT: no such file or directory\n` });
    const empty = join(root, 'empty.bin');
    writeFileSync(empty, '');
    expect(await cli(['inspect', empty])).toEqual({ code: 1, stdout: '', stderr: `genie-ts inspect: "${empty}" is empty (neither a config nor a ctx-bin)\n` });
    expect(await cli(['inspect', root])).toEqual({ code: 1, stdout: '', stderr: `genie-ts inspect: "${root}" is not a regular file (inspect reads a config or a ctx-bin)\n` });
    const broken = join(root, 'broken.json');
    writeFileSync(broken, '{"dialog": ');
    const run = await cli(['inspect', broken]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^genie-ts inspect: .*${broken.replace(/[.]/g, '\\.')}`));
  });
});
