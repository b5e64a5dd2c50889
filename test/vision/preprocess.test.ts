/**
 * preprocessImage's values, layouts and element types, each against a formula written here:
 * Hugging Face's rescale/normalise in float32 (pillow-oracle.ts), an IEEE binary16 rounding and
 * QNN's quantisation `q = round(x / scale - offset)` written out independently of src/tensor.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { preprocessImage, type ImageProcessorSettings } from '../../src/vision/index.js';
import { exactError } from '../expect-error.js';
import { constant, noise, png } from './images.js';
import { hfValue } from './pillow-oracle.js';

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
const CLIP: ImageProcessorSettings = { imageMean: CLIP_MEAN, imageStd: CLIP_STD };

function f32(side: number, layout: 'NCHW' | 'NHWC' = 'NCHW') {
  return { shape: layout === 'NCHW' ? [1, 3, side, side] : [1, side, side, 3], dtype: 'FLOAT_32' as const };
}

/** IEEE 754 binary16 bits of a float32 value, round to nearest even, from the format's definition. */
function halfBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const roundEven = (v: number): number => {
    const f = Math.floor(v);
    const r = v - f;
    return r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f;
  };
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24); // subnormal (a carry into 0x400 is the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** QNN's quantisation: round half away from zero, clamp to the code range. */
function quantised(x: number, scale: number, offset: number, min: number, max: number): number {
  const v = x / scale - offset;
  const r = Math.sign(v) * Math.round(Math.abs(v));
  return Math.min(max, Math.max(min, r)) + 0;
}

describe('values', () => {
  it('a constant colour gives (c/255 - mean)/std everywhere, through sharp and through the TypeScript resampler', async () => {
    const colour = [200, 31, 117] as const;
    // 100 -> 32 (factor 3.1) resizes with sharp; 40 -> 32 (1.25) in TypeScript; 20 -> 32 upsamples.
    for (const size of [100, 40, 20]) {
      const tensor = await preprocessImage(await png(constant(size, size, colour)), { target: f32(32), processor: CLIP });
      for (let c = 0; c < 3; c++) {
        const expected = hfValue(colour[c], CLIP_MEAN[c], CLIP_STD[c]);
        expect(Array.from(tensor.data.subarray(c * 1024, (c + 1) * 1024)).every((v) => v === expected)).toBe(true);
      }
    }
  });

  it("expand2square's padding is the mean colour, int(mean * 255), normalised; the image rows keep their colour", async () => {
    // 96x48 on a 96 square: the image covers rows 24..71, output rows 8..23 of 32.
    for (const processor of [undefined, CLIP]) {
      const tensor = await preprocessImage(await png(constant(96, 48, [10, 250, 128])), { target: f32(32), ...(processor ? { processor } : {}) });
      const mean = processor?.imageMean ?? [0, 0, 0];
      const std = processor?.imageStd ?? [1, 1, 1];
      for (let c = 0; c < 3; c++) {
        const pad = hfValue(Math.trunc(mean[c] * 255), mean[c], std[c]);
        const own = hfValue([10, 250, 128][c], mean[c], std[c]);
        for (const y of [0, 5, 26, 31]) expect(tensor.data[c * 1024 + y * 32 + 7]).toBe(pad);
        for (const y of [10, 16, 21]) expect(tensor.data[c * 1024 + y * 32 + 7]).toBe(own);
      }
      if (processor === undefined) expect(tensor.data[0]).toBe(0);
    }
  });

  it('a centre crop larger than the resized image pads with pixel value 0, as Hugging Face does', async () => {
    // No resize, crop 8x8 from a 4x6 image: 2 columns of zeros left and right, 1 row above and below.
    const tensor = await preprocessImage(await png(constant(4, 6, [255, 255, 255])), {
      target: f32(8),
      processor: { padMode: 'crop', doResize: false, cropSize: { height: 8, width: 8 } },
    });
    const at = (y: number, x: number) => tensor.data[y * 8 + x];
    expect([at(0, 4), at(7, 4), at(3, 1), at(3, 6)]).toEqual([0, 0, 0, 0]);
    expect([at(1, 2), at(6, 5), at(3, 4)]).toEqual([1, 1, 1]);
  });

  it('without rescale and normalisation the values are the 8-bit levels', async () => {
    const tensor = await preprocessImage(await png(constant(8, 8, [3, 100, 255])), {
      target: f32(8),
      processor: { doRescale: false, doNormalize: false },
    });
    expect([tensor.data[0], tensor.data[64], tensor.data[128]]).toEqual([3, 100, 255]);
  });
});

describe('layouts and element types', () => {
  const image = noise(50, 40, 11);

  it('NHWC is the transpose of NCHW; rank-3 shapes work the same', async () => {
    const bytes = await png(image);
    const nchw = (await preprocessImage(bytes, { target: f32(24) })).data;
    const nhwc = await preprocessImage(bytes, { target: f32(24, 'NHWC') });
    expect(nhwc.layout).toBe('NHWC');
    for (let y = 0; y < 24; y++) {
      for (let x = 0; x < 24; x++) {
        for (let c = 0; c < 3; c++) expect(nhwc.data[(y * 24 + x) * 3 + c]).toBe(nchw[c * 576 + y * 24 + x]);
      }
    }
    const chw = await preprocessImage(bytes, { target: { shape: [3, 24, 24], dtype: 'FLOAT_32' } });
    const hwc = await preprocessImage(bytes, { target: { shape: [24, 24, 3], dtype: 'FLOAT_32' } });
    expect(chw.data).toEqual(nchw);
    expect(hwc.data).toEqual(nhwc.data);
  });

  it('FLOAT_16 is the float32 output rounded to binary16', async () => {
    const bytes = await png(image);
    const float = (await preprocessImage(bytes, { target: f32(24), processor: CLIP })).data;
    const half = await preprocessImage(bytes, { target: { shape: [1, 3, 24, 24], dtype: 'FLOAT_16' }, processor: CLIP });
    expect(half.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(half.data)).toEqual(Array.from(float, halfBits));
    expect(half.bytes.byteLength).toBe(3 * 24 * 24 * 2);
  });

  const encodings = [
    ['UFIXED_POINT_8', { scale: 1 / 255, offset: 0 }, 0, 255, Uint8Array],
    ['UFIXED_POINT_8', { scale: 0.02, offset: -90 }, 0, 255, Uint8Array],
    ['SFIXED_POINT_8', { scale: 0.01, offset: 0 }, -128, 127, Int8Array],
    ['UFIXED_POINT_16', { scale: 4 / 65535, offset: -32768 }, 0, 65535, Uint16Array],
    ['SFIXED_POINT_16', { scale: 0.0005, offset: 3 }, -32768, 32767, Int16Array],
    ['UFIXED_POINT_32', { scale: 1e-6, offset: -2_000_000_000 }, 0, 2 ** 32 - 1, Uint32Array],
  ] as const;
  for (const [dtype, encoding, min, max, type] of encodings) {
    it(`${dtype} {scale ${encoding.scale}, offset ${encoding.offset}} is the float32 output quantised (clamped to the code range)`, async () => {
      const bytes = await png(image);
      const float = (await preprocessImage(bytes, { target: f32(24), processor: CLIP })).data;
      const q = await preprocessImage(bytes, { target: { shape: [1, 3, 24, 24], dtype, encoding }, processor: CLIP });
      expect(q.data).toBeInstanceOf(type);
      expect(q.encoding).toEqual(encoding);
      expect(Array.from(q.data)).toEqual(Array.from(float, (x) => quantised(x, encoding.scale, encoding.offset, min, max)));
    });
  }

  it('writes into options.out (the encoder input buffer) and returns views of it', async () => {
    const out = new Uint8Array(3 * 16 * 16 * 4);
    const tensor = await preprocessImage(await png(constant(16, 16, [255, 0, 0])), { target: f32(16), out });
    expect(tensor.bytes).toBe(out);
    expect(tensor.data.buffer).toBe(out.buffer);
    expect(new Float32Array(out.buffer)[0]).toBe(1);
  });

  it('the result describes the tensor and its source', async () => {
    const tensor = await preprocessImage(await png(constant(30, 20, [1, 2, 3])), { target: f32(16) });
    expect({ shape: tensor.shape, layout: tensor.layout, dtype: tensor.dtype, source: tensor.source, encoding: tensor.encoding }).toEqual({
      shape: [1, 3, 16, 16],
      layout: 'NCHW',
      dtype: 'FLOAT_32',
      source: { width: 30, height: 20, format: 'png' },
      encoding: undefined,
    });
    expect(tensor.bytes.byteLength).toBe(3 * 16 * 16 * 4);
  });
});

describe('targets, settings and options that are wrong in themselves', () => {
  const bytes = png(constant(8, 8, [0, 0, 0]));
  const run = async (options: object) => preprocessImage(await bytes, options as never);

  it('shapes that are not an RGB image tensor name the shape', async () => {
    await expect(run({ target: { shape: [1, 4, 8, 8], dtype: 'FLOAT_32' } })).rejects.toThrow(
      exactError(InvalidArgumentError, 'target.shape [1, 4, 8, 8] is not an RGB image tensor: expected [1, 3, H, W] (NCHW), [1, H, W, 3] (NHWC), [3, H, W] or [H, W, 3]'),
    );
    await expect(run({ target: { shape: [2, 3, 8, 8], dtype: 'FLOAT_32' } })).rejects.toThrow(/target.shape \[2, 3, 8, 8\] is not an RGB image tensor/);
    await expect(run({ target: { shape: [1, 3, 0, 8], dtype: 'FLOAT_32' } })).rejects.toThrow(/target.shape \[1, 3, 0, 8\] is not an image tensor shape/);
    await expect(run({ target: { shape: [1, 3, 8, 3], dtype: 'FLOAT_32' } })).rejects.toThrow(
      exactError(InvalidArgumentError, 'target.shape [1, 3, 8, 3] reads as NCHW and as NHWC: pass layout "NCHW" or "NHWC"'),
    );
    await expect(run({ target: { shape: [1, 3, 8, 8], dtype: 'FLOAT_32' }, layout: 'NHWC' })).rejects.toThrow(
      exactError(InvalidArgumentError, 'target.shape [1, 3, 8, 8] is not NHWC (it is NCHW)'),
    );
  });

  it('dtypes: fixed point needs an encoding; integers and bfloat16 are not pixel types', async () => {
    await expect(run({ target: { shape: [1, 3, 8, 8], dtype: 'UFIXED_POINT_8' } })).rejects.toThrow(
      exactError(InvalidArgumentError, 'target.encoding is required for UFIXED_POINT_8 pixel_values: {scale, offset} with float = (q + offset) * scale'),
    );
    await expect(run({ target: { shape: [1, 3, 8, 8], dtype: 'BFLOAT_16' } })).rejects.toThrow(
      exactError(
        NotSupportedError,
        'target.dtype BFLOAT_16 is not supported for pixel_values: expected FLOAT_32, FLOAT_16 or a UFIXED_POINT_*/SFIXED_POINT_* type with an encoding',
      ),
    );
    await expect(run({ target: { shape: [1, 3, 8, 8], dtype: 'FLOAT32' } })).rejects.toThrow(
      exactError(InvalidArgumentError, 'target.dtype must be a QNN data type name such as FLOAT_32, got FLOAT32'),
    );
    await expect(run({ target: { shape: [1, 3, 8, 8], dtype: 'UFIXED_POINT_8', encoding: { scale: 0, offset: 0 } } })).rejects.toThrow(
      /target.encoding.scale must be a finite number > 0, got 0/,
    );
  });

  it('a processor whose output is not the target size says what it makes', async () => {
    await expect(preprocessImage(await png(constant(40, 20, [0, 0, 0])), { target: f32(16), processor: { padMode: 'crop', doCenterCrop: false } })).rejects.toThrow(
      exactError(
        InvalidArgumentError,
        'the image processor turns this 40x20 image into 32x16 pixels (resized to 32x16, not cropped), but pixel_values takes 16x16 (width x height)',
      ),
    );
  });

  it('unknown options and settings, and settings of the wrong type, are named', async () => {
    await expect(run({ target: f32(8), procesor: {} })).rejects.toThrow(
      exactError(InvalidArgumentError, 'preprocessImage options: unknown option "procesor" (known: target, processor, layout, out, maxPixels)'),
    );
    await expect(run({ target: f32(8), processor: { mean: [0, 0, 0] } })).rejects.toThrow(/options.processor: unknown setting "mean"/);
    await expect(run({ target: f32(8), processor: { imageStd: [1, 0, 1] } })).rejects.toThrow(
      exactError(InvalidArgumentError, 'options.processor.imageStd[1] must be a finite non-zero number, got 0'),
    );
    await expect(run({ target: f32(8), processor: { cropSize: { height: 8, width: -1 } } })).rejects.toThrow(
      exactError(InvalidArgumentError, 'options.processor.cropSize.width must be a positive integer, got -1'),
    );
    await expect(run({ target: f32(8), processor: { resample: 'nearest' } })).rejects.toThrow(
      /options.processor.resample must be "bicubic", "bilinear", "lanczos", "box", "hamming", got "nearest"/,
    );
    await expect(run({ target: f32(8), maxPixels: 0 })).rejects.toThrow(exactError(InvalidArgumentError, 'options.maxPixels must be a positive integer, got 0'));
  });

  it('options.out must be the tensor size and aligned; a failed call leaves it untouched', async () => {
    await expect(run({ target: f32(8), out: new Uint8Array(10) })).rejects.toThrow(
      exactError(InvalidArgumentError, 'options.out must be a Uint8Array of 768 bytes (pixel_values [1, 3, 8, 8] FLOAT_32) aligned to 4 bytes, got 10 bytes at offset 0'),
    );
    await expect(run({ target: f32(8), out: new Uint8Array(800).subarray(2, 770) })).rejects.toThrow(/got 768 bytes at offset 2/);
    const out = new Uint8Array(768).fill(7);
    await expect(preprocessImage(Buffer.from('not an image'), { target: f32(8), out })).rejects.toThrow(/not an image format/);
    expect(out.every((b) => b === 7)).toBe(true);
  });
});
