/**
 * Hugging Face `preprocessor_config.json` files (a CLIPImageProcessor as LLaVA and FastVLM ship it)
 * to `ImageProcessorSettings`. Keys that change pixels are read or refused; keys that do not (the
 * processor's class names, token counts) are ignored; any other key is refused too, since genie-ts
 * cannot tell what it would do to the pixels.
 */
import { NotSupportedError, systemErrorReason } from '../errors.js';
import { FileTooLargeError, readFileUpTo } from '../formats/bounded-file.js';
import { formatPath, isPlainObject, jsonPreview, type PathSegment } from '../formats/json.js';
import { lineColumn, syntaxErrorOffset, syntaxErrorReason } from '../formats/json-text.js';
import { ImageProcessorConfigError } from './errors.js';
import type { Extent, ImageProcessorSettings, ImageSize, PadMode, ResampleFilter, Rgb } from './processor.js';

/** Processor configs are a kilobyte or two; a file far larger (or endless, like /dev/zero) is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Pillow's resampling codes, as the files store `resample`. */
const RESAMPLE_CODES: Readonly<Record<number, ResampleFilter | 'nearest'>> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'box',
  5: 'hamming',
};

/**
 * Keys of Hugging Face processor files that do not change the pixels: class names, the auto-class
 * map, the number of image tokens and the patch size the text side counts them with, and call
 * defaults for the tensor format (genie-ts lays the tensor out as the encoder's spec says).
 */
const IGNORED_KEYS = new Set([
  'processor_class',
  'image_processor_type',
  'feature_extractor_type',
  'auto_map',
  '_processor_class',
  '_valid_processor_keys',
  'image_seq_length',
  'num_image_tokens',
  'patch_size',
  'data_format',
  'input_data_format',
  'return_tensors',
]);

/**
 * Pixel-changing switches genie-ts does not implement, harmless when off (`false` or null): e.g.
 * some processors' `do_pad` pads to a batch's largest image.
 */
const OFF_ONLY_KEYS = new Set(['do_pad', 'do_flip_channel_order', 'do_reduce_labels']);

/** Reads `preprocessor_config.json` text or values into settings; each failure names its key path. */
class ConfigReader {
  constructor(private readonly source: string) {}

  fail(path: readonly PathSegment[], expected: string, value: unknown): ImageProcessorConfigError {
    return new ImageProcessorConfigError(this.source, `${this.source}: ${formatPath(path)} must be ${expected}, got ${jsonPreview(value)}`);
  }

  notSupported(path: readonly PathSegment[], what: string): NotSupportedError {
    return new NotSupportedError(`${this.source}: ${formatPath(path)} ${what}`);
  }

  positiveInteger(path: readonly PathSegment[], value: unknown): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw this.fail(path, 'a positive integer', value);
    return value;
  }

  boolean(path: readonly PathSegment[], value: unknown): boolean {
    if (typeof value !== 'boolean') throw this.fail(path, 'true or false', value);
    return value;
  }

  /** A number for all three channels, or one per channel. */
  rgb(path: readonly PathSegment[], value: unknown, nonZero: boolean): Rgb {
    const expected = nonZero ? 'a finite non-zero number' : 'a finite number';
    const check = (p: readonly PathSegment[], v: unknown): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || (nonZero && v === 0)) throw this.fail(p, expected, v);
      return v;
    };
    if (typeof value === 'number') {
      const v = check(path, value);
      return [v, v, v];
    }
    if (!Array.isArray(value) || value.length !== 3) throw this.fail(path, `${expected} or an array of 3 (R, G, B)`, value);
    return [check([...path, 0], value[0]), check([...path, 1], value[1]), check([...path, 2], value[2])];
  }

  /** `{height, width}`, or one integer for both (HF's `crop_size: 224`). */
  extent(path: readonly PathSegment[], value: unknown): Extent {
    if (typeof value === 'number') {
      const side = this.positiveInteger(path, value);
      return { height: side, width: side };
    }
    if (!isPlainObject(value)) throw this.fail(path, 'an integer or an object {height, width}', value);
    for (const key of Object.keys(value)) {
      if (key !== 'height' && key !== 'width') throw this.notSupported([...path, key], 'is not supported (known: height, width)');
    }
    return { height: this.positiveInteger([...path, 'height'], value.height), width: this.positiveInteger([...path, 'width'], value.width) };
  }

  /**
   * `{shortest_edge}`, `{height, width}`, or an integer: the shortest edge, as CLIPImageProcessor
   * reads it (`default_to_square` False), or a square when the file sets `default_to_square: true`.
   */
  size(path: readonly PathSegment[], value: unknown, defaultToSquare: boolean): ImageSize {
    if (typeof value === 'number') {
      const side = this.positiveInteger(path, value);
      return defaultToSquare ? { height: side, width: side } : { shortestEdge: side };
    }
    if (!isPlainObject(value)) throw this.fail(path, 'an integer or an object {shortest_edge} or {height, width}', value);
    if ('longest_edge' in value || 'max_pixels' in value || 'min_pixels' in value) {
      const key = ['longest_edge', 'max_pixels', 'min_pixels'].find((k) => k in value) as string;
      throw this.notSupported([...path, key], 'is not supported (genie-ts resizes to shortest_edge or to height and width)');
    }
    if ('shortest_edge' in value) {
      for (const key of Object.keys(value)) {
        if (key !== 'shortest_edge') throw this.notSupported([...path, key], 'is not supported next to shortest_edge');
      }
      return { shortestEdge: this.positiveInteger([...path, 'shortest_edge'], value.shortest_edge) };
    }
    return this.extent(path, value);
  }
}

/**
 * Settings from the parsed JSON of a `preprocessor_config.json`: crop_size, size, resample,
 * do_resize, do_center_crop, do_rescale, rescale_factor, do_normalize, image_mean, image_std,
 * do_convert_rgb (images always become RGB: the encoder takes 3 channels) and LLaVA's
 * image_aspect_ratio (`"pad"` -> padMode 'pad', `"square"` -> 'crop'). A key set to null counts as
 * absent, as in Hugging Face (the class default), and absent keys take FastVLM's defaults when the
 * settings are used (files written by `save_pretrained` hold every key).
 * @param source names the file in messages
 * @throws ImageProcessorConfigError for a value of the wrong type or range, naming its key path;
 *   NotSupportedError for a key that changes pixels in a way genie-ts does not implement, or an
 *   unknown key
 */
export function parseImageProcessorConfig(value: unknown, source = 'preprocessor config'): ImageProcessorSettings {
  const reader = new ConfigReader(source);
  if (!isPlainObject(value)) throw reader.fail([], 'a JSON object of image processor settings', value);
  const config = value;
  const settings: { -readonly [K in keyof ImageProcessorSettings]: ImageProcessorSettings[K] } = {};
  const present = (key: string): boolean => config[key] !== undefined && config[key] !== null;
  const defaultToSquare = present('default_to_square') ? reader.boolean(['default_to_square'], config.default_to_square) : false;

  for (const [key, v] of Object.entries(config)) {
    if (v === null || IGNORED_KEYS.has(key)) continue;
    switch (key) {
      case 'default_to_square':
        break;
      case 'do_resize':
        settings.doResize = reader.boolean([key], v);
        break;
      case 'size':
        settings.size = reader.size([key], v, defaultToSquare);
        break;
      case 'resample': {
        const filter = typeof v === 'number' ? RESAMPLE_CODES[v] : undefined;
        if (filter === undefined) throw reader.fail([key], "one of Pillow's resampling codes 0-5 (3 = bicubic)", v);
        if (filter === 'nearest') throw reader.notSupported([key], '0 (nearest) is not supported: genie-ts implements Pillow\'s filters 1-5');
        settings.resample = filter;
        break;
      }
      case 'do_center_crop':
        settings.doCenterCrop = reader.boolean([key], v);
        break;
      case 'crop_size':
        settings.cropSize = reader.extent([key], v);
        break;
      case 'do_rescale':
        settings.doRescale = reader.boolean([key], v);
        break;
      case 'rescale_factor':
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw reader.fail([key], 'a finite number > 0', v);
        settings.rescaleFactor = v;
        break;
      case 'do_normalize':
        settings.doNormalize = reader.boolean([key], v);
        break;
      case 'image_mean':
        settings.imageMean = reader.rgb([key], v, false);
        break;
      case 'image_std':
        settings.imageStd = reader.rgb([key], v, true);
        break;
      case 'do_convert_rgb':
        reader.boolean([key], v);
        break;
      case 'image_aspect_ratio': {
        const modes: Record<string, PadMode> = { pad: 'pad', square: 'crop' };
        if (typeof v !== 'string') throw reader.fail([key], 'a string ("pad" or "square")', v);
        const mode = modes[v];
        if (mode === undefined) throw reader.notSupported([key], `${JSON.stringify(v)} is not supported (genie-ts implements "pad" and "square")`);
        settings.padMode = mode;
        break;
      }
      default:
        if (OFF_ONLY_KEYS.has(key)) {
          if (reader.boolean([key], v)) throw reader.notSupported([key], 'true is not supported: genie-ts does not implement it');
          break;
        }
        throw reader.notSupported([key], 'is not supported: genie-ts does not know this key, so it cannot tell what it does to the pixels');
    }
  }
  return settings;
}

/**
 * Reads a Hugging Face `preprocessor_config.json` (at most 1 MiB) into settings for
 * `preprocessImage`; see `parseImageProcessorConfig` for the keys.
 * @throws ImageProcessorConfigError when the file cannot be read or is not JSON (with line:column),
 *   or a value has the wrong type (with its key path); NotSupportedError for keys genie-ts does not
 *   implement
 */
export async function loadImageProcessorConfig(path: string): Promise<ImageProcessorSettings> {
  let text: string;
  try {
    const bytes = await readFileUpTo(path, MAX_CONFIG_BYTES);
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new ImageProcessorConfigError(path, `${path} is larger than 1 MiB: not a preprocessor config`, { cause: error });
    }
    if (error instanceof TypeError) throw new ImageProcessorConfigError(path, `${path} is not UTF-8 text`, { cause: error });
    throw new ImageProcessorConfigError(path, `cannot read preprocessor config ${path}: ${systemErrorReason(error)}`, { cause: error });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const { line, column } = lineColumn(text, syntaxErrorOffset(text, error));
    throw new ImageProcessorConfigError(path, `invalid JSON in ${path}:${line}:${column}: ${syntaxErrorReason(error)}`, { cause: error });
  }
  return parseImageProcessorConfig(value, path);
}
