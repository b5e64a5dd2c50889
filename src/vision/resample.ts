/**
 * Pillow's resize (`ImagingResample`, 8 bits per channel) in TypeScript, for the cases where sharp's
 * libvips resize does not come close to it (see `resizerFor` in resize.ts). It is the same
 * algorithm, step for step: separable, the horizontal pass first into 8-bit rows, then the vertical
 * pass; per output pixel a window of the filter scaled by the downscale factor (antialiasing),
 * weights normalised to sum 1 over the taps inside the image (no edge extension), then turned into
 * 22-bit fixed point; sums rounded by adding half and shifting, clamped to 0..255. So its output is
 * Pillow's, bit for bit (Lanczos and Hamming weights use sin/cos, where V8 and the C library may
 * differ in the last bit of a double; a weight can then round one 2^-22 step the other way).
 *
 * The image may sit on expand2square's padding square without that square being built: padding
 * rows and columns are one colour, so their taps add `colour * (sum of their weights)`, the exact
 * integer Pillow's loop would add tap by tap.
 */
import type { PadPlacement } from './geometry.js';
import type { Extent, ResampleFilter } from './processor.js';

/** Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  readonly support: number;
  readonly weight: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const t = x * Math.PI;
  return Math.sin(t) / t;
}

// Pillow's filters (Resample.c); 0.54f and 0.46f are C float constants.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);
const FILTERS: Readonly<Record<ResampleFilter, Filter>> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const t = a * Math.PI;
      return (Math.sin(t) / t) * (HAMMING_A + HAMMING_B * Math.cos(t));
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/**
 * Fixed-point taps of one pass (Pillow's `precompute_coeffs` then `normalize_coeffs_8bpc`): output
 * `i` reads `count[i]` inputs from `first[i]` with integer weights `weights[i * stride ...]`. An
 * unchanged size is the identity (Pillow skips that pass).
 */
export interface Taps {
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weights: Int32Array;
  readonly stride: number;
}

export function pillowTaps(inSize: number, outSize: number, filterName: ResampleFilter): Taps {
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  if (inSize === outSize) {
    const weights = new Int32Array(outSize).fill(ONE);
    for (let i = 0; i < outSize; i++) {
      first[i] = i;
      count[i] = 1;
    }
    return { first, count, weights, stride: 1 };
  }
  const filter = FILTERS[filterName];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const weights = new Int32Array(outSize * stride);
  const raw = new Float64Array(stride);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      raw[x] = filter.weight((x + xmin - center + 0.5) * ss);
      sum += raw[x];
    }
    for (let x = 0; x < n; x++) {
      const w = sum !== 0 ? raw[x] / sum : raw[x];
      weights[xx * stride + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[xx] = xmin;
    count[xx] = n;
  }
  return { first, count, weights, stride };
}

/**
 * Taps over a canvas on which the image occupies `[offset, offset + size)`: per output, the image
 * taps (as image coordinates) and the summed weight of the taps on the padding.
 */
interface SplitTaps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  /** Index in `weights` of the first image tap. */
  readonly weightAt: Int32Array;
  readonly weights: Int32Array;
  readonly padWeight: Int32Array;
  /** Sum of every tap's weight (what a row or column of pure padding gets). */
  readonly totalWeight: Int32Array;
}

function splitTaps(taps: Taps, offset: number, size: number): SplitTaps {
  const n = taps.first.length;
  const start = new Int32Array(n);
  const count = new Int32Array(n);
  const weightAt = new Int32Array(n);
  const padWeight = new Int32Array(n);
  const totalWeight = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const lo = taps.first[i];
    const hi = lo + taps.count[i];
    const imgLo = Math.max(lo, offset);
    const imgHi = Math.min(hi, offset + size);
    let pad = 0;
    let total = 0;
    for (let t = lo; t < hi; t++) {
      const w = taps.weights[i * taps.stride + (t - lo)];
      total += w;
      if (t < imgLo || t >= imgHi) pad += w;
    }
    start[i] = imgHi > imgLo ? imgLo - offset : 0;
    count[i] = Math.max(imgHi - imgLo, 0);
    weightAt[i] = i * taps.stride + (imgLo - lo);
    padWeight[i] = pad;
    totalWeight[i] = total;
  }
  return { start, count, weightAt, weights: taps.weights, padWeight, totalWeight };
}

/**
 * Pillow's clip8: the 22-bit fixed-point sum to 0..255 (`>>` floors). Sums are int32 arithmetic
 * (Math.imul, `| 0`) as in Pillow, whose precision bits are chosen so that they do not overflow.
 */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Rows per slice of work between yields to the event loop. */
const ROWS_PER_SLICE = 32;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Resizes an RGB image (`width` x `height`, 3 bytes per pixel), or the expand2square canvas it sits
 * on when `pad` is given, to `out` with Pillow's algorithm and filter. Long images yield to the event
 * loop between slices of rows, so a timer or an abort still runs.
 */
export async function resampleLikePillow(
  src: Uint8Array,
  image: Extent,
  pad: PadPlacement | undefined,
  out: Extent,
  filter: ResampleFilter,
): Promise<Uint8Array> {
  const canvasWidth = pad?.size ?? image.width;
  const canvasHeight = pad?.size ?? image.height;
  const colour = pad?.colour ?? [0, 0, 0];
  const h = splitTaps(pillowTaps(canvasWidth, out.width, filter), pad?.left ?? 0, image.width);
  const v = splitTaps(pillowTaps(canvasHeight, out.height, filter), pad?.top ?? 0, image.height);

  // Horizontal pass over the image rows the vertical taps read.
  let rowLo = image.height;
  let rowHi = 0;
  for (let y = 0; y < out.height; y++) {
    if (v.count[y] === 0) continue;
    rowLo = Math.min(rowLo, v.start[y]);
    rowHi = Math.max(rowHi, v.start[y] + v.count[y]);
  }
  const rowBytes = out.width * 3;
  const tmp = new Uint8Array(Math.max(rowHi - rowLo, 0) * rowBytes);
  for (let y = rowLo; y < rowHi; y++) {
    horizontalRow(src, (y * image.width) * 3, h, colour, tmp, (y - rowLo) * rowBytes, out.width);
    if ((y - rowLo) % ROWS_PER_SLICE === ROWS_PER_SLICE - 1) await yieldToEventLoop();
  }
  // A row of pure padding after the horizontal pass (what the vertical taps on padding rows read).
  const padRow = new Uint8Array(rowBytes);
  for (let x = 0; x < out.width; x++) {
    for (let c = 0; c < 3; c++) padRow[x * 3 + c] = clip8((HALF + Math.imul(colour[c], h.totalWeight[x])) | 0);
  }

  const dst = new Uint8Array(out.height * rowBytes);
  let maxTaps = 0;
  for (let y = 0; y < out.height; y++) maxTaps = Math.max(maxTaps, v.count[y]);
  const bases = new Int32Array(maxTaps);
  const ks = new Int32Array(maxTaps);
  for (let y = 0; y < out.height; y++) {
    const n = v.count[y];
    for (let i = 0; i < n; i++) {
      bases[i] = (v.start[y] + i - rowLo) * rowBytes;
      ks[i] = v.weights[v.weightAt[y] + i];
    }
    verticalRow(tmp, bases, ks, n, HALF, v.padWeight[y], padRow, dst, y * rowBytes, rowBytes);
    if (y % ROWS_PER_SLICE === ROWS_PER_SLICE - 1) await yieldToEventLoop();
  }
  return dst;
}

/** One output row of the vertical pass: each byte sums its column over the `n` tap rows at `bases`. */
function verticalRow(
  tmp: Uint8Array,
  bases: Int32Array,
  ks: Int32Array,
  n: number,
  half: number,
  padWeight: number,
  padRow: Uint8Array,
  dst: Uint8Array,
  at: number,
  rowBytes: number,
): void {
  for (let j = 0; j < rowBytes; j++) {
    let sum = (half + Math.imul(padWeight, padRow[j])) | 0;
    for (let i = 0; i < n; i++) sum = (sum + Math.imul(tmp[bases[i] + j], ks[i])) | 0;
    dst[at + j] = clip8(sum);
  }
}

function horizontalRow(
  src: Uint8Array,
  srcAt: number,
  h: SplitTaps,
  colour: readonly number[],
  dst: Uint8Array,
  dstAt: number,
  outWidth: number,
): void {
  const { start, count, weightAt, weights, padWeight } = h;
  const c0 = colour[0];
  const c1 = colour[1];
  const c2 = colour[2];
  for (let x = 0; x < outWidth; x++) {
    const pw = padWeight[x];
    let s0 = (HALF + Math.imul(c0, pw)) | 0;
    let s1 = (HALF + Math.imul(c1, pw)) | 0;
    let s2 = (HALF + Math.imul(c2, pw)) | 0;
    let p = srcAt + start[x] * 3;
    const k0 = weightAt[x];
    const n = count[x];
    for (let i = 0; i < n; i++, p += 3) {
      const k = weights[k0 + i];
      s0 = (s0 + Math.imul(src[p], k)) | 0;
      s1 = (s1 + Math.imul(src[p + 1], k)) | 0;
      s2 = (s2 + Math.imul(src[p + 2], k)) | 0;
    }
    const o = dstAt + x * 3;
    dst[o] = clip8(s0);
    dst[o + 1] = clip8(s1);
    dst[o + 2] = clip8(s2);
  }
}
