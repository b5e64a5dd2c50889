/**
 * What the decoder hands the processor: every accepted format, EXIF orientation, alpha, greyscale,
 * CMYK and 16-bit input, each made here with known pixels. Targets are the image's own size with
 * padMode 'none' (no resize, no crop), so each output value is one input pixel through
 * rescale 1/255 (mean 0, std 1): `byteOf` reads it back as the 8-bit level.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { preprocessImage, type ImageTensor } from '../../src/vision/index.js';
import { byteOf, constant, png, png16 } from './images.js';

function sameSize(width: number, height: number) {
  return { target: { shape: [1, 3, height, width], dtype: 'FLOAT_32' as const }, processor: { padMode: 'none' as const } };
}

/** The 8-bit RGB of pixel (x, y) of an NCHW float32 tensor made with rescale 1/255. */
function rgbAt(tensor: ImageTensor, x: number, y: number): number[] {
  const [, , height, width] = tensor.shape;
  return [0, 1, 2].map((c) => byteOf(tensor.data[c * width * height + y * width + x]));
}

const raw = (data: ArrayLike<number>, width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  sharp(Buffer.from(data as number[]), { raw: { width, height, channels } });

describe('formats', () => {
  const image = constant(8, 6, [40, 160, 220]);
  const rgb = () => sharp(image.data, { raw: { width: 8, height: 6, channels: 3 } });
  const lossless: Array<[string, () => Promise<Buffer>]> = [
    ['png', () => png(image)],
    ['webp', () => rgb().webp({ lossless: true }).toBuffer()],
    ['gif', () => rgb().gif().toBuffer()],
    ['tiff', () => rgb().tiff().toBuffer()],
  ];
  for (const [format, encode] of lossless) {
    it(`${format}: decoded exactly`, async () => {
      const tensor = await preprocessImage(await encode(), sameSize(8, 6));
      expect(tensor.source).toEqual({ width: 8, height: 6, format });
      for (const [x, y] of [[0, 0], [7, 5], [3, 2]]) expect(rgbAt(tensor, x, y)).toEqual([40, 160, 220]);
    });
  }

  it('jpeg: decoded within JPEG loss of the colour', async () => {
    const tensor = await preprocessImage(await rgb().jpeg({ quality: 100 }).toBuffer(), sameSize(8, 6));
    expect(tensor.source.format).toBe('jpeg');
    for (const [v, want] of rgbAt(tensor, 4, 3).map((v, c) => [v, [40, 160, 220][c]])) expect(Math.abs(v - want)).toBeLessThanOrEqual(3);
  });

  const avif = sharp.format.heif.input.buffer;
  it.skipIf(!avif)('avif (where this sharp build decodes HEIF): decoded within its loss', async () => {
    const tensor = await preprocessImage(await rgb().avif({ lossless: true }).toBuffer(), sameSize(8, 6));
    expect(tensor.source.format).toBe('avif');
    for (const [v, want] of rgbAt(tensor, 4, 3).map((v, c) => [v, [40, 160, 220][c]])) expect(Math.abs(v - want)).toBeLessThanOrEqual(3);
  });
  if (!avif) it('avif: skipped, this sharp build has no HEIF decoder', () => undefined);

  it('a path reads the file', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const path = join(await mkdtemp(join(tmpdir(), 'genie-vision-')), 'image.png');
    await writeFile(path, await png(image));
    expect(rgbAt(await preprocessImage(path, sameSize(8, 6)), 1, 1)).toEqual([40, 160, 220]);
  });
});

describe('conversions to 8-bit sRGB', () => {
  it('EXIF orientation 6: the stored top-left corner shows at the top right, and the size is the displayed one', async () => {
    // Stored 32x16 (landscape), a red 8x8 block at the stored top-left; orientation 6 = rotate 90 degrees clockwise.
    const stored = new Uint8Array(32 * 16 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) stored[(y * 32 + x) * 3] = 255;
    const jpeg = await raw(stored, 32, 16, 3).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const tensor = await preprocessImage(jpeg, sameSize(16, 32));
    expect(tensor.source).toEqual({ width: 16, height: 32, format: 'jpeg' });
    const [r, g, b] = rgbAt(tensor, 12, 3); // inside the displayed top-right 8x8 block
    expect(r).toBeGreaterThan(240);
    expect(Math.max(g, b)).toBeLessThan(15);
    for (const [x, y] of [[3, 3], [3, 28], [12, 28]]) expect(rgbAt(tensor, x, y)[0]).toBeLessThan(15);
  });

  it('alpha is flattened onto the padding colour: transparent shows it, opaque its own colour, half alpha blends', async () => {
    const mean = [0.5, 0.25, 0.75];
    const bg = mean.map((m) => Math.trunc(m * 255)); // 127, 63, 191
    const rgba = [200, 10, 20, 0, 200, 10, 20, 255, 200, 10, 20, 128, 0, 0, 0, 0];
    const tensor = await preprocessImage(await raw(rgba, 4, 1, 4).png().toBuffer(), {
      target: { shape: [1, 3, 1, 4], dtype: 'FLOAT_32' },
      processor: { padMode: 'none', imageMean: mean as never, doNormalize: false },
    });
    expect(rgbAt(tensor, 0, 0)).toEqual(bg);
    expect(rgbAt(tensor, 1, 0)).toEqual([200, 10, 20]);
    expect(rgbAt(tensor, 3, 0)).toEqual(bg);
    const blend = [200, 10, 20].map((c, i) => c * (128 / 255) + bg[i] * (1 - 128 / 255));
    rgbAt(tensor, 2, 0).forEach((v, i) => expect(Math.abs(v - blend[i])).toBeLessThanOrEqual(1));
  });

  it('greyscale (8-bit, and with alpha) becomes equal R, G and B', async () => {
    const grey = await preprocessImage(await raw([0, 77, 200, 255], 4, 1, 1).png().toBuffer(), { target: { shape: [1, 3, 1, 4], dtype: 'FLOAT_32' }, processor: { padMode: 'none' } });
    expect([0, 1, 2, 3].map((x) => rgbAt(grey, x, 0))).toEqual([[0, 0, 0], [77, 77, 77], [200, 200, 200], [255, 255, 255]]);
    const greyAlpha = await preprocessImage(await raw([90, 255, 90, 0], 2, 1, 2).png().toBuffer(), { target: { shape: [1, 3, 1, 2], dtype: 'FLOAT_32' }, processor: { padMode: 'none' } });
    expect([rgbAt(greyAlpha, 0, 0), rgbAt(greyAlpha, 1, 0)]).toEqual([[90, 90, 90], [0, 0, 0]]);
  });

  it('16-bit PNG (RGB and greyscale): v * 257 becomes v', async () => {
    const rgb16 = png16(2, 1, 3, [0, 100 * 257, 255 * 257, 17 * 257, 18 * 257, 19 * 257]);
    expect((await sharp(rgb16).metadata()).depth).toBe('ushort');
    const tensor = await preprocessImage(rgb16, { target: { shape: [1, 3, 1, 2], dtype: 'FLOAT_32' }, processor: { padMode: 'none' } });
    expect([rgbAt(tensor, 0, 0), rgbAt(tensor, 1, 0)]).toEqual([[0, 100, 255], [17, 18, 19]]);

    const grey16 = png16(2, 1, 1, [60 * 257, 250 * 257]);
    expect((await sharp(grey16).metadata()).space).toBe('grey16');
    const g = await preprocessImage(grey16, { target: { shape: [1, 3, 1, 2], dtype: 'FLOAT_32' }, processor: { padMode: 'none' } });
    expect([rgbAt(g, 0, 0), rgbAt(g, 1, 0)]).toEqual([[60, 60, 60], [250, 250, 250]]);
  });

  it('CMYK JPEG becomes sRGB: an sRGB colour stored as CMYK comes back within the colour-profile round trip', async () => {
    const colours = [[200, 100, 50], [255, 255, 255], [30, 60, 90]];
    for (const colour of colours) {
      const cmyk = await sharp(constant(8, 8, colour as never).data, { raw: { width: 8, height: 8, channels: 3 } })
        .toColourspace('cmyk')
        .jpeg({ quality: 100 })
        .toBuffer();
      expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
      const tensor = await preprocessImage(cmyk, sameSize(8, 8));
      rgbAt(tensor, 4, 4).forEach((v, i) => expect(Math.abs(v - colour[i])).toBeLessThanOrEqual(12));
    }
  });
});
