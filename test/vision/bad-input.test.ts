/**
 * Bad images give an ImageError naming the image and the problem, never a crash: missing, not a
 * file, empty, truncated, corrupt, unsupported, a decompression bomb (refused from its header, in
 * bounded time and memory), animated. A later call works as before.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeflate } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { sharpFailure } from '../../src/vision/decode.js';
import { ImageError, preprocessImage, type ImageErrorCode } from '../../src/vision/index.js';
import { exactError } from '../expect-error.js';
import { constant, handPng, noise, png } from './images.js';

const target = { shape: [1, 3, 16, 16], dtype: 'FLOAT_32' as const };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genie-vision-bad-'));
});

async function failure(input: string | Uint8Array, options: object = {}): Promise<ImageError> {
  try {
    await preprocessImage(input, { target, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(ImageError);
    return error as ImageError;
  }
  throw new Error('preprocessImage did not fail');
}

function expectCode(error: ImageError, code: ImageErrorCode, source: string, message: string | RegExp): void {
  expect(error.code).toBe(code);
  expect(error.source).toBe(source);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
}

/** A complete, valid 1-bit greyscale PNG of `side` x `side` black pixels, deflated as a stream. */
async function bombPng(side: number): Promise<Buffer> {
  const row = Buffer.alloc(1 + Math.ceil(side / 8));
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  for (let y = 0; y < side; y++) {
    if (!deflate.write(row)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  return handPng(side, side, 1, 0, Buffer.concat(parts));
}

describe('files', () => {
  it('a missing file', async () => {
    const path = join(dir, 'missing.png');
    expectCode(await failure(path), 'IMAGE_NOT_FOUND', path, `image file not found: ${path}`);
  });

  it('a directory and a character device are not image files', async () => {
    const sub = join(dir, 'folder.png');
    await mkdir(sub);
    expectCode(await failure(sub), 'IMAGE_UNREADABLE', sub, `image path ${sub} is a directory, not an image file`);
    expectCode(await failure('/dev/zero'), 'IMAGE_UNREADABLE', '/dev/zero', 'image path /dev/zero is a character device, not an image file');
  });

  it('an empty file and an empty buffer', async () => {
    const path = join(dir, 'empty.jpg');
    await writeFile(path, '');
    expectCode(await failure(path), 'IMAGE_EMPTY', path, `image file ${path} is empty (0 bytes)`);
    expectCode(await failure(new Uint8Array(0)), 'IMAGE_EMPTY', '<buffer of 0 bytes>', 'image buffer is empty (0 bytes)');
  });

  it('an input that is neither a path nor bytes', async () => {
    await expect(preprocessImage(42 as never, { target })).rejects.toThrow(
      exactError(InvalidArgumentError, 'image must be a file path or the bytes of an image file (a Uint8Array), got number'),
    );
  });
});

describe('damaged and unsupported images', () => {
  it('truncated PNG and JPEG, a PNG with damaged data, a JPEG cut inside its header', async () => {
    const image = noise(64, 64, 3);
    const pngBytes = await png(image);
    const jpegBytes = await sharp(image.data, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const damaged = Buffer.from(pngBytes);
    for (let i = 100; i < 200; i++) damaged[i] ^= 0x55;
    const cases: Array<[Uint8Array, RegExp]> = [
      [pngBytes.subarray(0, pngBytes.length >> 1), /^cannot decode <buffer of \d+ bytes>: .*libpng read error \(truncated or damaged\?\)$/],
      [jpegBytes.subarray(0, jpegBytes.length >> 1), /^cannot decode <buffer of \d+ bytes>: VipsJpeg: premature end of JPEG image \(truncated or damaged\?\)$/],
      [damaged, /^cannot decode <buffer of \d+ bytes>: .*libpng read error \(truncated or damaged\?\)$/],
      [jpegBytes.subarray(0, 20), /^cannot read the header of <buffer of 20 bytes>: Input buffer has corrupt header/],
    ];
    for (const [bytes, message] of cases) expectCode(await failure(bytes), 'IMAGE_CORRUPT', `<buffer of ${bytes.byteLength} bytes>`, message);
  });

  it('bytes of no image format, and formats sharp reads but genie-ts does not accept (SVG)', async () => {
    expectCode(
      await failure(Buffer.from('hello, not an image')),
      'IMAGE_UNSUPPORTED_FORMAT',
      '<buffer of 19 bytes>',
      '<buffer of 19 bytes> is not an image format sharp decodes (Input buffer contains unsupported image format)',
    );
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>');
    expectCode(
      await failure(svg),
      'IMAGE_UNSUPPORTED_FORMAT',
      `<buffer of ${svg.length} bytes>`,
      `<buffer of ${svg.length} bytes> is SVG, not an accepted image format (JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF)`,
    );
  });

  it('animated GIF and WebP, multi-page TIFF: refused with their frame count', async () => {
    const frames = [await png(constant(8, 8, [0, 0, 0])), await png(constant(8, 8, [255, 255, 255])), await png(constant(8, 8, [9, 9, 9]))];
    for (const format of ['gif', 'webp', 'tiff'] as const) {
      const bytes = await sharp(frames, { join: { animated: true } }).toFormat(format).toBuffer();
      expectCode(
        await failure(bytes),
        'IMAGE_ANIMATED',
        `<buffer of ${bytes.length} bytes>`,
        `<buffer of ${bytes.length} bytes> has 3 frames or pages (an animated or multi-page ${format.toUpperCase()}); ` +
          'a VLM query takes still images: extract the frame you mean and pass that',
      );
    }
  });
});

describe('decoder messages', () => {
  it('a HEIF whose codec this sharp build lacks is an unsupported format, not a corrupt image', () => {
    // HEIC (HEVC) cannot be made here (no encoder in the build), so the decoder's message is fed directly.
    const error = sharpFailure(new Error('heifload: Unsupported feature: Unsupported codec\nmore'), 'photo.heic', 'decode');
    expectCode(error, 'IMAGE_UNSUPPORTED_FORMAT', 'photo.heic', 'photo.heic: this sharp build cannot decode it (heifload: Unsupported feature: Unsupported codec)');
  });
});

describe('decompression bombs', () => {
  it('a valid 30000x30000 PNG (110 KB) is refused from its header, in bounded time and memory', async () => {
    const bytes = await bombPng(30_000);
    expect(bytes.length).toBeLessThan(200_000);
    const path = join(dir, 'bomb.png');
    await writeFile(path, bytes);
    const rss = process.memoryUsage().rss;
    const start = performance.now();
    expectCode(
      await failure(path),
      'IMAGE_TOO_LARGE',
      path,
      `${path} is 30000x30000 = 900000000 pixels, more than the limit of 89478485 (maxPixels): ` +
        'refused before decoding (a decompression bomb, or a photo to downscale first)',
    );
    expect(performance.now() - start).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  it('maxPixels bounds the image and every buffer of the resize', async () => {
    const square = await png(constant(40, 40, [1, 2, 3]));
    expectCode(await failure(square, { maxPixels: 1000 }), 'IMAGE_TOO_LARGE', '<buffer of ' + square.length + ' bytes>', /is 40x40 = 1600 pixels, more than the limit of 1000/);
    // 2x400 = 800 pixels pass, but its padded square resized to 64x64 holds 4096.
    const thin = await png(constant(2, 400, [1, 2, 3]));
    expectCode(
      await failure(thin, { maxPixels: 1000, target: { shape: [1, 3, 64, 64], dtype: 'FLOAT_32' } }),
      'IMAGE_TOO_LARGE',
      `<buffer of ${thin.length} bytes>`,
      `<buffer of ${thin.length} bytes> (2x400): its 64x64 resized canvas would hold 4096 pixels, more than the limit of 1000 (maxPixels)`,
    );
  });
});

describe('after a refusal', () => {
  it('the next image works', async () => {
    await failure(Buffer.from('junk'));
    const tensor = await preprocessImage(await png(constant(16, 16, [255, 255, 255])), { target });
    expect(tensor.data[0]).toBe(1);
  });
});
