/**
 * The reference the vision tests compare against, written from the Python it mirrors, not from
 * src/vision: LLaVA's expand2square (a real padded canvas), Pillow's ImagingResample for 8-bit
 * images (Resample.c: precompute_coeffs, normalize_coeffs_8bpc, the horizontal pass then the
 * vertical pass), Hugging Face's centre crop (zero padding when the image is smaller), rescale and
 * normalise in float32. Slow and plain on purpose.
 */

/** An 8-bit RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export type Filter = 'bicubic' | 'bilinear' | 'lanczos' | 'box' | 'hamming';

export function rgbImage(width: number, height: number, pixel: (x: number, y: number) => readonly [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  }
  return { width, height, data };
}

/** LLaVA's expand2square: paste the image at ((S - w) // 2, (S - h) // 2) on an S x S square of `colour`. */
export function expand2square(image: RgbImage, colour: readonly [number, number, number]): RgbImage {
  if (image.width === image.height) return image;
  const size = Math.max(image.width, image.height);
  const left = Math.floor((size - image.width) / 2);
  const top = Math.floor((size - image.height) / 2);
  return rgbImage(size, size, (x, y) => {
    const ix = x - left;
    const iy = y - top;
    if (ix < 0 || iy < 0 || ix >= image.width || iy >= image.height) return colour;
    const i = (iy * image.width + ix) * 3;
    return [image.data[i], image.data[i + 1], image.data[i + 2]];
  });
}

// Resample.c's filters and supports.
const A = -0.5;
const FILTERS: Record<Filter, { support: number; f: (x: number) => number }> = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: { support: 1.0, f: (x) => (Math.abs(x) < 1.0 ? 1.0 - Math.abs(x) : 0.0) },
  hamming: {
    support: 1.0,
    f: (x) => {
      x = Math.abs(x);
      if (x === 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x = x * Math.PI;
      return (Math.sin(x) / x) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(x));
    },
  },
  bicubic: {
    support: 2.0,
    f: (x) => {
      x = Math.abs(x);
      if (x < 1.0) return ((A + 2.0) * x - (A + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * A;
      return 0.0;
    },
  },
  lanczos: {
    support: 3.0,
    f: (x) => {
      const sinc = (t: number) => (t === 0.0 ? 1.0 : Math.sin(t * Math.PI) / (t * Math.PI));
      return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;

/** precompute_coeffs + normalize_coeffs_8bpc: per output, [xmin, integer weights]. */
export function coefficients(inSize: number, outSize: number, filter: Filter): Array<{ xmin: number; k: number[] }> {
  const { support: filterSupport, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filterSupport * filterscale;
  const result: Array<{ xmin: number; k: number[] }> = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k: number[] = [];
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = f((x + xmin - center + 0.5) * ss);
      k.push(w);
      ww += w;
    }
    result.push({
      xmin,
      k: k.map((w) => {
        const v = ww !== 0.0 ? w / ww : w;
        return v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
      }),
    });
  }
  return result;
}

function clip8(sum: number): number {
  const v = Math.floor(sum / 2 ** PRECISION_BITS);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Pillow's `Image.resize((width, height), filter)` of an RGB image (each pass skipped when its size is unchanged). */
export function pillowResize(image: RgbImage, width: number, height: number, filter: Filter = 'bicubic'): RgbImage {
  let current = image;
  if (width !== current.width) {
    const cx = coefficients(current.width, width, filter);
    const src = current;
    current = rgbImage(width, src.height, (x, y) => {
      const { xmin, k } = cx[x];
      const out: [number, number, number] = [0, 0, 0];
      for (let c = 0; c < 3; c++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let i = 0; i < k.length; i++) ss += src.data[(y * src.width + xmin + i) * 3 + c] * k[i];
        out[c] = clip8(ss);
      }
      return out;
    });
  }
  if (height !== current.height) {
    const cy = coefficients(current.height, height, filter);
    const src = current;
    current = rgbImage(src.width, height, (x, y) => {
      const { xmin, k } = cy[y];
      const out: [number, number, number] = [0, 0, 0];
      for (let c = 0; c < 3; c++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let i = 0; i < k.length; i++) ss += src.data[((xmin + i) * src.width + x) * 3 + c] * k[i];
        out[c] = clip8(ss);
      }
      return out;
    });
  }
  return current;
}

/** transformers' `center_crop`, including its zero padding of an image smaller than the crop. */
export function centerCrop(image: RgbImage, width: number, height: number): RgbImage {
  const top = Math.floor((image.height - height) / 2);
  const left = Math.floor((image.width - width) / 2);
  if (top >= 0 && left >= 0 && top + height <= image.height && left + width <= image.width) {
    return rgbImage(width, height, (x, y) => {
      const i = ((y + top) * image.width + x + left) * 3;
      return [image.data[i], image.data[i + 1], image.data[i + 2]];
    });
  }
  const newHeight = Math.max(height, image.height);
  const newWidth = Math.max(width, image.width);
  const topPad = Math.ceil((newHeight - image.height) / 2);
  const leftPad = Math.ceil((newWidth - image.width) / 2);
  const padded = rgbImage(newWidth, newHeight, (x, y) => {
    const ix = x - leftPad;
    const iy = y - topPad;
    if (ix < 0 || iy < 0 || ix >= image.width || iy >= image.height) return [0, 0, 0];
    const i = (iy * image.width + ix) * 3;
    return [image.data[i], image.data[i + 1], image.data[i + 2]];
  });
  const t = top + topPad;
  const l = left + leftPad;
  return rgbImage(width, height, (x, y) => {
    const i = ((y + t) * newWidth + x + l) * 3;
    return [padded.data[i], padded.data[i + 1], padded.data[i + 2]];
  });
}

/** transformers' `get_resize_output_image_size(size=edge, default_to_square=False)` as (width, height). */
export function shortestEdgeSize(width: number, height: number, edge: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((edge * long) / short);
  return width <= height ? [edge, newLong] : [newLong, edge];
}

/** `rescale` then `normalize` of one 8-bit value, in numpy's float32 arithmetic. */
export function hfValue(v: number, mean: number, std: number, rescale = 1 / 255): number {
  const r = Math.fround(v * rescale);
  return Math.fround(Math.fround(r - Math.fround(mean)) / Math.fround(std));
}

/** An RGB image as float32 NCHW values, each through `value(v, channel)`. */
export function toNchw(image: RgbImage, value: (v: number, c: number) => number): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = value(image.data[p * 3 + c], c);
  }
  return out;
}

/** FastVLM's whole processor: expand2square with int(mean * 255), shortest-edge resize, centre crop, NCHW. */
export function fastVlmReference(
  image: RgbImage,
  side: number,
  options: { mean?: readonly number[]; std?: readonly number[]; filter?: Filter } = {},
): { resized: RgbImage; values: Float32Array } {
  const mean = options.mean ?? [0, 0, 0];
  const std = options.std ?? [1, 1, 1];
  const colour = mean.map((m) => Math.trunc(m * 255)) as [number, number, number];
  const square = expand2square(image, colour);
  const [w, h] = shortestEdgeSize(square.width, square.height, side);
  const resized = centerCrop(pillowResize(square, w, h, options.filter ?? 'bicubic'), side, side);
  return { resized, values: toNchw(resized, (v, c) => hfValue(v, mean[c], std[c])) };
}
