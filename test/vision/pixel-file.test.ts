/** Raw pixel tensor files (Genie's `node set image`): the bytes as they are, the size exactly the tensor's. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { ImageError, readPixelTensorFile } from '../../src/vision/index.js';
import { exactError } from '../expect-error.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genie-vision-raw-'));
});

describe('readPixelTensorFile', () => {
  it('float32 NCHW and uint8 NHWC with an encoding: the elements are the file bytes', async () => {
    const values = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => i / 7 - 2);
    const path = join(dir, 'pixels.f32');
    await writeFile(path, Buffer.from(values.buffer));
    const tensor = await readPixelTensorFile(path, { shape: [1, 3, 4, 5], dtype: 'FLOAT_32' });
    expect(tensor.data).toEqual(values);
    expect({ layout: tensor.layout, source: tensor.source, shape: tensor.shape }).toEqual({
      layout: 'NCHW',
      source: { width: 5, height: 4, format: 'raw' },
      shape: [1, 3, 4, 5],
    });

    const codes = Uint8Array.from({ length: 2 * 6 * 3 }, (_, i) => (i * 37) & 255);
    const u8 = join(dir, 'pixels.u8');
    await writeFile(u8, codes);
    const encoding = { scale: 1 / 255, offset: 0 };
    const q = await readPixelTensorFile(u8, { shape: [1, 2, 6, 3], dtype: 'UFIXED_POINT_8', encoding });
    expect(q.layout).toBe('NHWC');
    expect(q.encoding).toEqual(encoding);
    expect(q.data).toEqual(codes);
  });

  it('a size other than the tensor names both sizes', async () => {
    const path = join(dir, 'short.f32');
    await writeFile(path, Buffer.alloc(100));
    await expect(readPixelTensorFile(path, { shape: [1, 3, 1024, 1024], dtype: 'FLOAT_32' })).rejects.toThrow(
      exactError(ImageError, `pixel tensor file ${path} holds 100 bytes, but pixel_values [1, 3, 1024, 1024] FLOAT_32 takes 12582912 bytes`),
    );
    await expect(readPixelTensorFile(path, { shape: [1, 3, 4, 2], dtype: 'FLOAT_32' })).rejects.toThrow(/holds 100 bytes, but .* takes 96 bytes/);
  });

  it('missing, a directory, a device; a bad target', async () => {
    const missing = join(dir, 'missing.raw');
    const target = { shape: [1, 3, 2, 2], dtype: 'FLOAT_32' as const };
    await expect(readPixelTensorFile(missing, target)).rejects.toThrow(exactError(ImageError, `pixel tensor file not found: ${missing}`));
    const sub = join(dir, 'sub');
    await mkdir(sub);
    await expect(readPixelTensorFile(sub, target)).rejects.toThrow(exactError(ImageError, `pixel tensor path ${sub} is a directory, not a file`));
    await expect(readPixelTensorFile('/dev/zero', target)).rejects.toThrow(exactError(ImageError, 'pixel tensor path /dev/zero is a character device, not a file'));
    await expect(readPixelTensorFile(missing, { shape: [1, 3, 2], dtype: 'FLOAT_32' })).rejects.toThrow(InvalidArgumentError);
  });
});
