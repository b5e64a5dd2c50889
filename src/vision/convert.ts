/**
 * 8-bit RGB to the encoder's tensor in one pass: crop window, rescale, normalise, layout and element
 * type, through one 256-entry table per channel (an 8-bit value has 256 possible outputs, so every
 * per-pixel formula is computed once per value, not once per pixel).
 */
import { byteSize, type Encoding } from '../tensor/dtype.js';
import { float32ToFloat16 } from '../tensor/fp16.js';
import { quantize } from '../tensor/quant.js';
import { typedView } from '../tensor/views.js';
import type { CropWindow } from './geometry.js';
import type { ResolvedProcessor } from './processor.js';
import type { PixelLayout, ResolvedTarget } from './target.js';

/** The typed arrays a pixel tensor is written in: FLOAT_32; FLOAT_16 bits; fixed-point codes. */
export type PixelArray = Float32Array | Uint16Array | Uint8Array | Int16Array | Int8Array | Uint32Array | Int32Array;

/** Per channel (R, G, B), the tensor element for each 8-bit value. */
export type PixelTables = readonly [PixelArray, PixelArray, PixelArray];

/**
 * The float an 8-bit value `v` of channel `c` becomes, with the arithmetic of Hugging Face's
 * `rescale` (float64 product, stored as float32) and `normalize` (float32 subtraction and division
 * with float32 mean and std), so the values are the ones its processors produce.
 */
export function pixelValue(v: number, c: number, processor: ResolvedProcessor): number {
  let x = Math.fround(v);
  if (processor.doRescale) x = Math.fround(v * processor.rescaleFactor);
  if (processor.doNormalize) {
    x = Math.fround(Math.fround(x - Math.fround(processor.imageMean[c])) / Math.fround(processor.imageStd[c]));
  }
  return x;
}

/** The three tables for the target's element type (and encoding, for fixed-point). */
export function pixelTables(processor: ResolvedProcessor, target: Pick<ResolvedTarget, 'dtype' | 'encoding'>): PixelTables {
  const table = (c: number): PixelArray => {
    const out = typedView(new Uint8Array(256 * byteSize(target.dtype)), target.dtype) as PixelArray;
    for (let v = 0; v < 256; v++) {
      const x = pixelValue(v, c, processor);
      if (target.dtype === 'FLOAT_32') out[v] = x;
      else if (target.dtype === 'FLOAT_16') out[v] = float32ToFloat16(x);
      else out[v] = quantize(x, target.encoding as Encoding, target.dtype);
    }
    return out;
  };
  return [table(0), table(1), table(2)];
}

/**
 * Writes the `crop` window of `src` (packed RGB, `srcWidth` x `srcHeight`) into `dst` as
 * `crop.height` x `crop.width` pixels in `layout`, each value through its channel's table. Pixels of
 * the window outside `src` are value 0 (Hugging Face's centre crop pads a small image with zeros
 * before rescaling). Allocates nothing.
 */
export function convertPixels(
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  crop: CropWindow,
  layout: PixelLayout,
  tables: PixelTables,
  dst: PixelArray,
): void {
  const [t0, t1, t2] = tables;
  const { width, height } = crop;
  const plane = width * height;
  // The window's columns inside src, the same for every row.
  const x0 = Math.min(Math.max(-crop.left, 0), width);
  const x1 = Math.max(Math.min(srcWidth - crop.left, width), x0);
  for (let y = 0; y < height; y++) {
    const sy = crop.top + y;
    const inside = sy >= 0 && sy < srcHeight;
    const lo = inside ? x0 : width;
    const hi = inside ? x1 : width;
    const rowIn = (sy * srcWidth + crop.left) * 3;
    if (layout === 'NCHW') {
      const row = y * width;
      for (let x = 0; x < lo; x++) {
        dst[row + x] = t0[0];
        dst[plane + row + x] = t1[0];
        dst[2 * plane + row + x] = t2[0];
      }
      for (let x = lo, p = rowIn + lo * 3; x < hi; x++, p += 3) {
        dst[row + x] = t0[src[p]];
        dst[plane + row + x] = t1[src[p + 1]];
        dst[2 * plane + row + x] = t2[src[p + 2]];
      }
      for (let x = hi; x < width; x++) {
        dst[row + x] = t0[0];
        dst[plane + row + x] = t1[0];
        dst[2 * plane + row + x] = t2[0];
      }
    } else {
      const row = y * width * 3;
      for (let x = 0; x < lo; x++) {
        dst[row + 3 * x] = t0[0];
        dst[row + 3 * x + 1] = t1[0];
        dst[row + 3 * x + 2] = t2[0];
      }
      for (let x = lo, p = rowIn + lo * 3; x < hi; x++, p += 3) {
        const o = row + 3 * x;
        dst[o] = t0[src[p]];
        dst[o + 1] = t1[src[p + 1]];
        dst[o + 2] = t2[src[p + 2]];
      }
      for (let x = hi; x < width; x++) {
        dst[row + 3 * x] = t0[0];
        dst[row + 3 * x + 1] = t1[0];
        dst[row + 3 * x + 2] = t2[0];
      }
    }
  }
}
