/**
 * `genie-ts demo --quant htp|fp16`: the bundle's graphs present their IO as an AI Hub export does,
 * with the float bundle's weights; an embeds bundle carries a uint16 LUT with its own quant-param.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openReferenceBackend } from '../../src/backends/reference/index.js';
import { SafetensorsReader } from '../../src/formats/index.js';
import { demoCommand } from '../../src/cli/commands/demo.js';
import type { CliIO } from '../../src/cli/io.js';
import { demoCheckpoint, resolveDemoOptions, writeDemoBundle, type DemoBundle } from '../../src/demo/index.js';
import type { TensorSpec } from '../../src/graphs/spec.js';
import { derivedConfig, oracleDequantize, specsByName, tempDir, TINY } from '../runtime/quant/fixtures.js';
import { bytes, listFiles, sameBits } from './fixtures.js';

const root = tempDir('quant-demo');
let float: DemoBundle;
let htp: DemoBundle;
let htpEmbeds: DemoBundle;
let fp16: DemoBundle;

beforeAll(async () => {
  float = await writeDemoBundle(join(root, 'float'), TINY);
  htp = await writeDemoBundle(join(root, 'htp'), { ...TINY, quant: 'htp' });
  htpEmbeds = await writeDemoBundle(join(root, 'htp-embeds'), { ...TINY, quant: 'htp', input: 'embeds' });
  fp16 = await writeDemoBundle(join(root, 'fp16'), { ...TINY, quant: 'fp16' });
});

async function graphsOf(bundle: DemoBundle) {
  const backend = await openReferenceBackend((await derivedConfig(bundle)).ctxBins);
  const graphs = backend.graphs;
  await backend.dispose();
  return graphs;
}

/** Scales are float32, as QNN stores them. */
const MASK = { scale: Math.fround(50 / 65535), offset: -65535 };

describe('demo --quant htp', () => {
  it('gives KV uint8 (offset -128, _in = _out), mask/cos/sin/hidden/logits uint16, input_ids int32', async () => {
    const graphs = await graphsOf(htp);
    const specs = specsByName(graphs);
    expect(specs.get('input_ids')).toMatchObject({ dtype: 'INT_32' });
    expect(specs.get('input_ids')!.encoding).toBeUndefined();
    expect(specs.get('attention_mask')).toMatchObject({ dtype: 'UFIXED_POINT_16', encoding: MASK });
    for (const name of ['position_ids_cos', 'position_ids_sin']) {
      const e = specs.get(name)!.encoding!;
      expect(specs.get(name)!.dtype).toBe('UFIXED_POINT_16');
      expect(oracleDequantize(0, e)).toBeLessThanOrEqual(-1 + e.scale);
      expect(oracleDequantize(65535, e)).toBeGreaterThanOrEqual(1 - e.scale);
    }
    for (const l of [0, 1]) {
      for (const kind of ['key', 'value']) {
        const kvIn = specs.get(`past_${kind}_${l}_in`)!;
        expect(kvIn.dtype).toBe('UFIXED_POINT_8');
        expect(kvIn.encoding!.offset).toBe(-128);
        expect(specs.get(`past_${kind}_${l}_out`)).toMatchObject({ dtype: 'UFIXED_POINT_8', encoding: kvIn.encoding });
      }
    }
    for (const name of ['logits', '_model_embed_tokens_Gather_Gather_output_0']) expect(specs.get(name)!.dtype).toBe('UFIXED_POINT_16');
    // Every graph of a name agrees (one buffer per name).
    for (const g of graphs) {
      for (const t of [...g.inputs, ...g.outputs]) expect([t.dtype, t.encoding]).toEqual([specs.get(t.name)!.dtype, specs.get(t.name)!.encoding]);
    }
  });

  it('keeps the float bundle\'s weights: same hf/ checkpoint, same ctx-bin tensors', async () => {
    for (const file of ['hf/model.safetensors', 'hf/config.json', 'tokenizer.json']) {
      expect(bytes(join(htp.dir, file)).equals(bytes(join(float.dir, file))), file).toBe(true);
    }
    for (const file of listFiles(float.dir).filter((f) => f.startsWith('demo_part_'))) {
      const a = await SafetensorsReader.open(join(float.dir, file));
      const b = await SafetensorsReader.open(join(htp.dir, file));
      expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
      for (const name of a.tensors.keys()) expect(sameBits(await b.readFloat32(name), await a.readFloat32(name)), name).toBe(true);
      await a.close();
      await b.close();
    }
  });

  it('is reproducible: the same options write byte-identical files', async () => {
    const again = await writeDemoBundle(join(root, 'htp-again'), { ...TINY, quant: 'htp' });
    expect(listFiles(again.dir)).toEqual(listFiles(htp.dir));
    for (const file of listFiles(htp.dir)) expect(bytes(join(again.dir, file)).equals(bytes(join(htp.dir, file))), file).toBe(true);
    expect(listFiles(htp.dir)).not.toContain('.calibration');
  });

  it('records the quantization in the manifest and the README', () => {
    expect(JSON.parse(readFileSync(join(htp.dir, 'demo.json'), 'utf8')).options.quant).toBe('htp');
    expect(readFileSync(join(htp.dir, 'README.txt'), 'utf8')).toMatch(/KV cache uint8 .* uint16, with encodings calibrated on this model/);
    expect(readFileSync(join(float.dir, 'README.txt'), 'utf8')).toContain('Graph IO is float32.');
  });

  it('writes a uint16 LUT with its own quant-param, whose codes are the embedding table rounded to nearest', async () => {
    const config = JSON.parse(readFileSync(htpEmbeds.configPath, 'utf8'));
    const embedding = config.dialog.embedding;
    expect(embedding).toMatchObject({ type: 'lut', 'lut-path': 'embedding_lut.bin', size: TINY.hidden, datatype: 'ufixed16' });
    const e = embedding['quant-param'];
    expect(Number.isInteger(e.offset)).toBe(true);
    const input = specsByName(await graphsOf(htpEmbeds)).get('input_embeds') as TensorSpec;
    expect(input.dtype).toBe('UFIXED_POINT_16');
    expect(input.encoding).not.toEqual(e);
    const table = demoCheckpoint(resolveDemoOptions({ ...TINY, input: 'embeds' })).weights.get('model.embed_tokens.weight')!.data;
    const codes = new Uint16Array(new Uint8Array(bytes(join(htpEmbeds.dir, 'embedding_lut.bin'))).buffer);
    expect(codes.length).toBe(table.length);
    let worst = 0;
    let [lo, hi] = [65535, 0];
    for (let i = 0; i < table.length; i++) {
      worst = Math.max(worst, Math.abs(oracleDequantize(codes[i], e) - table[i]));
      lo = Math.min(lo, codes[i]);
      hi = Math.max(hi, codes[i]);
    }
    expect(worst).toBeLessThanOrEqual(e.scale / 2 + 1e-9);
    // The encoding spans the table: its extremes sit at the ends of the code range.
    expect(lo).toBe(0);
    expect(hi).toBeGreaterThanOrEqual(65534);
  });
});

describe('demo --quant fp16', () => {
  it('makes every float IO tensor FLOAT_16 and leaves input_ids INT_32', async () => {
    const specs = specsByName(await graphsOf(fp16));
    for (const [name, spec] of specs) {
      expect(spec.encoding, name).toBeUndefined();
      expect(spec.dtype, name).toBe(name === 'input_ids' ? 'INT_32' : 'FLOAT_16');
    }
    expect(bytes(join(fp16.dir, 'hf/model.safetensors')).equals(bytes(join(float.dir, 'hf/model.safetensors')))).toBe(true);
  });
});

describe('genie-ts demo --quant', () => {
  it('writes the same bundle as the library', async () => {
    const out = join(root, 'cli-htp');
    const flags = ['--layers', '2', '--hidden', '8', '--heads', '2', '--kv-heads', '1', '--ar', '1,4', '--cl', '16', '--seed', '7'];
    let stdout = '';
    const io: CliIO = { stdout: (text) => void (stdout += text), stderr: () => {}, isTTY: false };
    const code = await demoCommand(['--out', out, ...flags, '--quant', 'htp'], io);
    expect(code).toBe(0);
    expect(stdout).toContain('quant htp');
    for (const file of listFiles(htp.dir)) expect(bytes(join(out, file)).equals(bytes(join(htp.dir, file))), file).toBe(true);
  });
});
