import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GraphBackend } from '../../src/backends/backend.js';
import {
  loadHfQwen2, openReferenceBackend, splitQwen2Checkpoint, writeReferenceCtxBin, type Qwen2Checkpoint,
} from '../../src/backends/reference/index.js';
import { discoverModelLayout } from '../../src/graphs/index.js';
import { deriveDialog, loadConfigFile, parseConfig } from '../../src/runtime/config/index.js';
import {
  DEMO_FORMAT_VERSION, demoCheckpoint, DemoBundleError, DemoOptionError, resolveDemoOptions, writeDemoBundle, type DemoBundle,
} from '../../src/demo/index.js';
import { demoTokenizerPath } from '../../src/runtime/tokenizer/index.js';
import { KvLoopDriver } from '../backends/reference/kv-loop-driver.js';
import { fullForward } from '../backends/reference/qwen2-oracle.js';
import { bytes, listFiles, sameBits, SMALL, snapshot, tempDir } from './fixtures.js';

const VOCAB = 151936;
const root = tempDir('bundle');
const prompt = [9707, 11, 1879, 0, 151643, 42];
const continuation = [100, 151935, 7];

/** `options` written to a fresh folder under `root`. */
let count = 0;
async function write(options = SMALL): Promise<DemoBundle> {
  return writeDemoBundle(join(root, `b${count++}`), options);
}

async function logitsOf(backend: GraphBackend, checkpoint: Qwen2Checkpoint, embedTable?: Float32Array): Promise<Float32Array[]> {
  const driver = new KvLoopDriver(backend, checkpoint.config, { embedTable });
  return driver.run(prompt, continuation, 4, 1);
}

function maxAbsDiff(a: readonly Float32Array[], b: readonly (ArrayLike<number>)[]): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  a.forEach((row, r) => {
    expect(row.length).toBe(b[r].length);
    for (let i = 0; i < row.length; i++) max = Math.max(max, Math.abs(row[i] - b[r][i]));
  });
  return max;
}

describe('writeDemoBundle: ids input, embedding part + 2 decoder parts', () => {
  const options = { ...SMALL, layers: 3, splits: 3 };
  let bundle: DemoBundle;
  beforeAll(async () => {
    bundle = await write(options);
  });

  it('writes the documented files and nothing else', () => {
    expect(listFiles(bundle.dir)).toEqual([
      'README.txt', 'demo.json', 'demo_part_1_of_3.safetensors', 'demo_part_2_of_3.safetensors', 'demo_part_3_of_3.safetensors',
      'genie_config.json', 'hf/config.json', 'hf/model.safetensors', 'tokenizer.json', 'tokenizer_config.json',
    ]);
    expect(bundle.configPath).toBe(join(bundle.dir, 'genie_config.json'));
    expect(bundle.options).toEqual(resolveDemoOptions(options));
    expect(bytes(join(bundle.dir, 'tokenizer.json')).equals(bytes(demoTokenizerPath()))).toBe(true);
    expect(readdirSync(root).filter((e) => e.includes('.tmp-') || e.includes('.old-'))).toEqual([]);
  });

  it('says in README.txt, in 3 lines, that the weights are random and how it was built', () => {
    const lines = readFileSync(join(bundle.dir, 'README.txt'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/random/);
    expect(lines[2]).toContain('layers 3, hidden 8, heads 2, kv-heads 1, splits 3, ar 1,4, cl 16, input ids, seed 7');
  });

  it('records the options, the format version and every file size in demo.json', () => {
    const manifest = JSON.parse(readFileSync(join(bundle.dir, 'demo.json'), 'utf8'));
    expect(manifest.format).toBe('genie-ts-demo');
    expect(manifest.version).toBe(DEMO_FORMAT_VERSION);
    expect(manifest.options).toEqual(resolveDemoOptions(options));
    const files = listFiles(bundle.dir).filter((f) => f !== 'demo.json');
    expect(Object.keys(manifest.files)).toEqual(files);
    for (const f of files) expect(manifest.files[f]).toBe(bytes(join(bundle.dir, f)).length);
  });

  it('writes a config that passes parseConfig and deriveDialog with the demo values', async () => {
    const json = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
    const config = parseConfig(json, { baseDir: bundle.dir });
    const d = deriveDialog(config);
    expect(d).toMatchObject({
      root: 'dialog', type: 'basic', contextSize: 16, nVocab: VOCAB, bosToken: null, padToken: 151643,
      backendType: 'Reference', nThreads: 1, embedding: null, tokenizerPath: join(bundle.dir, 'tokenizer.json'),
    });
    expect(d.eosTokens.sort()).toEqual([151643, 151645]);
    expect(d.sampler).toMatchObject({ seed: 7, temp: 0.8, topK: 40, topP: 0.95 });
    expect(d.ctxBins).toEqual([1, 2, 3].map((i) => join(bundle.dir, `demo_part_${i}_of_3.safetensors`)));
    expect(d.positionalEncoding).toEqual({ type: 'rope', ropeDim: 2, theta: 1_000_000, scaling: { type: 'default' }, source: 'positional-encoding' });
    expect(json.dialog.engine.model.binary['ctx-bins']).toEqual([1, 2, 3].map((i) => `demo_part_${i}_of_3.safetensors`));
    expect(json.dialog.tokenizer.path).toBe('tokenizer.json');
  });

  it('opens in the reference backend with one graph per AR in each part, shaped for the AR set and CL', async () => {
    const backend = await openReferenceBackend(deriveDialog((await loadConfigFile(bundle.configPath)).config).ctxBins);
    try {
      expect(backend.graphs.map((g) => g.name)).toEqual(
        [1, 2, 3].flatMap((p) => [`token_ar1_cl16_${p}_of_3`, `prompt_ar4_cl16_${p}_of_3`]),
      );
      const shapes = (name: string) => {
        const g = backend.graphs.find((x) => x.name === name)!;
        return Object.fromEntries([...g.inputs, ...g.outputs].map((t) => [t.name, t.shape]));
      };
      expect(shapes('prompt_ar4_cl16_1_of_3')).toEqual({
        input_ids: [1, 4], _model_embed_tokens_Gather_Gather_output_0: [1, 4, 8],
      });
      expect(shapes('token_ar1_cl16_2_of_3')).toMatchObject({
        _model_embed_tokens_Gather_Gather_output_0: [1, 1, 8], attention_mask: [1, 1, 1, 16],
        position_ids_cos: [1, 1, 1, 2], past_key_0_in: [1, 1, 4, 15], past_value_1_in: [1, 1, 15, 4],
        past_key_1_out: [1, 1, 4, 1], _model_layers_1_Add_1_output_0: [1, 1, 8],
      });
      expect(shapes('prompt_ar4_cl16_3_of_3')).toMatchObject({
        _model_layers_1_Add_1_output_0: [1, 4, 8], past_key_2_in: [1, 1, 4, 12], logits: [1, 4, VOCAB],
      });
      const layout = discoverModelLayout(backend.graphs);
      expect(layout.variants.map((v) => [v.ar, v.cl, v.pastDim, v.hasLogits])).toEqual([[1, 16, 15, true], [4, 16, 12, true]]);
      expect([layout.splitCount, layout.maxContextLength, layout.input.kind]).toEqual([3, 16, 'ids']);
    } finally {
      await backend.dispose();
    }
  });

  it('holds the same weights as its hf/ checkpoint, which has the documented Qwen2 config', async () => {
    const hf = JSON.parse(readFileSync(join(bundle.dir, 'hf', 'config.json'), 'utf8'));
    expect(hf).toMatchObject({
      model_type: 'qwen2', hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 16,
      num_hidden_layers: 3, vocab_size: VOCAB, rope_theta: 1_000_000, rms_norm_eps: 1e-6, tie_word_embeddings: true,
    });
    const loaded = await loadHfQwen2(join(bundle.dir, 'hf'));
    const generated = demoCheckpoint(bundle.options);
    expect(loaded.config).toEqual(generated.config);
    expect([...loaded.weights.keys()]).toEqual([...generated.weights.keys()]);
    for (const [name, tensor] of generated.weights) expect(sameBits(loaded.weights.get(name)!.data, tensor.data), name).toBe(true);
  });

  it('gives, from its hf/ checkpoint split again, identical logits, matching a dense forward pass', async () => {
    const checkpoint = await loadHfQwen2(join(bundle.dir, 'hf'));
    const parts = splitQwen2Checkpoint({
      config: checkpoint.config, weights: checkpoint.weights, arSet: [1, 4], cl: 16, splits: 3, embeddingPart: true, inputKind: 'ids',
    });
    const resplit = parts.map((_, i) => join(root, `resplit_${i + 1}_of_3.safetensors`));
    for (const [i, part] of parts.entries()) await writeReferenceCtxBin(resplit[i], part);
    const fromBundle = await openReferenceBackend(deriveDialog((await loadConfigFile(bundle.configPath)).config).ctxBins);
    const fromHf = await openReferenceBackend(resplit);
    const a = await logitsOf(fromBundle, checkpoint);
    const b = await logitsOf(fromHf, checkpoint);
    expect(maxAbsDiff(a, b)).toBe(0);
    const dense = fullForward(checkpoint.config, new Map(checkpoint.weights), [...prompt, ...continuation]);
    expect(maxAbsDiff(a, dense)).toBeLessThan(1e-4);
    await Promise.all([fromBundle.dispose(), fromHf.dispose()]);
  });

  it('loads from wherever the folder is moved (its paths are relative)', async () => {
    const moved = join(root, 'moved');
    renameSync(bundle.dir, moved);
    try {
      const d = deriveDialog((await loadConfigFile(join(moved, 'genie_config.json'))).config);
      expect(d.ctxBins.every((p) => p.startsWith(moved) && existsSync(p))).toBe(true);
      expect(existsSync(d.tokenizerPath)).toBe(true);
      await (await openReferenceBackend(d.ctxBins)).dispose();
    } finally {
      renameSync(moved, bundle.dir);
    }
  });
});

describe('writeDemoBundle: embeds input', () => {
  let ids: DemoBundle;
  let embeds: DemoBundle;
  beforeAll(async () => {
    [ids, embeds] = await Promise.all([write({ ...SMALL, splits: 1 }), write({ ...SMALL, input: 'embeds', splits: 2 })]);
  });

  it('writes a raw float32 [vocab, hidden] LUT whose rows are the embedding weights', async () => {
    expect(listFiles(embeds.dir)).toContain('embedding_lut.bin');
    const raw = bytes(join(embeds.dir, 'embedding_lut.bin'));
    expect(raw.length).toBe(VOCAB * 8 * 4);
    const lut = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    const { weights } = await loadHfQwen2(join(embeds.dir, 'hf'));
    const table = weights.get('model.embed_tokens.weight')!.data;
    for (const token of [0, 1, 151643, 151935]) {
      expect(lut.subarray(token * 8, token * 8 + 8)).toEqual(table.subarray(token * 8, token * 8 + 8));
    }
    expect(sameBits(table, lut)).toBe(true);
  });

  it('declares the LUT in the config and takes input_embeds in part 1', async () => {
    const d = deriveDialog((await loadConfigFile(embeds.configPath)).config);
    expect(d.embedding).toMatchObject({ size: 8, type: 'lut', lutPath: join(embeds.dir, 'embedding_lut.bin'), datatype: 'float32' });
    const backend = await openReferenceBackend(d.ctxBins);
    const first = backend.graphs.find((g) => g.name === 'prompt_ar4_cl16_1_of_2')!;
    expect(first.inputs[0]).toMatchObject({ name: 'input_embeds', shape: [1, 4, 8] });
    expect(discoverModelLayout(backend.graphs).input.kind).toBe('embeddings');
    await backend.dispose();
  });

  it('computes, through its LUT, the logits of the ids bundle with the same seed', async () => {
    const raw = bytes(join(embeds.dir, 'embedding_lut.bin'));
    const lut = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    const checkpoint = await loadHfQwen2(join(ids.dir, 'hf'));
    const a = await logitsOf(await openReferenceBackend(deriveDialog((await loadConfigFile(ids.configPath)).config).ctxBins), checkpoint);
    const b = await logitsOf(await openReferenceBackend(deriveDialog((await loadConfigFile(embeds.configPath)).config).ctxBins), checkpoint, lut);
    expect(maxAbsDiff(a, b)).toBe(0);
  });
});

describe('writeDemoBundle determinism', () => {
  it('writes byte-identical files for the same options and different weights for another seed', async () => {
    const [a, b, c] = await Promise.all([write(), write({ ...SMALL, ar: [4, 1] }), write({ ...SMALL, seed: 8 })]);
    const files = listFiles(a.dir);
    expect(listFiles(b.dir)).toEqual(files);
    for (const f of files) expect(bytes(join(b.dir, f)).equals(bytes(join(a.dir, f))), f).toBe(true);
    const same = files.filter((f) => bytes(join(c.dir, f)).equals(bytes(join(a.dir, f))));
    expect(same).toEqual(['hf/config.json', 'tokenizer.json', 'tokenizer_config.json']);
  });
});

describe('writeDemoBundle output folder rules', () => {
  it('writes into an existing empty folder', async () => {
    const dir = join(root, 'empty');
    mkdirSync(dir);
    await writeDemoBundle(dir, SMALL);
    expect(listFiles(dir)).toContain('demo.json');
  });

  it('refuses a non-empty folder that is not a demo bundle, leaving it untouched and the call repeatable', async () => {
    const dir = join(root, 'occupied');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    for (const force of [false, true]) {
      const attempt = writeDemoBundle(dir, { ...SMALL, force });
      await expect(attempt).rejects.toThrow(DemoBundleError);
      await expect(writeDemoBundle(dir, { ...SMALL, force })).rejects.toThrow(
        `output folder "${dir}" is not empty and is not a demo bundle (no valid demo.json); refusing to overwrite it`,
      );
    }
    writeFileSync(join(dir, 'demo.json'), '{"format":"something-else"}');
    await expect(writeDemoBundle(dir, { ...SMALL, force: true })).rejects.toThrow(DemoBundleError);
    expect(listFiles(dir)).toEqual(['demo.json', 'notes.txt']);
    expect(readdirSync(root).filter((e) => e.startsWith('occupied.'))).toEqual([]);
  });

  it('refuses a path that is a file', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(writeDemoBundle(file, SMALL)).rejects.toThrow(DemoBundleError);
    await expect(writeDemoBundle(file, SMALL)).rejects.toThrow(`output "${file}" exists and is not a folder`);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('replaces an existing demo bundle only with force', async () => {
    const first = await write();
    const before = snapshot(first.dir);
    await expect(writeDemoBundle(first.dir, { ...SMALL, seed: 9 })).rejects.toThrow(DemoBundleError);
    await expect(writeDemoBundle(first.dir, { ...SMALL, seed: 9 })).rejects.toThrow(
      `output folder "${first.dir}" already holds a demo bundle; pass force (--force) to overwrite it`,
    );
    expect(snapshot(first.dir)).toEqual(before);
    const second = await writeDemoBundle(first.dir, { ...SMALL, seed: 9, force: true });
    expect(second.options.seed).toBe(9);
    expect(JSON.parse(readFileSync(join(first.dir, 'demo.json'), 'utf8')).options.seed).toBe(9);
    expect(readdirSync(root).filter((e) => e.includes('.tmp-') || e.includes('.old-'))).toEqual([]);
  });

  it('rejects bad options before touching the disk', async () => {
    const dir = join(root, 'never');
    await expect(writeDemoBundle(dir, { ...SMALL, hidden: 7 })).rejects.toThrow(DemoOptionError);
    await expect(writeDemoBundle(dir, { ...SMALL, hidden: 7 })).rejects.toThrow('demo option hidden 7: not a multiple of heads 2');
    await expect(writeDemoBundle(dir, { ...SMALL, force: true, onProgress: () => {}, extra: 1 } as never)).rejects.toThrow(
      /^demo option extra 1: unknown option/,
    );
    expect(existsSync(dir)).toBe(false);
  });
});

describe('writeDemoBundle atomicity', () => {
  it('builds in a staging folder: the target only ever appears complete', async () => {
    const dir = join(root, 'watched');
    const seen = { staging: false, partial: false, complete: false };
    let done = false;
    const poll = (async () => {
      while (!done) {
        if (readdirSync(root).some((e) => e.startsWith(`watched.tmp-${process.pid}-`))) seen.staging = true;
        if (existsSync(dir)) {
          if (existsSync(join(dir, 'demo.json'))) seen.complete = true;
          else seen.partial = true;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await writeDemoBundle(dir, SMALL).finally(() => (done = true));
    await poll;
    expect(seen).toEqual({ staging: true, partial: false, complete: true });
  });

  it('leaves no bundle and no staging folder when the build fails midway', async () => {
    const dir = join(root, 'failing');
    const failAt = (step: RegExp) => (message: string) => {
      if (step.test(message)) throw new Error(`interrupted at: ${message}`);
    };
    await expect(writeDemoBundle(dir, { ...SMALL, onProgress: failAt(/hf/) })).rejects.toThrow('interrupted at: writing the Hugging Face checkpoint hf/');
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(root).filter((e) => e.startsWith('failing'))).toEqual([]);
  });

  it('removes staging folders that killed builds of the same target left, and nothing else', async () => {
    const parent = join(root, 'leftovers');
    mkdirSync(parent);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const entries = [`demo.tmp-${dead}-deadbeef`, `demo.old-${dead}-0badf00d`, `demo.tmp-${process.pid}-cafebabe`, `other.tmp-${dead}-deadbeef`];
    for (const entry of entries) mkdirSync(join(parent, entry));
    await writeDemoBundle(join(parent, 'demo'), SMALL);
    expect(readdirSync(parent).sort()).toEqual(['demo', `demo.tmp-${process.pid}-cafebabe`, `other.tmp-${dead}-deadbeef`]);
  });

  it('keeps the old bundle intact when a forced rebuild fails', async () => {
    const old = await write();
    const before = snapshot(old.dir);
    const onProgress = (message: string) => {
      if (message.includes('part_2')) throw new Error('disk full');
    };
    await expect(writeDemoBundle(old.dir, { ...SMALL, seed: 1, force: true, onProgress })).rejects.toThrow('disk full');
    expect(snapshot(old.dir)).toEqual(before);
    expect(readdirSync(root).filter((e) => e.includes('.tmp-') || e.includes('.old-'))).toEqual([]);
  });
});
