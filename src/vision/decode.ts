/**
 * Opening an image with sharp: the checks made on the file and its header before any pixel is
 * decoded (missing, empty, not a regular file, format, frame count, pixel count), and the mapping
 * of sharp's failures to `ImageError`s that name the image.
 */
import { stat } from 'node:fs/promises';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { fileTypeOf, InvalidArgumentError, systemErrorReason } from '../errors.js';
import { ImageError } from './errors.js';
import type { Extent } from './processor.js';

/**
 * The default decompression-bomb bound, in pixels (width x height as the header states them):
 * Pillow's `Image.MAX_IMAGE_PIXELS`, above which Pillow warns of a decompression bomb. Decoded to
 * 8-bit RGB that is 256 MiB; a 48-megapixel camera photo is well inside it, a 30000x30000 PNG is not.
 */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** The formats genie-ts decodes (sharp's names); sharp's other inputs (SVG, PDF, raw, ...) are refused. */
const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'] as const;

/** An image whose header passed the checks, ready to decode. */
export interface OpenedImage {
  /** What sharp reads: the path, or the caller's bytes (not copied). */
  readonly input: string | Buffer;
  /** How messages name it: the path, or `<buffer of N bytes>`. */
  readonly name: string;
  /** Its size as displayed, after EXIF orientation. */
  readonly extent: Extent;
  /** sharp's format name; `avif` or `heic` for HEIF by its compression. */
  readonly format: string;
  readonly hasAlpha: boolean;
  readonly maxPixels: number;
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}

/**
 * An ImageError for a failure of sharp on `name`: unknown formats and sharp's pixel limit by their
 * message, anything else as a corrupt image with the decoder's reason.
 */
export function sharpFailure(error: unknown, name: string, what: string): ImageError {
  const reason = firstLine(error instanceof Error ? error.message : String(error));
  if (/unsupported image format/i.test(reason)) {
    return new ImageError('IMAGE_UNSUPPORTED_FORMAT', name, `${name} is not an image format sharp decodes (${reason})`, { cause: error });
  }
  // libheif without the codec (HEVC in most sharp builds): the header parses, the pixels do not.
  if (/unsupported (codec|compression|feature)|no decoding plugin/i.test(reason)) {
    return new ImageError('IMAGE_UNSUPPORTED_FORMAT', name, `${name}: this sharp build cannot decode it (${reason})`, { cause: error });
  }
  if (/exceeds pixel limit/i.test(reason)) {
    return new ImageError('IMAGE_TOO_LARGE', name, `${name} has more pixels than the limit (${reason})`, { cause: error });
  }
  if (/is empty/i.test(reason)) return new ImageError('IMAGE_EMPTY', name, `${name} is empty (${reason})`, { cause: error });
  return new ImageError('IMAGE_CORRUPT', name, `cannot ${what} ${name}: ${reason} (truncated or damaged?)`, { cause: error });
}

async function checkPath(path: string): Promise<void> {
  let stats;
  try {
    stats = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ImageError('IMAGE_NOT_FOUND', path, `image file not found: ${path}`, { cause: error });
    }
    throw new ImageError('IMAGE_UNREADABLE', path, `cannot read image file ${path}: ${systemErrorReason(error)}`, { cause: error });
  }
  if (!stats.isFile()) {
    throw new ImageError('IMAGE_UNREADABLE', path, `image path ${path} is ${fileTypeOf(stats)}, not an image file`);
  }
  if (stats.size === 0) throw new ImageError('IMAGE_EMPTY', path, `image file ${path} is empty (0 bytes)`);
}

/**
 * A sharp instance over the image with the decoder settings every pass uses: stop on decoder errors
 * and truncation (`failOn: 'error'`; libjpeg's warnings about damaged entropy data do not stop it,
 * as they do not stop Pillow), and sharp's own pixel limit set to ours as a second guard.
 */
export function sharpOf(image: OpenedImage): Sharp {
  return sharp(image.input, { failOn: 'error', limitInputPixels: image.maxPixels });
}

/**
 * Checks an image input and reads its header (no pixel decoding).
 * @throws ImageError: IMAGE_NOT_FOUND, IMAGE_UNREADABLE, IMAGE_EMPTY, IMAGE_CORRUPT,
 *   IMAGE_UNSUPPORTED_FORMAT, IMAGE_ANIMATED (more than one frame or page), IMAGE_TOO_LARGE
 *   (more than `maxPixels`); InvalidArgumentError for an input that is neither a path nor bytes
 */
export async function openImage(input: string | Uint8Array, maxPixels: number): Promise<OpenedImage> {
  let source: string | Buffer;
  let name: string;
  if (typeof input === 'string') {
    if (input === '') throw new InvalidArgumentError('image path must not be empty');
    await checkPath(input);
    source = input;
    name = input;
  } else if (input instanceof Uint8Array) {
    name = `<buffer of ${input.byteLength} bytes>`;
    if (input.byteLength === 0) throw new ImageError('IMAGE_EMPTY', name, 'image buffer is empty (0 bytes)');
    source = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  } else {
    throw new InvalidArgumentError(`image must be a file path or the bytes of an image file (a Uint8Array), got ${typeof input}`);
  }

  let metadata: Metadata;
  try {
    metadata = await sharp(source, { failOn: 'error', limitInputPixels: false }).metadata();
  } catch (error) {
    throw sharpFailure(error, name, 'read the header of');
  }
  const format = String(metadata.format);
  if (!(ACCEPTED_FORMATS as readonly string[]).includes(format)) {
    throw new ImageError(
      'IMAGE_UNSUPPORTED_FORMAT',
      name,
      `${name} is ${format.toUpperCase()}, not an accepted image format (JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF)`,
    );
  }
  const pages = metadata.pages ?? 1;
  if (pages > 1) {
    throw new ImageError(
      'IMAGE_ANIMATED',
      name,
      `${name} has ${pages} frames or pages (an animated or multi-page ${format.toUpperCase()}); a VLM query takes still images: ` +
        'extract the frame you mean and pass that',
    );
  }
  const width = metadata.width;
  const height = metadata.height;
  if (!(width > 0 && height > 0)) {
    throw new ImageError('IMAGE_CORRUPT', name, `${name} states no image size in its header`);
  }
  if (width * height > maxPixels) {
    throw new ImageError(
      'IMAGE_TOO_LARGE',
      name,
      `${name} is ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels} (maxPixels): ` +
        'refused before decoding (a decompression bomb, or a photo to downscale first)',
    );
  }
  const oriented = metadata.autoOrient ?? { width, height };
  const heif = metadata.compression === 'av1' ? 'avif' : metadata.compression === 'hevc' ? 'heic' : 'heif';
  return {
    input: source,
    name,
    extent: { width: oriented.width, height: oriented.height },
    format: format === 'heif' ? heif : format,
    hasAlpha: metadata.hasAlpha === true,
    maxPixels,
  };
}
