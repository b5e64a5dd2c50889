/** `preprocessImage`: an image file or its bytes to the encoder's `pixel_values` tensor. */
import { InvalidArgumentError } from '../errors.js';
import { byteSize } from '../tensor/dtype.js';
import { typedView } from '../tensor/views.js';
import { convertPixels, pixelTables, type PixelArray } from './convert.js';
import { DEFAULT_MAX_PIXELS, openImage } from './decode.js';
import { planGeometry } from './geometry.js';
import { padColour, resolveProcessor, type ImageProcessorSettings } from './processor.js';
import { resizeImage } from './resize.js';
import { describeTarget, resolveTarget, type PixelLayout, type PixelTensorTarget } from './target.js';
import type { ImageTensor } from './tensor.js';

/** Options of `preprocessImage`. */
export interface PreprocessOptions {
  /** The encoder's `pixel_values` spec (a graph's `TensorSpec` fits): shape, dtype, encoding. */
  readonly target: PixelTensorTarget;
  /**
   * The image processor's settings, e.g. from `loadImageProcessorConfig`; each one left out takes
   * FastVLM's value (expand2square, bicubic, mean 0, std 1, rescale 1/255, size from the target).
   */
  readonly processor?: ImageProcessorSettings;
  /** Decides a target shape that reads as NCHW and as NHWC (an image 3 pixels high or wide). */
  readonly layout?: PixelLayout;
  /**
   * Where to write the tensor (e.g. the encoder's input buffer) instead of a new buffer: exactly the
   * tensor's byte size, aligned to its element size. It is written only once decoding succeeded.
   */
  readonly out?: Uint8Array;
  /**
   * The decompression-bomb bound: images whose header states more pixels are refused before any
   * decoding, and no buffer of the resize may hold more. Default `DEFAULT_MAX_PIXELS` (89,478,485,
   * Pillow's bound); decoded 8-bit RGB needs 3 bytes per pixel.
   */
  readonly maxPixels?: number;
}

const OPTION_KEYS: Readonly<Record<keyof PreprocessOptions, true>> = { target: true, processor: true, layout: true, out: true, maxPixels: true };

function checkOptions(options: PreprocessOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`preprocessImage options must be an object {target, processor?, ...}, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(OPTION_KEYS, key)) {
      throw new InvalidArgumentError(`preprocessImage options: unknown option "${key}" (known: ${Object.keys(OPTION_KEYS).join(', ')})`);
    }
  }
  const { maxPixels } = options;
  if (maxPixels !== undefined && (!Number.isSafeInteger(maxPixels) || maxPixels <= 0)) {
    throw new InvalidArgumentError(`options.maxPixels must be a positive integer, got ${String(maxPixels)}`);
  }
}

/**
 * Decodes an image (a path, or the bytes of a JPEG, PNG, WebP, GIF, TIFF or AVIF/HEIF file) and
 * turns it into the encoder's `pixel_values`, as FastVLM's processor does: EXIF orientation
 * applied, alpha flattened onto the padding colour, 8-bit sRGB; expand2square (or not, per
 * `padMode`), bicubic resize like Pillow, centre crop, rescale, normalise; laid out NCHW or NHWC
 * as the target's shape says, in its dtype (FLOAT_32, FLOAT_16, or quantised into its encoding).
 * Still images only: an animated or multi-page file is refused.
 * @throws InvalidArgumentError for options, target and settings that are wrong in themselves, or a
 *   processor whose output size is not the target's; NotSupportedError for a target dtype pixels are
 *   not written in; ImageError for an image that cannot be used (missing, empty, corrupt, unsupported
 *   format, too many pixels, animated), naming it. Nothing is written to `out` then.
 */
export async function preprocessImage(input: string | Uint8Array, options: PreprocessOptions): Promise<ImageTensor> {
  checkOptions(options);
  const target = resolveTarget(options.target, options.layout);
  const processor = resolveProcessor(options.processor, target, 'options.processor');
  const tables = pixelTables(processor, target);
  const out = options.out;
  if (out !== undefined) {
    if (!(out instanceof Uint8Array) || out.byteLength !== target.byteLength || out.byteOffset % byteSize(target.dtype) !== 0) {
      const got = out instanceof Uint8Array ? `${out.byteLength} bytes at offset ${out.byteOffset}` : String(out);
      throw new InvalidArgumentError(
        `options.out must be a Uint8Array of ${target.byteLength} bytes (pixel_values ${describeTarget(target)}) aligned to ` +
          `${byteSize(target.dtype)} bytes, got ${got}`,
      );
    }
  }

  const image = await openImage(input, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  const plan = planGeometry(image.extent, processor, target);
  const { pixels } = await resizeImage(image, plan, processor.resample, padColour(processor));

  const bytes = out ?? new Uint8Array(target.byteLength);
  const data = typedView(bytes, target.dtype) as PixelArray;
  convertPixels(pixels, plan.resized.width, plan.resized.height, plan.crop, target.layout, tables, data);
  return {
    data,
    bytes,
    shape: target.shape,
    layout: target.layout,
    dtype: target.dtype,
    ...(target.encoding === undefined ? {} : { encoding: target.encoding }),
    source: { width: image.extent.width, height: image.extent.height, format: image.format },
  };
}
