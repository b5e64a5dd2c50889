/**
 * Resizing against Pillow's algorithm written out in pillow-oracle.ts. Where genie-ts resamples in
 * TypeScript the tensor must be Pillow's exactly. Where sharp resizes (bicubic, factor 2 to 4) every
 * value must be within 2 levels of 255 (1 measured on smooth images, 2 on noise), except:
 * - the two outermost output pixels along an image edge (libvips repeats the edge pixel, Pillow
 *   renormalises the cut window): within 2 on smooth images, within 16 on white noise (13 measured);
 * - a portrait image padded to a square, whose passes run vertical first (Pillow: horizontal first):
 *   within 4 on white noise and checkerboards (4 measured), 1 on smooth images.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { planGeometry } from '../../src/vision/geometry.js';
import { preprocessImage, type ImageProcessorSettings } from '../../src/vision/index.js';
import { resolveProcessor } from '../../src/vision/processor.js';
import { paddedSpan, resizerFor } from '../../src/vision/resize.js';
import { resolveTarget } from '../../src/vision/target.js';
import { byteOf, checkerboard, gradient, noise, png } from './images.js';
import {
  centerCrop,
  coefficients,
  expand2square,
  fastVlmReference,
  hfValue,
  pillowResize,
  rgbImage,
  shortestEdgeSize,
  toNchw,
  type Filter,
  type RgbImage,
} from './pillow-oracle.js';

function target(side: number) {
  return { shape: [1, 3, side, side], dtype: 'FLOAT_32' as const };
}

function resizerOf(image: RgbImage, side: number, processor?: ImageProcessorSettings) {
  const t = resolveTarget(target(side));
  const p = resolveProcessor(processor, t);
  return resizerFor(planGeometry({ width: image.width, height: image.height }, p, t), p.resample);
}

async function tensorOf(image: RgbImage, side: number, processor?: ImageProcessorSettings): Promise<Float32Array> {
  const tensor = await preprocessImage(await png(image), { target: target(side), ...(processor === undefined ? {} : { processor }) });
  return tensor.data as Float32Array;
}

/** Largest |difference| in 8-bit levels between the tensor and the reference, inside and on the edge strips. */
function differences(values: Float32Array, reference: RgbImage, isEdge: (x: number, y: number) => boolean): { inner: number; edge: number } {
  const { width, height } = reference;
  let inner = 0;
  let edge = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(byteOf(values[c * width * height + y * width + x]) - reference.data[(y * width + x) * 3 + c]);
        if (isEdge(x, y)) edge = Math.max(edge, d);
        else inner = Math.max(inner, d);
      }
    }
  }
  return { inner, edge };
}

describe('resampling in TypeScript equals Pillow bit for bit', () => {
  const cases: Array<[string, RgbImage, number]> = [
    ['upsampling a padded landscape gradient (40x30 -> 64)', gradient(40, 30), 64],
    ['upsampling a padded portrait checkerboard (22x37 -> 64)', checkerboard(22, 37, 3), 64],
    ['downsampling by less than 2 (checkerboard 100x70 -> 64)', checkerboard(100, 70, 2), 64],
    ['downsampling by 4 or more (noise 300x200 -> 64)', noise(300, 200), 64],
    ['downsampling a tall image by 4 or more (noise 60x270 -> 48)', noise(60, 270, 5), 48],
  ];
  for (const [name, image, side] of cases) {
    it(`${name}, bicubic`, async () => {
      expect(resizerOf(image, side)).toBe('pillow');
      expect(await tensorOf(image, side)).toEqual(fastVlmReference(image, side).values);
    });
  }

  const filters: Filter[] = ['bilinear', 'lanczos', 'box', 'hamming'];
  for (const filter of filters) {
    it(`${filter}, down by 3.1 and up by 0.6, padded`, async () => {
      for (const [image, side] of [[noise(199, 150, 3), 64], [gradient(30, 20), 50]] as const) {
        expect(resizerOf(image, side, { resample: filter })).toBe('pillow');
        expect(await tensorOf(image, side, { resample: filter })).toEqual(fastVlmReference(image, side, { filter }).values);
      }
    });
  }

  it('crop mode (shortest edge, then centre crop) with CLIP mean and std', async () => {
    const mean = [0.48145466, 0.4578275, 0.40821073];
    const std = [0.26862954, 0.26130258, 0.27577711];
    const image = noise(90, 50, 9);
    const processor: ImageProcessorSettings = { padMode: 'crop', imageMean: mean as never, imageStd: std as never };
    const [w, h] = shortestEdgeSize(90, 50, 32);
    const expected = toNchw(centerCrop(pillowResize(image, w, h), 32, 32), (v, c) => hfValue(v, mean[c], std[c]));
    expect(resizerOf(image, 32, processor)).toBe('pillow');
    expect(await tensorOf(image, 32, processor)).toEqual(expected);
  });

  it("mode 'none' stretches the whole image to the target", async () => {
    const image = gradient(70, 20);
    const expected = toNchw(pillowResize(image, 32, 32), (v) => hfValue(v, 0, 1));
    expect(await tensorOf(image, 32, { padMode: 'none' })).toEqual(expected);
  });
});

describe('resampling with sharp stays within 2 levels of Pillow', () => {
  /** Smooth waves with a little noise, as photos are. */
  const smooth = (width: number, height: number) =>
    rgbImage(width, height, (x, y) => {
      const n = noise(1, 1, x * 7919 + y).data[0];
      return [0, 1, 2].map((c) => Math.max(0, Math.min(255, Math.round(128 + 100 * Math.sin(x / 7 + c) * Math.cos(y / 9) + (n - 128) / 8)))) as never;
    });
  /** The two outermost output columns (or rows) on the sides where the image, not padding, ends. */
  const columns = (side: number) => (x: number) => x < 2 || x >= side - 2;
  const rows = (side: number) => (_x: number, y: number) => y < 2 || y >= side - 2;

  it('a padded landscape gradient (200x150 -> 64, factor 3.1): within 2 everywhere', async () => {
    const image = gradient(200, 150);
    expect(resizerOf(image, 64)).toBe('sharp');
    const { inner, edge } = differences(await tensorOf(image, 64), fastVlmReference(image, 64).resized, columns(64));
    expect(inner).toBeLessThanOrEqual(2);
    expect(edge).toBeLessThanOrEqual(2);
  });

  it('padded smooth images, landscape and portrait: within 2 everywhere', async () => {
    for (const [image, edgeOf] of [
      [smooth(200, 150), columns(64)],
      [smooth(150, 200), rows(64)],
    ] as const) {
      expect(resizerOf(image, 64)).toBe('sharp');
      const { inner, edge } = differences(await tensorOf(image, 64), fastVlmReference(image, 64).resized, edgeOf);
      expect(inner).toBeLessThanOrEqual(2);
      expect(edge).toBeLessThanOrEqual(2);
    }
  });

  it('padded noise: within 2 inside (4 for a portrait image), within 16 on the image edges', async () => {
    for (const [image, edgeOf, bound] of [
      [noise(200, 150, 2), columns(64), 2],
      [noise(150, 200, 4), rows(64), 4],
    ] as const) {
      expect(resizerOf(image, 64)).toBe('sharp');
      const { inner, edge } = differences(await tensorOf(image, 64), fastVlmReference(image, 64).resized, edgeOf);
      expect(inner).toBeLessThanOrEqual(bound);
      expect(edge).toBeLessThanOrEqual(16);
    }
  });

  it('the padding stays exact: rows of padding are the mean colour, the boundary rows blend as in Pillow', async () => {
    // 240x120 on a 240 square: the image covers rows 60..179, i.e. output rows 16..47 of 64.
    const image = checkerboard(240, 120, 5);
    const mean = [0.5, 0.25, 0.75];
    expect(resizerOf(image, 64, { imageMean: mean as never })).toBe('sharp');
    const values = await tensorOf(image, 64, { imageMean: mean as never });
    const reference = fastVlmReference(image, 64, { mean }).values;
    for (let c = 0; c < 3; c++) {
      const pad = hfValue(Math.trunc(mean[c] * 255), mean[c], 1);
      for (const y of [0, 10, 13, 50, 63]) {
        for (let x = 0; x < 64; x++) expect(values[c * 4096 + y * 64 + x]).toBe(pad);
      }
      // The rows where padding and image meet: within 2 levels of Pillow.
      for (const y of [14, 15, 16, 17, 46, 47, 48, 49]) {
        for (let x = 2; x < 62; x++) {
          expect(Math.abs(values[c * 4096 + y * 64 + x] - reference[c * 4096 + y * 64 + x]) * 255).toBeLessThanOrEqual(2.0001);
        }
      }
    }
  });

  it('a square checkerboard without padding (256 -> 80) and crop mode (250x180 -> 88x64 -> 64)', async () => {
    const square = checkerboard(256, 256, 3);
    expect(resizerOf(square, 80)).toBe('sharp');
    const all = (x: number, y: number) => x < 2 || y < 2 || x >= 78 || y >= 78;
    const a = differences(await tensorOf(square, 80), fastVlmReference(square, 80).resized, all);
    expect(a.inner).toBeLessThanOrEqual(2);
    expect(a.edge).toBeLessThanOrEqual(16);

    const wide = noise(250, 180, 6);
    expect(resizerOf(wide, 64, { padMode: 'crop' })).toBe('sharp');
    const [w, h] = shortestEdgeSize(250, 180, 64);
    const reference = centerCrop(pillowResize(wide, w, h), 64, 64);
    const b = differences(await tensorOf(wide, 64, { padMode: 'crop' }), reference, rows(64));
    expect(b.inner).toBeLessThanOrEqual(2);
    expect(b.edge).toBeLessThanOrEqual(16);
  });

  it('EXIF orientation 6 on the two-pass path: the passes run in displayed orientation', async () => {
    // Stored w x h, displayed h x w: the displayed pixel (x, y) is the stored pixel (y, h - 1 - x).
    for (const [w, h] of [[200, 100], [100, 200]]) {
      const stored = smooth(w, h);
      const displayed = rgbImage(h, w, (x, y) => {
        const i = ((h - 1 - x) * w + y) * 3;
        return [stored.data[i], stored.data[i + 1], stored.data[i + 2]];
      });
      const bytes = await sharp(stored.data, { raw: { width: w, height: h, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
      expect(resizerOf(displayed, 64)).toBe('sharp');
      const tensor = await preprocessImage(bytes, { target: target(64) });
      expect(tensor.source).toEqual({ width: h, height: w, format: 'png' });
      const edgeOf = displayed.width > displayed.height ? columns(64) : rows(64);
      const { inner, edge } = differences(tensor.data as Float32Array, fastVlmReference(displayed, 64).resized, edgeOf);
      expect(inner).toBeLessThanOrEqual(2);
      expect(edge).toBeLessThanOrEqual(2);
    }
  });

  describe('the second pass resizes only the span of the canvas around the image', () => {
    /** A padded image's geometry: the canvas side, the image's offset and length along the padded axis. */
    const along = (image: RgbImage) => {
      const size = Math.max(image.width, image.height);
      const length = Math.min(image.width, image.height);
      return { size, offset: Math.floor((size - length) / 2), length };
    };
    const CUBIC = { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false } as const;

    /** sharp resizing the whole expand2square canvas in the same two passes: the path without the span. */
    async function wholeCanvas(image: RgbImage, side: number, colour: { r: number; g: number; b: number }): Promise<Uint8Array> {
      const { size, offset, length } = along(image);
      const input = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
      const landscape = image.width > image.height;
      const first = landscape
        ? input.resize(side, length, CUBIC).extend({ top: offset, bottom: size - length - offset, background: colour })
        : input.resize(length, side, CUBIC).extend({ left: offset, right: size - length - offset, background: colour });
      const canvas = await first.raw().toBuffer();
      const raw = { width: landscape ? side : size, height: landscape ? size : side, channels: 3 } as const;
      return new Uint8Array(await sharp(canvas, { raw }).resize(side, side, CUBIC).raw().toBuffer());
    }

    it('the 4032x3024 photo to 1024: canvas lines 441..3591, output lines 112..912', () => {
      // 4032 / 1024 = 63 / 16: every 63 canvas lines make 16 output lines. The image covers lines
      // 504..3528; the bicubic window reaches 2 * 63 / 16 = 7.875 lines, so the span keeps 9 lines
      // of padding: from 495 down to the cell edge 441 (7 * 63), from 3537 up to 3591 (57 * 63).
      expect(paddedSpan(4032, 1024, 504, 3024)).toEqual({ start: 441, end: 3591, outStart: 112, outEnd: 912 });
      // An axis that is not resized keeps the whole canvas.
      expect(paddedSpan(300, 300, 50, 200)).toEqual({ start: 0, end: 300, outStart: 0, outEnd: 300 });
    });

    it("every output line outside the span reads only padding by Pillow's taps, and the span's edges are on the sampling grid", () => {
      for (const [size, out] of [[4032, 1024], [3000, 1024], [1000, 336], [999, 333], [700, 224], [240, 80], [251, 100], [1234, 448]]) {
        for (const length of [1, Math.floor(size / 3), Math.floor(size / 2) + 1, size - 2]) {
          const offset = Math.floor((size - length) / 2);
          const span = paddedSpan(size, out, offset, length);
          expect(Number.isInteger(span.outStart) && Number.isInteger(span.outEnd)).toBe(true);
          expect(span.outStart * size).toBe(span.start * out);
          expect(span.outEnd * size).toBe(span.end * out);
          expect(span.start === 0 || span.start < offset).toBe(true);
          expect(span.end === size || span.end > offset + length).toBe(true);
          coefficients(size, out, 'bicubic').forEach(({ xmin, k }, i) => {
            if (i >= span.outStart && i < span.outEnd) return;
            const readsImage = xmin < offset + length && xmin + k.length > offset;
            expect(readsImage, `${size} -> ${out}, image ${offset}+${length}, output line ${i}`).toBe(false);
          });
        }
      }
    });

    it('bit for bit what resizing the whole canvas gives, landscape and portrait, with and without an aligned span', async () => {
      const mean = [0.3, 0.55, 0.8];
      const colour = { r: Math.trunc(mean[0] * 255), g: Math.trunc(mean[1] * 255), b: Math.trunc(mean[2] * 255) };
      for (const [image, side] of [
        [noise(240, 120, 11), 80], // grid 3: canvas lines 51..189 of 240
        [noise(120, 240, 12), 80],
        [smooth(300, 140), 100], // grid 3
        [checkerboard(140, 300, 4), 100],
        [noise(200, 150, 13), 64], // grid 25: the span is the whole canvas
        [noise(101, 251, 14), 100], // grid 251: the whole canvas
      ] as const) {
        const { size, offset, length } = along(image);
        const span = paddedSpan(size, side, offset, length);
        expect(resizerOf(image, side)).toBe('sharp');
        const canvas = { width: side, height: side, data: await wholeCanvas(image, side, colour) };
        const expected = toNchw(canvas, (v, c) => hfValue(v, mean[c], 1));
        expect(await tensorOf(image, side, { imageMean: mean as never }), `${image.width}x${image.height} -> ${side}, span ${JSON.stringify(span)}`).toEqual(expected);
      }
    });

    it("an aligned span stays within Pillow's tolerances, the lines where image and padding meet included", async () => {
      for (const [image, edgeOf, inner, edge] of [
        [noise(240, 120, 21), columns(80), 2, 16],
        [noise(120, 240, 22), rows(80), 4, 16],
        [smooth(240, 120), columns(80), 2, 2],
        [smooth(120, 240), rows(80), 2, 2],
      ] as const) {
        const { size, offset, length } = along(image);
        const span = paddedSpan(size, 80, offset, length);
        expect(span.start > 0 && span.end < size).toBe(true);
        expect(resizerOf(image, 80)).toBe('sharp');
        const d = differences(await tensorOf(image, 80), fastVlmReference(image, 80).resized, edgeOf);
        expect(d.inner).toBeLessThanOrEqual(inner);
        expect(d.edge).toBeLessThanOrEqual(edge);
      }
    });
  });

  it('the reference itself pads before resizing (a check of the oracle, not of genie-ts)', () => {
    const square = expand2square(gradient(4, 2), [9, 9, 9]);
    expect(square.width).toBe(4);
    expect(Array.from(square.data.subarray(0, 3))).toEqual([9, 9, 9]);
  });
});
