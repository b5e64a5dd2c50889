import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { writeDemoBundle, type DemoBundle } from '../../src/demo/index.js';
import { graphSpecsToJson } from '../../src/graphs/spec-json.js';
import type { GraphSpec } from '../../src/graphs/spec.js';
import { diffTraces } from '../../src/runtime/trace/trace-diff.js';
import { readTrace } from '../../src/runtime/trace/trace-reader.js';
import { tempDir } from '../backends/reference/fixtures.js';
import { writeHubCheckpoint } from '../backends/reference/hub-checkpoint.js';
import { cli } from './fixtures.js';

const root = tempDir('export-like');
let count = 0;
const fresh = (): string => join(root, `out${count++}`);

/** The graphs a bundle's ctx-bins hold, as its backend lists them. */
async function graphsOf(configPath: string): Promise<GraphSpec[]> {
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  const dir = join(configPath, '..');
  const backend = await openReferenceBackend(config.dialog.engine.model.binary['ctx-bins'].map((f: string) => join(dir, f)));
  try {
    return [...backend.graphs];
  } finally {
    await backend.dispose();
  }
}

/**
 * A demo bundle with other variants and splits than the defaults, htp IO; its hf/ checkpoint made
 * exportable (tokenizer and EOS beside it).
 */
async function device(name: string, options: Parameters<typeof writeDemoBundle>[1]): Promise<DemoBundle & { hf: string }> {
  const bundle = await writeDemoBundle(join(root, name), options);
  const hf = join(bundle.dir, 'hf');
  copyFileSync(join(bundle.dir, 'tokenizer.json'), join(hf, 'tokenizer.json'));
  // Qwen2.5's: the demo config pads with <|endoftext|> too, so unused input rows match.
  writeFileSync(join(hf, 'generation_config.json'), JSON.stringify({ bos_token_id: 151643, pad_token_id: 151643, eos_token_id: [151645, 151643], do_sample: false }));
  return { ...bundle, hf };
}

describe('genie-ts export --like', () => {
  it('the twin of an htp demo bundle has its graphs and ctx-bins, and its trace aligns with the bundle\'s', async () => {
    const bundle = await device('device', { layers: 3, splits: 3, ar: [1, 16], cl: 96, quant: 'htp' });
    const twin = fresh();
    const result = await cli(['export', '--hf', bundle.hf, '--out', twin, '--like', bundle.configPath]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('qwen2: 3 ctx-bin part(s), AR 1,16, CL 96');
    const want = await graphsOf(bundle.configPath);
    expect(want.some((g) => g.inputs.some((t) => t.dtype === 'UFIXED_POINT_8'))).toBe(true);
    expect(await graphsOf(join(twin, 'genie_config.json'))).toEqual(want);
    expect(JSON.parse(readFileSync(join(twin, 'export.json'), 'utf8')).options).toMatchObject({ like: bundle.configPath, ar: [1, 16], cl: 96, splits: 3 });

    // Same prompt, greedy, traced on both: every step and tensor aligns; same weights, IO types and
    // executor make them equal bit for bit.
    const traces = [join(root, 'trace-device'), join(root, 'trace-twin')];
    const configs = [bundle.configPath, join(twin, 'genie_config.json')];
    for (const [i, config] of configs.entries()) {
      const run = await cli(['run', '-c', config, '-p', 'The river rises in the mountains, where snow melts every spring and feeds a hundred small streams.', '-n', '4', '--temp', '0', '--trace', traces[i]]);
      expect(run.code, run.stderr).toBe(0);
    }
    const diff = await diffTraces(await readTrace(traces[0]), await readTrace(traces[1]));
    expect(diff.notes).toEqual([]);
    expect(diff.firstParting).toBeNull();
    // Two AR-16 prefill chunks, then the decode steps.
    expect(diff.steps.map((s) => s.variant)).toEqual(['ar16_cl96', 'ar16_cl96', 'ar1_cl96', 'ar1_cl96', 'ar1_cl96']);
    const names = new Set(diff.steps.flatMap((s) => s.tensors.map((t) => t.name)));
    for (const graph of want) for (const t of [...graph.inputs, ...graph.outputs]) expect(names.has(t.name), t.name).toBe(true);
    for (const step of diff.steps) for (const t of step.tensors) expect([step.index, t.name, t.mismatches, t.maxAbsError]).toEqual([step.index, t.name, 0, 0]);
  });

  it('reads the graphs from an inspect --json description as from the config', async () => {
    const bundle = await device('device-embeds', { layers: 2, splits: 2, ar: [1, 8], cl: 64, quant: 'htp', input: 'embeds' });
    const want = await graphsOf(bundle.configPath);
    const description = join(root, 'graphs.json');
    writeFileSync(description, JSON.stringify({ config: bundle.configPath, graphs: graphSpecsToJson(want) }));
    const twin = fresh();
    const result = await cli(['export', '--hf', bundle.hf, '--out', twin, '--like', description]);
    expect(result.code, result.stderr).toBe(0);
    expect(await graphsOf(join(twin, 'genie_config.json'))).toEqual(want);
    const config = JSON.parse(readFileSync(join(twin, 'genie_config.json'), 'utf8'));
    expect(config.dialog.embedding).toMatchObject({ type: 'lut', datatype: 'float32', size: 64 });
    expect((await cli(['run', '-c', join(twin, 'genie_config.json'), '-p', 'Hi', '-n', '2'])).code).toBe(0);
  });

  it('a checkpoint that does not fit the graphs fails naming both; nothing is written', async () => {
    const bundle = await device('device-small', { layers: 3, splits: 2, ar: [1, 8], cl: 64 });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ num_hidden_layers: 2 }, /checkpoint ".*hf-layers" has num_hidden_layers 2, but the graphs of ".*device-small\/genie_config.json" have KV tensors for 3 layers \(0, 1, 2\)/],
      [{ num_hidden_layers: 3, hidden_size: 32 }, /checkpoint ".*hf-hidden" has hidden_size 32, but the graphs of ".*" have hidden size 64 \(tensor "_model_embed_tokens_Gather_Gather_output_0"\)/],
      [{ num_hidden_layers: 3 }, /checkpoint ".*hf-vocab" has vocab_size 1024, but the graphs of ".*" have vocabulary 151936 \(tensor "logits"\)/],
    ];
    for (const [i, [overrides, message]] of cases.entries()) {
      const hf = await writeHubCheckpoint(root, 'qwen2', ['layers', 'hidden', 'vocab'][i], { overrides });
      const out = fresh();
      const result = await cli(['export', '--hf', hf.dir, '--out', out, '--like', bundle.configPath]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    const usage = await cli(['export', '--hf', bundle.hf, '--out', fresh(), '--like', bundle.configPath, '--ar', '1']);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('--like takes --ar from the graphs it names; drop --ar') });
    const absent = await cli(['export', '--hf', bundle.hf, '--out', fresh(), '--like', join(root, 'absent.json')]);
    expect(absent).toMatchObject({ code: 1, stderr: expect.stringContaining('absent.json') });
  });
});
