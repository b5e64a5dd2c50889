/** Synthetic images for the vision tests, encoded with sharp (lossless formats unless said). */
import { crc32, deflateSync } from 'node:zlib';
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

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A PNG written by hand from the format's definition (signature, IHDR, zlib-compressed IDAT,
 * IEND), for what sharp will not write: exact 16-bit samples, and headers that state any size.
 * `scanlines` is the filtered image data (each row: filter byte 0, then big-endian samples).
 */
export function handPng(width: number, height: number, bitDepth: 1 | 8 | 16, colourType: 0 | 2, scanlines: Uint8Array | Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(bitDepth, 8);
  ihdr.writeUInt8(colourType, 9);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', scanlines), chunk('IEND', new Uint8Array(0))]);
}

/** Rows of 16-bit samples as PNG scanlines (filter 0, big-endian), deflated. */
export function png16(width: number, height: number, channels: 1 | 3, samples: readonly number[]): Buffer {
  const rowBytes = 1 + width * channels * 2;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++) raw.writeUInt16BE(samples[y * width * channels + i], y * rowBytes + 1 + i * 2);
  }
  return handPng(width, height, 16, channels === 3 ? 2 : 0, deflateSync(raw));
}
