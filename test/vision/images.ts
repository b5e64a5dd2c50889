/** Synthetic images for the vision tests, encoded with sharp (lossless formats unless said). */
import sharp from 'sharp';
import { rgbImage, type RgbImage } from './pillow-oracle.js';

export function constant(width: number, height: number, colour: readonly [number, number, number]): RgbImage {
  return rgbImage(width, height, () => colour);
}

/** R rises left to right, G top to bottom, B along the diagonal. */
export function gradient(width: number, height: number): RgbImage {
  return rgbImage(width, height, (x, y) => [
    Math.round((255 * x) / Math.max(width - 1, 1)),
    Math.round((255 * y) / Math.max(height - 1, 1)),
    Math.round((255 * (x + y)) / Math.max(width + height - 2, 1)),
  ]);
}

export function checkerboard(width: number, height: number, cell: number): RgbImage {
  return rgbImage(width, height, (x, y) => ((Math.floor(x / cell) + Math.floor(y / cell)) % 2 === 0 ? [250, 20, 120] : [10, 230, 60]));
}

/** Uniform noise from a fixed linear congruential sequence. */
export function noise(width: number, height: number, seed = 1): RgbImage {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 16) & 255;
  };
  return rgbImage(width, height, () => [next(), next(), next()]);
}

export function png(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

/** The 8-bit value of a float32 tensor element made with rescale 1/255, mean 0, std 1. */
export function byteOf(value: number): number {
  return Math.round(value * 255);
}

/** Element `(c, y, x)` of an NCHW tensor of `height` x `width`. */
export function nchwAt(data: ArrayLike<number>, width: number, height: number, c: number, y: number, x: number): number {
  return data[c * width * height + y * width + x];
}
