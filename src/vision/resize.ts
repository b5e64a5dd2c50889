/**
 * From an opened image to the resized 8-bit RGB pixels of the processor's canvas (the image, or
 * expand2square's square around it): EXIF orientation applied, alpha flattened onto the padding
 * colour, greyscale, CMYK and 16-bit converted to 8-bit sRGB, then resampled like Pillow.
 *
 * Two resizers, chosen per image (`resizerFor`):
 * - sharp (libvips `reduce`), fast and streaming, where it stays within +-2 of Pillow: bicubic
 *   downscaling by a factor in [2, 4) on each resized axis. libvips' cubic kernel is Catmull-Rom,
 *   which is Pillow's bicubic (a = -0.5), widened by the factor as Pillow does; measured against
 *   Pillow's algorithm written out in test/vision/pillow-oracle.ts, every value is within 2 levels
 *   (most equal, the rest 1 apart) except the outermost two output pixels along an image edge,
 *   where libvips repeats the edge pixel and Pillow renormalises the cut window (up to 13 levels
 *   apart on white noise, 2 on smooth content), and padded portrait images (below). A 4032x3024
 *   photo falls here (factor 3.94).
 * - Pillow's algorithm in TypeScript (resample.ts), bit-identical, everywhere else: libvips
 *   upsamples with corner-aligned instead of centre-aligned pixels (a shift of half an output pixel:
 *   over 100 levels apart on a checkerboard), box-shrinks by floor(factor / 2) first from a factor
 *   of 4 (up to 14 levels apart on noise), and below a factor of 2 quantises the kernel's phase
 *   (up to 18 levels apart on noise); and it has no Pillow box, bilinear, Hamming or Lanczos
 *   windows with Pillow's normalisation. The cost is time: a full-resolution decode and a JS
 *   convolution (see the bench).
 *
 * sharp applies its operations in a fixed order (resize, then extend) whatever the call order, and
 * expand2square pads before resizing. So with padding the sharp path runs two passes split by axis:
 * the first resizes only along the padded edges and pads (extend), the second resizes the other
 * axis of the padded canvas. Padding rows are one colour, so resizing them along a row gives the
 * same colour: for a landscape image the first pass is Pillow's horizontal pass over the padded
 * square without building the square, and the second sees the padding as Pillow's vertical pass
 * does. A portrait image (padding columns) runs its vertical pass first, where Pillow runs it
 * second; each pass rounds to 8 bits, so the two orders differ by up to 4 levels on white noise
 * (1 on smooth images). Building the padded full-resolution square instead would keep Pillow's
 * order at the cost of a buffer of the photo's size squared.
 *
 * With two cores, a landscape image's first pass runs as two sharp pipelines at once, each
 * resizing a band of rows (`RowSplit`): its rows are independent, so the bands are the whole's
 * rows, and the horizontal reduce that costs more than the floor's whole resize is shared.
 *
 * The second pass reads only the span of the canvas that its filter windows reach (`paddedSpan`):
 * the image and the padding within the bicubic window of it, rounded out to the sampling grid, so
 * that libvips resizing the span samples the same canvas lines as resizing the whole canvas; the
 * output lines outside the span read padding only and `extend` adds them. The pixels are those of
 * the whole canvas, bit for bit (tested), and the first pass pads far less: a 4032x3024 photo's
 * canvas is 1024x3150 instead of 1024x4032.
 *
 * One sharp pass (resize the image, then extend) would be the floor's cost, but libvips resizes
 * vertically first: for a landscape image that is the opposite of Pillow's order (twice as many values one
 * level off), and its lines where image and padding meet repeat the image's edge line instead of
 * reading the padding (about 20 levels off on the test images). Correcting those lines
 * exactly needs the horizontally resized last rows of the image, which a JPEG gives only after a
 * second full decode; joining padding strips to the image before the resize (sharp's `join`) costs
 * more than the second pass (libvips copies every region through the join).
 */
import { availableParallelism } from 'node:os';
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { ImageError } from './errors.js';
import { sharpFailure, sharpOf, type OpenedImage } from './decode.js';
import type { GeometryPlan } from './geometry.js';
import type { Extent, ResampleFilter, Rgb } from './processor.js';
import { resampleLikePillow } from './resample.js';

/** Which resizer an image goes through. */
export type Resizer = 'sharp' | 'pillow';

/** sharp's `extend` takes at most this many pixels per edge. */
const MAX_EXTEND = 10_000;

/** Whether libvips' cubic reduce from `from` to `to` pixels stays within +-2 of Pillow's bicubic. */
function sharpAxisMatches(from: number, to: number): boolean {
  return from === to || (from >= 2 * to && from < 4 * to);
}

/** The resizer for a plan: sharp where it matches Pillow (see the module comment), else Pillow's algorithm. */
export function resizerFor(plan: GeometryPlan, filter: ResampleFilter): Resizer {
  const { canvas, resized, pad } = plan;
  const matches = filter === 'bicubic' && sharpAxisMatches(canvas.width, resized.width) && sharpAxisMatches(canvas.height, resized.height);
  const padFits = pad === undefined || pad.size - Math.min(plan.image.width, plan.image.height) <= MAX_EXTEND;
  return matches && padFits ? 'sharp' : 'pillow';
}

/** The decoded, still full-size image: oriented, flattened onto `background`, 8-bit sRGB. */
function decoded(image: OpenedImage, background: Rgb): Sharp {
  const colour = { r: background[0], g: background[1], b: background[2] };
  // pipelineColourspace converts greyscale, CMYK and 16-bit input to 8-bit sRGB before anything
  // else, as Pillow's convert("RGB") does before resizing.
  return sharpOf(image).pipelineColourspace('srgb').autoOrient().flatten({ background: colour }).toColourspace('srgb');
}

const CUBIC = { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false } as const;

async function toRgb(pipeline: Sharp, image: OpenedImage, expected: Extent, what: string): Promise<Uint8Array> {
  let result: { data: Buffer; info: OutputInfo };
  try {
    result = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw sharpFailure(error, image.name, what);
  }
  const { data, info } = result;
  if (info.channels !== 3 || info.width !== expected.width || info.height !== expected.height) {
    throw new ImageError(
      'IMAGE_CORRUPT',
      image.name,
      `${image.name} decoded to ${info.width}x${info.height} with ${info.channels} channels, expected ${expected.width}x${expected.height} RGB`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function rawInput(data: Uint8Array, extent: Extent): Sharp {
  return sharp(data, { raw: { width: extent.width, height: extent.height, channels: 3 } });
}

function resizedTo(pipeline: Sharp, from: Extent, to: Extent): Sharp {
  return from.width === to.width && from.height === to.height ? pipeline : pipeline.resize(to.width, to.height, CUBIC);
}

/** Lines `[start, end)` of a padded axis of the canvas, and the output lines `[outStart, outEnd)` they become. */
export interface PaddedSpan {
  readonly start: number;
  readonly end: number;
  readonly outStart: number;
  readonly outEnd: number;
}

/** Pillow's bicubic support: a window reaches 2 output lines each side of its centre. */
const BICUBIC_SUPPORT = 2;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The span of a padded axis (`size` lines, the image at `[offset, offset + length)`) that the
 * second pass resizes to `out` lines. libvips centres output line `i` of a resize from `n` to `m`
 * lines at input position `(i + 0.5) * n / m` (pixel edges at integers) and repeats the edge line
 * for taps outside its input. So the span resized to `(end - start) * out / size` lines reads
 * exactly the taps the whole canvas would when
 * - `start` and `end` are on the sampling grid: multiples of `size / gcd(size, out)`, the lines
 *   where an output line's cell begins;
 * - at least `ceil(2 * size / out) + 1` lines of padding lie between each edge of the span and the
 *   image, or the span reaches the canvas' edge: the edge line libvips repeats is then padding, as
 *   the canvas is beyond it, and an output line outside the span, whose window reaches 1.5 scaled
 *   lines (and a line of rounding) past the span's edge, reads padding only: it is the padding
 *   colour, which `extend` adds.
 */
export function paddedSpan(size: number, out: number, offset: number, length: number): PaddedSpan {
  if (size === out) return { start: 0, end: size, outStart: 0, outEnd: out };
  const grid = size / gcd(size, out);
  const margin = Math.ceil((BICUBIC_SUPPORT * size) / out) + 1;
  const start = Math.max(Math.floor((offset - margin) / grid) * grid, 0);
  const end = Math.min(Math.ceil((offset + length + margin) / grid) * grid, size);
  return { start, end, outStart: (start * out) / size, outEnd: (end * out) / size };
}

/**
 * How the first pass of a landscape image is cut into two sharp pipelines that run at once, one
 * per core: libvips runs a pipeline on one thread here (sharp's default concurrency on glibc
 * without jemalloc), and its horizontal reduce costs more than the decode and vertical reduce of
 * the floor together. The top part decodes only its rows (JPEG and PNG decoding stops where the
 * pipeline's last row is), the bottom part decodes everything, so the top part takes the larger
 * share of rows. Measured on the bench's 4032x3024 JPEG: 102 ms in one pipeline, 77 ms cut at
 * 60-70% (88 ms at 50%, 83 ms at 75%).
 */
export interface RowSplit {
  /** Images with fewer rows run in one pipeline (the second decode costs more than it saves). */
  readonly minRows: number;
  /** The share of the image's rows the top part resizes. */
  readonly topShare: number;
}

/** The split for this machine: none on one core. */
export function defaultRowSplit(cores = availableParallelism()): RowSplit | undefined {
  return cores >= 2 ? { minRows: 768, topShare: 0.65 } : undefined;
}

/** The image row where `split` cuts an image of `rows` rows, if it does. */
export function rowCut(rows: number, split: RowSplit | undefined): number | undefined {
  if (split === undefined || rows < split.minRows) return undefined;
  const cut = Math.round(rows * split.topShare);
  return cut > 0 && cut < rows ? cut : undefined;
}

/** Padding lines a pass adds, and their colour (sharp's form). */
interface Padding {
  readonly top: number;
  readonly bottom: number;
  readonly colour: { r: number; g: number; b: number };
}

/**
 * The first pass of a landscape image: every row resized to `width` columns, between `pad`'s
 * padding rows. Each output row reads only its own image row, so the parts of a cut give the rows
 * of the whole.
 */
async function resizedRows(image: OpenedImage, background: Rgb, width: number, pad: Padding, split: RowSplit | undefined): Promise<Uint8Array> {
  const { height } = image.extent;
  const part = (from: number, to: number, top: number, bottom: number): Promise<Uint8Array> => {
    let pipeline = decoded(image, background);
    if (to - from < height) pipeline = pipeline.extract({ left: 0, top: from, width: image.extent.width, height: to - from });
    pipeline = resizedTo(pipeline, { width: image.extent.width, height: to - from }, { width, height: to - from });
    return toRgb(pipeline.extend({ top, bottom, background: pad.colour }), image, { width, height: top + to - from + bottom }, 'decode');
  };
  const cut = rowCut(height, split);
  if (cut === undefined) return part(0, height, pad.top, pad.bottom);
  let above: Uint8Array;
  let below: Uint8Array;
  try {
    [above, below] = await Promise.all([part(0, cut, pad.top, 0), part(cut, height, 0, pad.bottom)]);
  } catch {
    // libvips keeps one error buffer for all its threads, so a pipeline's message can be lost to
    // the other's ("Unknown error"): the image goes through one pipeline, which fails with its own.
    return part(0, height, pad.top, pad.bottom);
  }
  const rows = new Uint8Array(above.byteLength + below.byteLength);
  rows.set(above);
  rows.set(below, above.byteLength);
  return rows;
}

async function resizeWithSharp(image: OpenedImage, plan: GeometryPlan, background: Rgb, split: RowSplit | undefined): Promise<Uint8Array> {
  const { image: extent, pad, resized } = plan;
  if (pad === undefined) return toRgb(resizedTo(decoded(image, background), extent, resized), image, resized, 'decode');
  const colour = { r: pad.colour[0], g: pad.colour[1], b: pad.colour[2] };
  let padded: Extent;
  let canvas: Uint8Array;
  let span: PaddedSpan;
  let spanResized: Extent;
  let around: { top: number; bottom: number } | { left: number; right: number };
  if (extent.width === pad.size) {
    // Padding rows: resize along the rows and add the span's padding rows, then resize the span's columns.
    span = paddedSpan(pad.size, resized.height, pad.top, extent.height);
    padded = { width: resized.width, height: span.end - span.start };
    const padding = { top: pad.top - span.start, bottom: span.end - pad.top - extent.height, colour };
    canvas = await resizedRows(image, background, resized.width, padding, split);
    spanResized = { width: resized.width, height: span.outEnd - span.outStart };
    around = { top: span.outStart, bottom: resized.height - span.outEnd };
  } else {
    // Padding columns: the same with the axes swapped (in one pipeline: this pass reduces vertically, which libvips does fast).
    span = paddedSpan(pad.size, resized.width, pad.left, extent.width);
    const columns = { width: extent.width, height: resized.height };
    padded = { width: span.end - span.start, height: resized.height };
    const extend = { left: pad.left - span.start, right: span.end - pad.left - extent.width, background: colour };
    canvas = await toRgb(resizedTo(decoded(image, background), extent, columns).extend(extend), image, padded, 'decode');
    spanResized = { width: span.outEnd - span.outStart, height: resized.height };
    around = { left: span.outStart, right: resized.width - span.outEnd };
  }
  if (padded.width === resized.width && padded.height === resized.height) return canvas;
  const second = rawInput(canvas, padded).resize(spanResized.width, spanResized.height, CUBIC).extend({ ...around, background: colour });
  return toRgb(second, image, resized, 'resize');
}

/**
 * The canvas of `plan` resized, as packed 8-bit RGB (`plan.resized` pixels, row-major).
 * @param background what alpha is flattened onto (expand2square's colour)
 * @param split how a landscape image's first sharp pass is cut into pipelines that run at once
 * @throws ImageError from decoding (IMAGE_CORRUPT, IMAGE_UNSUPPORTED_FORMAT), or IMAGE_TOO_LARGE
 *   when a buffer of the resize would hold more than the image's pixel bound
 */
export async function resizeImage(
  image: OpenedImage,
  plan: GeometryPlan,
  filter: ResampleFilter,
  background: Rgb,
  split = defaultRowSplit(),
): Promise<{ readonly pixels: Uint8Array; readonly resizer: Resizer }> {
  const { resized } = plan;
  // Bounds on what the resize holds, besides the decoded image itself: the output, and Pillow's
  // horizontal pass (the resized width times the image's rows; a very tall, thin image padded to a
  // square would otherwise make it huge).
  for (const [what, pixels] of [
    [`its ${resized.width}x${resized.height} resized canvas`, resized.width * resized.height],
    [`resampling it (${resized.width} x ${plan.image.height} intermediate rows)`, resized.width * plan.image.height],
  ] as const) {
    if (pixels > image.maxPixels) {
      throw new ImageError(
        'IMAGE_TOO_LARGE',
        image.name,
        `${image.name} (${plan.image.width}x${plan.image.height}): ${what} would hold ${pixels} pixels, more than the limit of ${image.maxPixels} (maxPixels)`,
      );
    }
  }
  const resizer = resizerFor(plan, filter);
  if (resizer === 'sharp') return { pixels: await resizeWithSharp(image, plan, background, split), resizer };
  const full = await toRgb(decoded(image, background), image, plan.image, 'decode');
  return { pixels: await resampleLikePillow(full, plan.image, plan.pad, resized, filter), resizer };
}
