import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configCommand } from '../../src/cli/commands/config.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import type { CliIO } from '../../src/cli/io.js';
import { readSafetensors } from '../../src/formats/index.js';
import { demoTokenizerPath } from '../../src/runtime/tokenizer/index.js';
import { hfForward, oracleGreedy, type Family, type StoredDType } from '../backends/reference/decoder-oracle.js';
import { maxAbsDiff, tempDir } from '../backends/reference/fixtures.js';
import { greedyRun, HUB_EOS, HUB_VOCAB, writeHubCheckpoint, type HubCheckpoint, type HubCheckpointOptions } from '../backends/reference/hub-checkpoint.js';

const root = tempDir('export');
let count = 0;
const fresh = (): string => join(root, `out${count++}`);

async function run(args: string[], isTTY = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY };
  const code = await exportCommand(args, io);
  return { code, stdout, stderr };
}

const VOCAB = HUB_VOCAB;
const EOS = HUB_EOS;
const prompt = [5, 17, 298, 3, 250, 42, 7, 600, 11];
const STEPS = 6;

const checkpoint = (family: Family, name: string, options?: HubCheckpointOptions): Promise<HubCheckpoint> => writeHubCheckpoint(root, family, name, options);
const generate = (out: string, tokens: readonly number[]) => greedyRun(join(out, 'genie_config.json'), tokens, STEPS);

describe('genie-ts export', () => {
  const cases: Array<{ name: string; family: Family; flags: string[]; cl: number; dtype?: StoredDType; shards?: number; addBos?: boolean }> = [
    { name: 'llama', family: 'llama', flags: ['--ar', '1,4', '--cl', '32', '--splits', '3'], cl: 32, dtype: 'BF16', shards: 2, addBos: true },
    { name: 'phi3-embeds', family: 'phi3', flags: ['--ar', '4,1', '--cl', '64', '--splits', '2', '--input', 'embeds'], cl: 64, dtype: 'F16' },
    { name: 'phi3-short', family: 'phi3', flags: ['--ar', '1,4', '--cl', '32'], cl: 32 },
  ];
  for (const c of cases) {
    it(`${c.name}: Dialog.create of the exported config generates the float64 oracle's greedy tokens`, async () => {
      const hf = await checkpoint(c.family, c.name, { dtype: c.dtype, shards: c.shards, addBos: c.addBos });
      const out = fresh();
      const result = await run(['--hf', hf.dir, '--out', out, ...c.flags]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`${out}\n${c.family}: `);
      const files = readdirSync(out).sort();
      expect(files).toEqual(expect.arrayContaining(['genie_config.json', 'tokenizer.json', 'tokenizer_config.json', 'export.json']));
      const config = JSON.parse(readFileSync(join(out, 'genie_config.json'), 'utf8'));
      const { context, engine } = config.dialog;
      expect(context).toMatchObject({ size: c.cl, 'n-vocab': VOCAB, 'eos-token': EOS, 'bos-token': c.addBos ? 1 : -1 });
      const rope = engine.model['positional-encoding'];
      if (c.family === 'llama') {
        expect(rope['rope-scaling']).toEqual({
          'rope-type': 'llama3', factor: 8, 'low-freq-factor': 1, 'high-freq-factor': 4, 'original-max-position-embeddings': 64,
        });
      } else {
        expect(rope['rope-scaling']).toMatchObject({ 'rope-type': 'longrope', factor: 4, 'original-max-position-embeddings': 32 });
      }
      let checkOut = '';
      let checkErr = '';
      const checked = await configCommand(['check', join(out, 'genie_config.json')], {
        stdout: (t) => void (checkOut += t), stderr: (t) => void (checkErr += t), isTTY: false,
      });
      expect({ checked, checkErr }).toEqual({ checked: 0, checkErr: '' });
      expect(checkOut).toMatch(/^ok\n/);
      const fed = c.addBos ? [1, ...prompt] : prompt;
      const got = await generate(out, prompt);
      expect(got.promptTokens).toEqual(fed);
      const want = oracleGreedy(hf.json, hf.stored, fed, STEPS, c.cl);
      expect(got.tokens).toEqual(want.tokens);
      expect(Math.max(...got.rows.map((row, t) => maxAbsDiff(row, want.rows[t])))).toBeLessThanOrEqual(1e-4);
      // The RoPE scaling matters: the plain-RoPE model would give other logits.
      const plain = hfForward({ ...hf.json, rope_scaling: null }, hf.stored, [...fed, ...want.tokens], c.cl);
      expect(maxAbsDiff(plain[fed.length + STEPS - 2], want.rows[STEPS - 1])).toBeGreaterThan(0.01);
    });
  }

  it('--quant fp16: every float IO tensor is FLOAT_16 and the bundle runs', async () => {
    const hf = await checkpoint('llama', 'fp16');
    const out = fresh();
    const result = await run(['--hf', hf.dir, '--out', out, '--ar', '1,4', '--cl', '32', '--quant', 'fp16', '--splits', '2'], true);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('reading llama checkpoint');
    expect(result.stderr).toContain('writing model_part_2_of_2.safetensors');
    const meta = JSON.parse((await readSafetensors(join(out, 'model_part_2_of_2.safetensors'))).metadata['genie-ts']);
    expect(meta.version).toBe(3);
    const dtypes = new Set(meta.graphs.flatMap((g: { inputs: { dtype: string }[]; outputs: { dtype: string }[] }) => [...g.inputs, ...g.outputs].map((t) => t.dtype)));
    expect([...dtypes]).toEqual(['FLOAT_16']);
    const got = await generate(out, prompt);
    expect(got.tokens).toHaveLength(STEPS);
  });

  it('replaces an earlier export only with --force, and never another folder', async () => {
    const hf = await checkpoint('phi3', 'force', { overrides: { num_hidden_layers: 1 } });
    const out = fresh();
    const args = ['--hf', hf.dir, '--out', out, '--ar', '1', '--cl', '16'];
    expect((await run(args)).code).toBe(0);
    const again = await run(args);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('holds an earlier export; pass --force') });
    expect((await run([...args, '--force'])).code).toBe(0);
    const other = fresh();
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    const refused = await run(['--hf', hf.dir, '--out', other, '--force']);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('is not empty and holds no export') });
    expect(readdirSync(other)).toEqual(['notes.txt']);
  });

  it('bad checkpoints fail with the reason and leave nothing behind', async () => {
    const hf = await checkpoint('llama', 'bad');
    const json = JSON.parse(readFileSync(join(hf.dir, 'config.json'), 'utf8'));
    writeFileSync(join(hf.dir, 'config.json'), JSON.stringify({ ...json, architectures: ['MistralForCausalLM'], model_type: 'mistral' }));
    const out = fresh();
    const result = await run(['--hf', hf.dir, '--out', out, '--cl', '16', '--ar', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/architecture "MistralForCausalLM" is not supported \(supported: Qwen2ForCausalLM .*LlamaForCausalLM .*Phi3ForCausalLM/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('.tmp-'))).toEqual([]);

    const noTokenizer = await checkpoint('phi3', 'no-tokenizer');
    writeFileSync(join(noTokenizer.dir, 'tokenizer.json'), '');
    const broken = await run(['--hf', noTokenizer.dir, '--out', fresh(), '--cl', '16', '--ar', '1']);
    expect(broken).toMatchObject({ code: 1, stderr: expect.stringContaining('tokenizer.json" is not valid JSON') });
  });

  it('takes the default context from a Phi-3 sliding window', async () => {
    const hf = await checkpoint('phi3', 'window-default', { overrides: { num_hidden_layers: 1, sliding_window: 24 } });
    const out = fresh();
    expect((await run(['--hf', hf.dir, '--out', out, '--ar', '1,4'])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'genie_config.json'), 'utf8')).dialog.context.size).toBe(24);
  });

  it("takes BOS from tokenizer_config's add_bos_token, else from a post-processor template holding it (Llama 3)", async () => {
    const hf = await checkpoint('llama', 'bos', { overrides: { num_hidden_layers: 1 } });
    const bosOf = async (tokenizerConfig: object | null, post: unknown): Promise<number> => {
      if (tokenizerConfig === null) rmSync(join(hf.dir, 'tokenizer_config.json'), { force: true });
      else writeFileSync(join(hf.dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
      const tokenizer = JSON.parse(readFileSync(demoTokenizerPath(), 'utf8'));
      writeFileSync(join(hf.dir, 'tokenizer.json'), JSON.stringify({ ...tokenizer, post_processor: post }));
      const out = fresh();
      expect((await run(['--hf', hf.dir, '--out', out, '--cl', '16', '--ar', '1'])).code).toBe(0);
      return JSON.parse(readFileSync(join(out, 'genie_config.json'), 'utf8')).dialog.context['bos-token'];
    };
    const template = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [1], tokens: ['<|begin_of_text|>'] } },
    };
    const sequence = { type: 'Sequence', processors: [{ type: 'ByteLevel' }, template] };
    expect(await bosOf(null, sequence)).toBe(1);
    expect(await bosOf({}, template)).toBe(1);
    expect(await bosOf({ add_bos_token: false }, sequence)).toBe(-1);
    expect(await bosOf({ add_bos_token: true }, null)).toBe(1);
    expect(await bosOf({}, { type: 'ByteLevel' })).toBe(-1);
  });

  it('fails before writing anything when the output file system has too little room', async () => {
    const hf = await checkpoint('phi3', 'huge', { overrides: { num_hidden_layers: 1 } });
    // config.json claims 2^40 rows of the table: checked against the free space before any weight is read.
    const json = JSON.parse(readFileSync(join(hf.dir, 'config.json'), 'utf8'));
    writeFileSync(join(hf.dir, 'config.json'), JSON.stringify({ ...json, vocab_size: 2 ** 40 }));
    const out = fresh();
    const result = await run(['--hf', hf.dir, '--out', out, '--cl', '16', '--ar', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/MiB free, the bundle needs about \d+ MiB/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses bad usage with status 2', async () => {
    const hf = await checkpoint('phi3', 'usage', { overrides: { num_hidden_layers: 1 } });
    const windowed = await checkpoint('phi3', 'window', { overrides: { num_hidden_layers: 1, sliding_window: 24 } });
    const cases: Array<[string[], string]> = [
      [['--out', fresh()], 'missing --hf DIR'],
      [['--hf', hf.dir], 'missing --out DIR'],
      [['--hf', hf.dir, '--out', fresh(), '--calibrate', 'prompts.txt'], '--calibrate goes with --quant htp'],
      [['--hf', hf.dir, '--out', fresh(), '--quant', 'htp', '--calibrate', ''], '--calibrate needs a prompts file, got ""'],
      [['--hf', hf.dir, '--out', fresh(), '--cl', '4096'], "cl 4096 exceeds the model's max_position_embeddings 128"],
      [['--hf', hf.dir, '--out', fresh(), '--cl', '16', '--ar', '16'], 'ar 16 is not an integer in [1, cl 16)'],
      [['--hf', hf.dir, '--out', fresh(), '--cl', '16', '--ar', '1', '--splits', '3'], 'splits 3 is not in [1, 2] for 1 layers plus the embedding part'],
      [['--hf', windowed.dir, '--out', fresh(), '--cl', '32', '--ar', '1'], "cl 32 exceeds the model's sliding_window 24: the executor attends to the whole context"],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result.code, message).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });
});
