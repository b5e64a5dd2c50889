/**
 * The first pass of a landscape image cut into two sharp pipelines that run at once (resize.ts,
 * `RowSplit`): the oracle is the same pass in one pipeline, which the cut must reproduce bit for
 * bit, whatever the cut row, through EXIF orientation, alpha and 16-bit input; and a damaged image
 * fails the same way.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_PIXELS, openImage } from '../../src/vision/decode.js';
import { planGeometry } from '../../src/vision/geometry.js';
import { ImageError } from '../../src/vision/index.js';
import { padColour, resolveProcessor } from '../../src/vision/processor.js';
import { defaultRowSplit, resizeImage, resizerFor, rowCut } from '../../src/vision/resize.js';
import { resolveTarget } from '../../src/vision/target.js';
import { noise, png16 } from './images.js';

const SIDE = 80;
const target = resolveTarget({ shape: [1, 3, SIDE, SIDE], dtype: 'FLOAT_32' });
const processor = resolveProcessor({ imageMean: [0.3, 0.55, 0.8] }, target);

async function resized(bytes: Uint8Array, topShare?: number): Promise<Uint8Array> {
  const image = await openImage(bytes, DEFAULT_MAX_PIXELS);
  const plan = planGeometry(image.extent, processor, target);
  expect(resizerFor(plan, processor.resample)).toBe('sharp');
  expect(plan.pad !== undefined && plan.pad.top > 0).toBe(true);
  const split = topShare === undefined ? undefined : { minRows: 1, topShare };
  return (await resizeImage(image, plan, processor.resample, padColour(processor), split)).pixels;
}

function raw(data: Uint8Array, width: number, height: number, channels: 3 | 4) {
  return sharp(data, { raw: { width, height, channels } });
}

describe('the first pass cut into two pipelines', () => {
  it('gives the pixels of one pipeline bit for bit: PNG, JPEG, EXIF orientation 6, alpha, 16-bit', async () => {
    const image = noise(240, 120, 31);
    const rgba = new Uint8Array(240 * 120 * 4);
    for (let i = 0; i < 240 * 120; i++) {
      rgba.set(image.data.subarray(3 * i, 3 * i + 3), 4 * i);
      rgba[4 * i + 3] = (i * 37) & 255;
    }
    // Stored 120x240 (portrait) with orientation 6: displayed 240x120, so padded with rows.
    const stored = noise(120, 240, 32);
    const samples = Array.from({ length: 240 * 120 * 3 }, (_, i) => ((i * 7919) % 65536) | 0);
    const cases: Array<[string, Uint8Array]> = [
      ['PNG', await raw(image.data, 240, 120, 3).png().toBuffer()],
      ['JPEG', await raw(image.data, 240, 120, 3).jpeg({ quality: 90 }).toBuffer()],
      ['JPEG, EXIF orientation 6', await raw(stored.data, 120, 240, 3).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer()],
      ['PNG with alpha', await raw(rgba, 240, 120, 4).png().toBuffer()],
      ['16-bit PNG', png16(240, 120, 3, samples)],
    ];
    for (const [name, bytes] of cases) {
      const whole = await resized(bytes);
      for (const topShare of [0.01, 0.3, 0.65, 0.99]) {
        const parts = await resized(bytes, topShare);
        expect(Buffer.compare(Buffer.from(parts), Buffer.from(whole)), `${name}, top share ${topShare}`).toBe(0);
      }
    }
  });

  it('a truncated JPEG fails with the error one pipeline gives', async () => {
    const jpeg = await raw(noise(240, 120, 33).data, 240, 120, 3).jpeg().toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.8));
    const failure = async (topShare?: number) => resized(truncated, topShare).then(() => undefined, (error: unknown) => error);
    const whole = await failure();
    expect(whole).toBeInstanceOf(ImageError);
    for (const topShare of [0.3, 0.65]) {
      const error = await failure(topShare);
      expect(error).toBeInstanceOf(ImageError);
      expect((error as ImageError).code).toBe((whole as ImageError).code);
      expect((error as ImageError).message).toBe((whole as ImageError).message);
    }
  });

  it('cuts inside the image only, from minRows rows, and not on one core', () => {
    const split = { minRows: 100, topShare: 0.65 };
    expect(rowCut(99, split)).toBeUndefined();
    expect(rowCut(100, split)).toBe(65);
    expect(rowCut(3024, split)).toBe(1966);
    expect(rowCut(2, { minRows: 1, topShare: 0.01 })).toBeUndefined();
    expect(rowCut(2, { minRows: 1, topShare: 0.99 })).toBeUndefined();
    expect(rowCut(3024, undefined)).toBeUndefined();
    expect(defaultRowSplit(1)).toBeUndefined();
    expect(defaultRowSplit(2)).toBeDefined();
  });
});
