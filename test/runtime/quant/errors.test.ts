/**
 * Bad input around quantized bundles: each gets a typed error naming what is wrong, thrown before
 * anything changes, and whatever was involved stays usable.
 */
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openReferenceBackend, writeReferenceCtxBin, type ReferenceCtxBinPart } from '../../../src/backends/reference/index.js';
import { InvalidArgumentError, NotSupportedError } from '../../../src/errors.js';
import { ModelLayoutError } from '../../../src/graphs/errors.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { demoCheckpoint, resolveDemoOptions, writeDemoBundle, type DemoBundle } from '../../../src/demo/index.js';
import { demoParts } from '../../../src/demo/parts.js';
import { checkEmbeddingBytes, EmbeddingTable, EmbeddingTableError } from '../../../src/runtime/embeddings/index.js';
import { Engine, openEngine } from '../../../src/runtime/engine/index.js';
import { derivedConfig, specsByName, tempDir, TINY } from './fixtures.js';

const root = tempDir('quant-errors');
const VOCAB = 151936;
let bundle: DemoBundle;

beforeAll(async () => {
  bundle = await writeDemoBundle(join(root, 'htp-embeds'), { ...TINY, quant: 'htp', input: 'embeds', splits: 2 });
});

const lutPath = (): string => join(bundle.dir, 'embedding_lut.bin');
const configJson = (): any => JSON.parse(readFileSync(bundle.configPath, 'utf8'));

/** The bundle still runs a query to the end. */
async function expectUsable(): Promise<void> {
  await using dialog = await Dialog.create(bundle.configPath);
  const generator = dialog.tokenQuery([1, 2, 3], { maxTokens: 2 });
  let next = await generator.next();
  while (!next.done) next = await generator.next();
  expect(next.value.generatedTokens.length + (next.value.stopReason === 'eos' ? 1 : 0)).toBeGreaterThan(0);
}

describe('the embedding LUT', () => {
  it('must hold n-vocab x size x bytes: a short uint16 LUT fails with EmbeddingTableError', async () => {
    const backup = join(root, 'lut.bak');
    copyFileSync(lutPath(), backup);
    truncateSync(lutPath(), VOCAB * 8 * 2 - 2);
    try {
      const expected = `embedding LUT "${lutPath()}" has ${VOCAB * 16 - 2} bytes, expected n-vocab x size x bytes = ${VOCAB} x 8 x 2 = ${VOCAB * 16}`;
      await expect(Dialog.create(bundle.configPath)).rejects.toThrow(EmbeddingTableError);
      await expect(Dialog.create(bundle.configPath)).rejects.toThrow(expected);
      await expect(openEngine(await derivedConfig(bundle))).rejects.toThrow(expected);
    } finally {
      copyFileSync(backup, lutPath());
    }
    await expectUsable();
  });

  it('of a fixed-point datatype needs its quant-param: Genie would take scale 1, offset 0, genie-ts refuses the config at load, and a direct load', async () => {
    const config = configJson();
    delete config.dialog.embedding['quant-param'];
    const create = () => Dialog.create(config, { baseDir: bundle.dir });
    await expect(create()).rejects.toThrow(NotSupportedError);
    await expect(create()).rejects.toThrow(
      'cannot run: dialog.embedding.quant-param: mandatory key is missing (genie-ts needs it to read "ufixed16" values; Genie would take scale 1, offset 0)',
    );
    const load = () => EmbeddingTable.load({ path: lutPath(), nVocab: VOCAB, size: 8, dtype: 'UFIXED_POINT_16' });
    expect(load).toThrow(EmbeddingTableError);
    expect(load).toThrow(`embedding LUT "${lutPath()}" is UFIXED_POINT_16 but the config gives no quant-param`);
    expect(() => EmbeddingTable.fromRows({ nVocab: 2, size: 2, dtype: 'UFIXED_POINT_8' }, new Uint8Array(4))).toThrow(
      'embedding table is UFIXED_POINT_8 but the config gives no quant-param',
    );
    await expectUsable();
  });

  it('must match the embedding input: a different row width or too few rows fail at creation, and the backend then serves an Engine', async () => {
    const config = await derivedConfig(bundle);
    const backend = await openReferenceBackend(config.ctxBins);
    const options = { contextSize: 16, padToken: 0, eosToken: 0, rope: config.positionalEncoding };
    const table = (nVocab: number, size: number) =>
      EmbeddingTable.fromRows({ nVocab, size, dtype: 'UFIXED_POINT_16', encoding: { scale: 1e-3, offset: -100 } }, new Uint16Array(nVocab * size));
    expect(() => Engine.create(backend, { ...options, embeddings: table(VOCAB, 16) })).toThrow(InvalidArgumentError);
    expect(() => Engine.create(backend, { ...options, embeddings: table(VOCAB, 16) })).toThrow(
      'the embedding LUT\'s size 16 does not match the 8 elements per row of "input_embeds"',
    );
    expect(() => Engine.create(backend, { ...options, embeddings: table(1000, 8) })).toThrow(
      'the embedding LUT has 1000 rows, fewer than the model\'s vocabulary 151936',
    );
    const engine = Engine.create(backend, { ...options, embeddings: table(VOCAB, 8) });
    expect((await engine.prefill([5, 6]))?.vocab).toBe(VOCAB);
    await engine.dispose();
  });

  it('writes no row when one token is out of range', () => {
    const lut = EmbeddingTable.fromRows({ nVocab: 3, size: 2, dtype: 'FLOAT_32' }, new Float32Array([1, 2, 3, 4, 5, 6]));
    const data = new Uint16Array(6).fill(7);
    const target = { data, dtype: 'UFIXED_POINT_16' as const, encoding: { scale: 0.5, offset: 0 } };
    expect(() => lut.writeRows([0, 3], 0, 2, 3, 1, target)).toThrow(InvalidArgumentError);
    expect(() => lut.writeRows([0, 3], 0, 2, 3, 1, target)).toThrow("token 3 is outside the embedding LUT's 3 rows");
    expect(Array.from(data)).toEqual([7, 7, 7, 7, 7, 7]);
    lut.writeRows([0, 2], 0, 2, 3, 1, target);
    expect(Array.from(data)).toEqual([2, 4, 10, 12, 6, 8]);
  });

  it('rejects a target dtype it cannot convert into', () => {
    const lut = EmbeddingTable.fromRows({ nVocab: 1, size: 2, dtype: 'FLOAT_32' }, new Float32Array(2));
    expect(() => lut.checkTarget({ dtype: 'INT_32' })).toThrow(InvalidArgumentError);
    expect(() => lut.checkTarget({ dtype: 'INT_32' })).toThrow('embedding input dtype INT_32 is not supported (FLOAT_32, FLOAT_16 or fixed point)');
    expect(() => lut.checkTarget({ dtype: 'UFIXED_POINT_8' })).toThrow('embedding input dtype UFIXED_POINT_8 needs an encoding to requantize the LUT into');
    expect(() => lut.checkTarget({ dtype: 'UFIXED_POINT_8', encoding: { scale: -1, offset: 0 } })).toThrow('target.encoding.scale must be a finite number > 0, got -1');
    for (const dtype of ['FLOAT_32', 'FLOAT_16'] as const) lut.checkTarget({ dtype });
    lut.checkTarget({ dtype: 'SFIXED_POINT_16', encoding: { scale: 0.1, offset: 0 } });
  });
});

describe('checkEmbeddingBytes', () => {
  it('counts whole rows of float32 or of the input dtype', () => {
    expect(checkEmbeddingBytes(3 * 8 * 4, 8, 'FLOAT_32')).toBe(3);
    expect(checkEmbeddingBytes(5 * 8 * 2, 8, 'UFIXED_POINT_16', 'prompt.raw')).toBe(5);
  });

  const bad: Array<[string, () => number, string]> = [
    ['a partial row', () => checkEmbeddingBytes(8 * 4 + 4, 8, 'FLOAT_32', 'embeds.bin'), 'embeds.bin has 36 bytes, not a positive multiple of one row (8 x 4 bytes of FLOAT_32 = 32 bytes)'],
    ['no rows', () => checkEmbeddingBytes(0, 8, 'UFIXED_POINT_16'), 'embedding data has 0 bytes, not a positive multiple of one row (8 x 2 bytes of UFIXED_POINT_16 = 16 bytes)'],
    ['a bad row width', () => checkEmbeddingBytes(16, 0, 'FLOAT_32'), 'rowElements must be a positive integer, got 0'],
    ['a bad byte count', () => checkEmbeddingBytes(-4, 1, 'FLOAT_32'), 'byteLength must be a non-negative integer, got -4'],
  ];
  for (const [what, call, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    });
  }
});

describe('quant params of same-named tensors must agree across graphs', () => {
  /** The bundle's parts with its own IO types, `edit`ed, written to `name`/; returns the config path. */
  async function editedBundle(name: string, edit: (parts: ReferenceCtxBinPart[]) => void): Promise<string> {
    const options = resolveDemoOptions({ ...TINY, quant: 'htp', input: 'embeds', splits: 2 });
    const backend = await openReferenceBackend((await derivedConfig(bundle)).ctxBins);
    const types = Object.fromEntries([...specsByName(backend.graphs)].map(([n, t]) => [n, { dtype: t.dtype, encoding: t.encoding }]));
    await backend.dispose();
    const parts = demoParts(options, demoCheckpoint(options), types).map((p) => ({ metadata: structuredClone(p.metadata), tensors: p.tensors }));
    edit(parts);
    const dir = join(root, name);
    const config = configJson();
    const files: string[] = config.dialog.engine.model.binary['ctx-bins'];
    mkdirSync(dir, { recursive: true });
    for (const [i, part] of parts.entries()) await writeReferenceCtxBin(join(dir, files[i]), part);
    for (const f of ['tokenizer.json', 'embedding_lut.bin']) copyFileSync(join(bundle.dir, f), join(dir, f));
    writeFileSync(join(dir, 'genie_config.json'), JSON.stringify(config));
    return join(dir, 'genie_config.json');
  }

  it('rejects AR variants whose attention_mask encodings differ, naming both graphs and encodings', async () => {
    const path = await editedBundle('mask-mismatch', (parts) => {
      const token = parts[0].metadata.graphs.find((g) => g.name.startsWith('token_'))!;
      const mask = token.inputs.find((t) => t.name === 'attention_mask')! as { encoding: { scale: number; offset: number } };
      mask.encoding = { scale: mask.encoding.scale * 2, offset: mask.encoding.offset };
    });
    await expect(Dialog.create(path)).rejects.toThrow(ModelLayoutError);
    const scale = Math.fround(50 / 65535);
    await expect(Dialog.create(path)).rejects.toThrow(
      `tensor "attention_mask" of graph "token_ar1_cl16_1_of_2" (UFIXED_POINT_16, scale=${scale * 2} offset=-65535) and ` +
        `tensor "attention_mask" of graph "prompt_ar4_cl16_1_of_2" (UFIXED_POINT_16, scale=${scale} offset=-65535) must have ` +
        'the same dtype and quantization: same-named tensors share one buffer',
    );
    await expectUsable();
  });

  it('rejects a KV _in/_out pair with different encodings', async () => {
    const path = await editedBundle('kv-mismatch', (parts) => {
      for (const graph of parts[1].metadata.graphs) {
        const keyIn = graph.inputs.find((t) => t.name === 'past_key_1_in')! as { encoding: { scale: number; offset: number } };
        keyIn.encoding = { scale: keyIn.encoding.scale, offset: -127 };
      }
    });
    await expect(Dialog.create(path)).rejects.toThrow(ModelLayoutError);
    await expect(Dialog.create(path)).rejects.toThrow(/tensor "past_key_1_(in|out)" of graph .* offset=-12[78]\) and tensor "past_key_1_(in|out)" of graph .* a KV _in\/_out pair shares one region/);
    await expectUsable();
  });
});
