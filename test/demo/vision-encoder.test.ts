import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHfVision } from '../../src/backends/reference/index.js';
import { DemoOptionError } from '../../src/demo/errors.js';
import {
  calibrationImages, DEFAULT_DEMO_VISION_OPTIONS, resolveDemoVisionOptions, writeDemoVisionEncoder, type DemoVisionEncoder,
} from '../../src/demo/vision-encoder.js';
import { ImageEncoder } from '../../src/runtime/vision/image-encoder.js';
import { createSimulatedQnn } from '../../src/simulator/index.js';
import { float32ToFloat16 } from '../../src/tensor/fp16.js';
import { dequantize, quantize } from '../../src/tensor/quant.js';
import { tempDir } from '../backends/reference/fixtures.js';
import { maxAbsDiffRows, projectorForward, towerForward } from '../backends/reference/vision-oracle.js';

const root = tempDir('demo-vision');
const image = calibrationImages({ ...DEFAULT_DEMO_VISION_OPTIONS, seed: 7 })[6];

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (sub: string): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else out.set(rel, readFileSync(join(dir, rel)));
    }
  };
  walk('');
  return out;
}

async function encodeFloat(written: DemoVisionEncoder, pixels: Float32Array, qnn = false): Promise<{ bytes: Uint8Array; encoder: ImageEncoder }> {
  const simulated = qnn ? createSimulatedQnn() : undefined;
  const encoder = await ImageEncoder.open(written.configPath, simulated === undefined ? {} : { backend: { qnn: { provider: 'simulated', simulated } } });
  const spec = encoder.pixelValues;
  const input =
    spec.dtype === 'FLOAT_32'
      ? new Uint8Array(pixels.buffer.slice(0))
      : new Uint8Array(
          (spec.dtype === 'FLOAT_16' ? Uint16Array.from(pixels, float32ToFloat16) : Uint16Array.from(pixels, (v) => quantize(v, spec.encoding!, spec.dtype))).buffer,
        );
  const { bytes } = await encoder.encode(new Map([['pixel_values', input]]));
  await encoder.dispose();
  if (simulated !== undefined) {
    expect(simulated.liveHandles()).toBe(0);
    simulated.dispose();
  }
  return { bytes, encoder };
}

describe('writeDemoVisionEncoder', () => {
  let fused: DemoVisionEncoder;
  beforeAll(async () => {
    fused = await writeDemoVisionEncoder(join(root, 'fused'));
  });

  it('writes Genie\'s image-encoder config, the ctx-bin and the HF checkpoint', () => {
    expect(fused.files).toEqual(['hf/config.json', 'hf/model.safetensors', 'image-encoder.json', 'vision_encoder.safetensors']);
    expect([...filesOf(fused.dir).keys()].sort()).toEqual(fused.files);
    expect([fused.rows, fused.width]).toEqual([16, 64]);
    expect(JSON.parse(readFileSync(fused.configPath, 'utf8'))).toEqual({
      'image-encoder': {
        version: 1,
        engine: {
          version: 1,
          mode: 'image',
          backend: { version: 1, type: 'Reference' },
          model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': ['vision_encoder.safetensors'] } },
        },
      },
    });
  });

  it('its rows are the float64 forward of the HF checkpoint it wrote (within 1e-4)', async () => {
    const checkpoint = await loadHfVision(join(fused.dir, 'hf'));
    expect(checkpoint.model.tower).toMatchObject({ imageSize: [64, 64], patchSize: 16, hidden: 64, heads: 4, layers: 2, intermediate: 256 });
    expect(checkpoint.model.projector).toEqual({ type: 'mlp2x_gelu', inputSize: 64, hidden: 64 });
    const expected = projectorForward(checkpoint, towerForward(checkpoint, image));
    const { bytes } = await encodeFloat(fused, image);
    expect(maxAbsDiffRows(expected, new Float32Array(bytes.buffer))).toBeLessThan(1e-4);
    // The rows have the spread of the demo decoder's token embeddings (0.8 / sqrt(hidden) = 0.1).
    const rows = new Float32Array(bytes.buffer);
    const rms = Math.sqrt(rows.reduce((s, v) => s + v * v, 0) / rows.length);
    expect(rms).toBeGreaterThan(0.03);
    expect(rms).toBeLessThan(0.3);
  });

  it('is deterministic from the seed', async () => {
    const again = await writeDemoVisionEncoder(join(root, 'fused-again'));
    const a = filesOf(fused.dir);
    const b = filesOf(again.dir);
    for (const [file, bytes] of a) expect(b.get(file)!.equals(bytes), file).toBe(true);
    const other = await writeDemoVisionEncoder(join(root, 'other-seed'), { seed: 43 });
    expect(filesOf(other.dir).get('hf/model.safetensors')!.equals(a.get('hf/model.safetensors')!)).toBe(false);
  });

  it('separate: an encoder and a projector ctx-bin giving the fused rows; the HF checkpoint is the same', async () => {
    const separate = await writeDemoVisionEncoder(join(root, 'separate'), { split: 'separate' });
    expect(separate.ctxBins).toEqual(['vision_encoder.safetensors', 'vision_projector.safetensors']);
    expect(filesOf(separate.dir).get('hf/model.safetensors')!.equals(filesOf(fused.dir).get('hf/model.safetensors')!)).toBe(true);
    expect((await encodeFloat(separate, image)).bytes).toEqual((await encodeFloat(fused, image)).bytes);
  });

  for (const split of ['fused', 'separate'] as const) {
    it(`quant htp (${split}): uint16 pixels over [0, 1] and uint16 rows covering the calibration images; QnnHtp equals Reference`, async () => {
      const htp = await writeDemoVisionEncoder(join(root, `htp-${split}`), { quant: 'htp', split, backend: 'qnn-htp' });
      const config = JSON.parse(readFileSync(htp.configPath, 'utf8'));
      expect(config['image-encoder'].engine.backend).toEqual({
        version: 1, type: 'QnnHtp', QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'allow-async-init': false },
      });
      const onQnn = await encodeFloat(htp, image, true);
      const { pixelValues, output, layout } = onQnn.encoder;
      expect(pixelValues).toEqual({ name: 'pixel_values', dtype: 'UFIXED_POINT_16', shape: [1, 3, 64, 64], encoding: { scale: Math.fround(1 / 65535), offset: 0 } });
      expect(output.dtype).toBe('UFIXED_POINT_16');
      if (split === 'separate') expect(layout.encoderOutput.dtype).toBe('UFIXED_POINT_16');
      // The same ctx-bins through a config that names Reference.
      const reference = { ...htp, configPath: join(htp.dir, 'reference.json') };
      config['image-encoder'].engine.backend = { version: 1, type: 'Reference' };
      writeFileSync(reference.configPath, JSON.stringify(config));
      const onReference = await encodeFloat(reference, image);
      expect(Buffer.from(onQnn.bytes).equals(Buffer.from(onReference.bytes))).toBe(true);
      // Within a few codes of the float rows of the HF checkpoint on the quantized pixels.
      const checkpoint = await loadHfVision(join(htp.dir, 'hf'));
      const pixels = Array.from(image, (v) => dequantize(quantize(v, pixelValues.encoding!, 'UFIXED_POINT_16'), pixelValues.encoding!));
      const expected = projectorForward(checkpoint, towerForward(checkpoint, pixels));
      const values = Array.from(new Uint16Array(onQnn.bytes.buffer), (q) => dequantize(q, output.encoding!));
      expect(maxAbsDiffRows(expected, values)).toBeLessThan(4 * output.encoding!.scale + 1e-4);
      // No row value sits at a clipping end: the calibrated range covers this image.
      const codes = new Uint16Array(onQnn.bytes.buffer);
      expect(Math.min(...codes)).toBeGreaterThan(0);
      expect(Math.max(...codes)).toBeLessThan(65535);
    });
  }

  it('quant fp16: float16 IO', async () => {
    const fp16 = await writeDemoVisionEncoder(join(root, 'fp16'), { quant: 'fp16' });
    const { encoder } = await encodeFloat(fp16, image);
    expect(encoder.pixelValues.dtype).toBe('FLOAT_16');
    expect(encoder.output.dtype).toBe('FLOAT_16');
  });
});

describe('resolveDemoVisionOptions', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ patch: 12 }, 'demo option patch 12: does not divide imageSize 64'],
    [{ visionWidth: 30 }, 'demo option visionWidth 30: not a multiple of heads 4'],
    [{ imageSize: 0 }, 'demo option imageSize 0: expected an integer in [1, 2048]'],
    [{ split: 'twice' }, 'demo option split "twice": expected "fused", "separate"'],
    [{ quant: 'int4' }, 'demo option quant "int4": expected "none", "htp", "fp16"'],
    [{ patchSize: 16 }, 'demo option patchSize 16: unknown option (options: hidden, imageSize, patch, visionWidth, layers, heads, seed, quant, split, backend)'],
    [{ imageSize: 2048, patch: 1 }, 'demo option patch 1: gives 4194304 rows for imageSize 2048, more than 4096'],
  ];
  for (const [options, message] of cases) {
    it(`rejects ${JSON.stringify(options)}`, () => {
      expect(() => resolveDemoVisionOptions(options)).toThrow(DemoOptionError);
      expect(() => resolveDemoVisionOptions(options)).toThrow(message);
    });
  }

  it('fills in the defaults', () => {
    expect(resolveDemoVisionOptions({ seed: 1 })).toEqual({ ...DEFAULT_DEMO_VISION_OPTIONS, seed: 1 });
  });
});

