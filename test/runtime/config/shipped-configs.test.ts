import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configCommand } from '../../../src/cli/commands/config.js';
import type { CliIO } from '../../../src/cli/io.js';
import { assertLoadable, deriveDialog, loadConfigFile } from '../../../src/runtime/config/index.js';

const configs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs');
const FASTVLM = join(configs, 'fastvlm-0.5b', 'genie_config.json');
const FASTVLM_GENERATOR = join(configs, 'fastvlm-0.5b', 'text-generator.json');
const FASTVLM_IMAGE_ENCODER = join(configs, 'fastvlm-0.5b', 'image-encoder.json');
const FASTVLM_TEXT_ENCODER = join(configs, 'fastvlm-0.5b', 'text-encoder.json');
const QWEN = join(configs, 'qwen2.5-0.5b', 'genie_config.json');

/*
 * Qwen2-0.5B / Qwen2.5-0.5B facts from their Hugging Face config.json and tokenizer (Qwen/Qwen2-0.5B,
 * Qwen/Qwen2.5-0.5B): hidden_size 896 over 14 attention heads, so head_dim 64; rope_theta 1e6;
 * <|endoftext|> is 151643 and <|im_end|> 151645.
 */
const HEAD_DIM = 896 / 14;
const QWEN_IM_END = 151645;
const QWEN_ENDOFTEXT = 151643;

async function check(path: string): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const io: CliIO = { stdout: (text) => void (stdout += text), stderr: () => {}, isTTY: false };
  return { code: await configCommand(['check', path], io), stdout };
}

/** ctx-bin names end in `_{i}_of_{N}.bin` with i = 1..N in order. */
function expectSplitNames(ctxBins: string[], prefix: string): void {
  ctxBins.forEach((path, i) => expect(basename(path)).toBe(`${prefix}_${i + 1}_of_${ctxBins.length}.bin`));
}

describe.each([FASTVLM_IMAGE_ENCODER, FASTVLM_TEXT_ENCODER])('%s', (path) => {
  it('passes config check, runnable as a pipeline node', async () => {
    const result = await check(path);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('ok\n')).toBe(true);
    expect(result.stdout).not.toContain('warning');
    assertLoadable((await loadConfigFile(path)).config);
  });
});

describe.each([FASTVLM, FASTVLM_GENERATOR, QWEN])('%s', (path) => {
  it('passes config check and is loadable by the runtime', async () => {
    const result = await check(path);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('ok\n')).toBe(true);
    assertLoadable((await loadConfigFile(path)).config);
  });

  it('is plain JSON without comments', () => {
    const text = readFileSync(path, 'utf8');
    expect(() => JSON.parse(text)).not.toThrow();
    expect(text).not.toContain('#');
  });

  it('carries Qwen2\'s ids and geometry, with a complete QnnHtp object', async () => {
    const { config } = await loadConfigFile(path);
    const derived = deriveDialog(config, { clock: () => 0 });
    expect(derived.nVocab).toBe(151936);
    expect(derived.contextSize).toBe(4096);
    expect(derived.bosToken).toBeNull();
    expect(new Set(derived.eosTokens)).toEqual(new Set([QWEN_IM_END, QWEN_ENDOFTEXT]));
    expect(derived.kvDim).toBe(HEAD_DIM);
    expect(derived.positionalEncoding.ropeDim).toBe(HEAD_DIM / 2);
    expect(derived.positionalEncoding.theta).toBe(1_000_000);
    expect(derived.htp).toMatchObject({ spillFillBufsize: 0, mmapBudget: 0, useMmap: true, cpuMask: 0xe0, allowAsyncInit: false });
    expect(derived.nThreads).toBe(3);
  });
});

describe('FastVLM-0.5B text generator', () => {
  it('is the dialog config under the text-generator key, plus accumulator-size', async () => {
    const dialog = JSON.parse(readFileSync(FASTVLM, 'utf8')).dialog;
    const { 'accumulator-size': size, ...generator } = JSON.parse(readFileSync(FASTVLM_GENERATOR, 'utf8'))['text-generator'];
    expect(generator).toEqual(dialog);
    expect(size).toBeGreaterThan(0);
  });

  it('takes embeddings through an 896-wide LUT and uses positional-encoding', async () => {
    const { config } = await loadConfigFile(FASTVLM_GENERATOR);
    expect(config.root).toBe('text-generator');
    const derived = deriveDialog(config, { clock: () => 0 });
    expect(derived.embedding).toMatchObject({ size: 896, type: 'lut', datatype: 'float32' });
    expect(derived.embedding?.lutPath).toBe(join(configs, 'fastvlm-0.5b', 'embedding_weights.raw'));
    expect(derived.positionalEncoding.source).toBe('positional-encoding');
    expectSplitNames(derived.ctxBins, 'fastvlm_0_5b_part');
    if (config.root !== 'text-generator') throw new Error('unreachable');
    const float32Bytes = 4;
    expect(config['text-generator']['accumulator-size']).toBe(derived.contextSize * 896 * float32Bytes);
  });
});

describe('Qwen2.5-0.5B in AI Hub style', () => {
  it('has create_genie_config\'s values', async () => {
    const { config } = await loadConfigFile(QWEN);
    if (config.root !== 'dialog' || Array.isArray(config.dialog.engine)) throw new Error('expected a single-engine dialog');
    const engine = config.dialog.engine;
    expect(engine['n-threads']).toBe(3);
    expect(engine.backend.QnnHtp).toEqual({
      version: 1, 'use-mmap': true, 'spill-fill-bufsize': 0, 'mmap-budget': 0, poll: true, 'cpu-mask': '0xe0',
      'kv-dim': HEAD_DIM, 'pos-id-dim': HEAD_DIM / 2, 'rope-theta': 1_000_000, 'allow-async-init': false,
    });
    expectSplitNames(engine.model.binary?.['ctx-bins'] ?? [], 'qwen2_5_0_5b_instruct_part');
  });
});
