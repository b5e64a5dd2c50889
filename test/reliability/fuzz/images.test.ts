/**
 * Fuzzing the image readers a VLM user hands untrusted bytes to: `preprocessImage` on mutated
 * PNG, JPEG, GIF, WebP and TIFF files and random bytes (decoded by sharp: every outcome must be a
 * tensor or an ImageError, with bounded time and memory, whatever the header declares),
 * `preprocessor_config.json` text, and raw pixel tensor files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import { beforeAll, describe } from 'vitest';
import { parseImageProcessorConfig, preprocessImage, readPixelTensorFile } from '../../../src/vision/index.js';
import { tempDir } from '../../backends/reference/fixtures.js';
import { fuzz } from './harness.js';
import { applyByteEdit, byteEdit, mutatedText, untrustedBytes } from './mutations.js';

const dir = tempDir('fuzz-images');
const TARGET = { shape: [1, 3, 32, 32], dtype: 'FLOAT_32' } as const;
const QUANTISED = { shape: [1, 24, 24, 3], dtype: 'UFIXED_POINT_16', encoding: { scale: 1 / 65535, offset: 0 } } as const;

/** Valid images of every format sharp writes here, small so that mutations reach their headers and bodies. */
const seeds: Uint8Array[] = [];
beforeAll(async () => {
  const raw = Buffer.alloc(20 * 14 * 4);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) & 255;
  const image = () => sharp(raw, { raw: { width: 20, height: 14, channels: 4 } });
  seeds.push(
    await image().png().toBuffer(),
    await image().jpeg({ quality: 70 }).toBuffer(),
    await image().gif().toBuffer(),
    await image().webp().toBuffer(),
    await image().tiff().toBuffer(),
    await image().greyscale().png().toBuffer(),
  );
});

describe('fuzz: image files (preprocessImage)', () => {
  // The seeds exist only once beforeAll ran: draw a seed index and edits, apply them in the run.
  const input = fc.oneof(
    { weight: 6, arbitrary: fc.record({ pick: fc.nat(), edits: fc.array(byteEdit, { minLength: 1, maxLength: 4 }), quantised: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ random: fc.uint8Array({ minLength: 1, maxLength: 512 }), quantised: fc.boolean() }) },
  );
  fuzz('mutated and random image bytes', input, async (run) => {
    const bytes = 'random' in run ? run.random : run.edits.reduce(applyByteEdit, seeds[run.pick % seeds.length]);
    await preprocessImage(bytes, { target: run.quantised ? QUANTISED : TARGET });
  }, { runs: 300, bytes: () => 4096 });
});

describe('fuzz: preprocessor_config.json', () => {
  const seedsText = [
    JSON.stringify({ crop_size: { height: 32, width: 32 }, size: { shortest_edge: 32 }, image_mean: [0, 0, 0], image_std: [1, 1, 1], resample: 3, do_center_crop: true }),
    JSON.stringify({ crop_size: 32, size: 32, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_rescale: true, rescale_factor: 0.00392156862745098 }),
    JSON.stringify({ image_processor_type: 'CLIPImageProcessor', processor_class: 'LlavaProcessor', do_resize: false }),
  ];
  fuzz('mutated processor configs', mutatedText(seedsText), (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return; // not JSON: the file reader reports it with line:column before parsing
    }
    parseImageProcessorConfig(value, 'fuzz');
  }, { runs: 300 });
});

describe('fuzz: raw pixel tensor files', () => {
  let n = 0;
  fuzz('random files as pixel_values', untrustedBytes([new Uint8Array(32 * 32 * 3 * 4)], 64), async (bytes) => {
    const path = join(dir, `pixels-${n++ % 4}.raw`);
    writeFileSync(path, bytes);
    await readPixelTensorFile(path, TARGET);
  }, { runs: 60 });
});
