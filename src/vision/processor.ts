/**
 * Image processor settings: the steps Hugging Face's CLIPImageProcessor runs (resize, centre crop,
 * rescale, normalise), LLaVA's expand2square in front of them, and FastVLM's values as defaults.
 */
import { InvalidArgumentError } from '../errors.js';
import type { ResolvedTarget } from './target.js';

/**
 * Pillow's resampling filters that `ImagingResample` implements (Pillow's codes: 1 lanczos,
 * 2 bilinear, 3 bicubic, 4 box, 5 hamming). Nearest (code 0) runs through another Pillow path and is
 * not implemented.
 */
export type ResampleFilter = 'bicubic' | 'bilinear' | 'lanczos' | 'box' | 'hamming';

export const RESAMPLE_FILTERS: readonly ResampleFilter[] = ['bicubic', 'bilinear', 'lanczos', 'box', 'hamming'];

/**
 * What happens to the image's aspect ratio before the processor's steps:
 * - `'pad'`: LLaVA's expand2square, as FastVLM's checkpoint (`image_aspect_ratio: "pad"`) does: the
 *   image is centred on a square of the mean colour, then resized and cropped;
 * - `'crop'`: nothing; the processor's own steps (resize the shortest edge, centre crop) cut the long
 *   side, as the FastVLM iOS app and a plain CLIPImageProcessor do;
 * - `'none'`: the image is stretched to the target size: no padding, no shortest-edge resize and no
 *   crop (for encoders fed by a plain resize).
 */
export type PadMode = 'pad' | 'crop' | 'none';

/** `size` of a processor: the shortest edge after resizing, or the exact size. */
export type ImageSize = { readonly shortestEdge: number } | { readonly height: number; readonly width: number };

/** A height and width in pixels. */
export interface Extent {
  readonly height: number;
  readonly width: number;
}

/** An RGB triple (per-channel mean or std). */
export type Rgb = readonly [number, number, number];

/**
 * The settings of an image processor, as in a Hugging Face `preprocessor_config.json` (see
 * `loadImageProcessorConfig`). Each one left out takes FastVLM's value (`fastVlmDefaults`).
 */
export interface ImageProcessorSettings {
  /** LLaVA's `image_aspect_ratio` ("pad" -> 'pad', "square" -> 'crop'). @default 'pad' */
  readonly padMode?: PadMode;
  /** `do_resize`. @default true */
  readonly doResize?: boolean;
  /** `size`. @default { shortestEdge: the larger target side } */
  readonly size?: ImageSize;
  /** `resample` (Pillow's code 3 is bicubic). @default 'bicubic' */
  readonly resample?: ResampleFilter;
  /** `do_center_crop`. @default true */
  readonly doCenterCrop?: boolean;
  /** `crop_size`. @default the target's height and width */
  readonly cropSize?: Extent;
  /** `do_rescale`. @default true */
  readonly doRescale?: boolean;
  /** `rescale_factor`. @default 1 / 255 */
  readonly rescaleFactor?: number;
  /** `do_normalize`. @default true */
  readonly doNormalize?: boolean;
  /** `image_mean`; also expand2square's colour (`int(mean * 255)`) and what alpha is flattened onto. @default [0, 0, 0] */
  readonly imageMean?: Rgb;
  /** `image_std`. @default [1, 1, 1] */
  readonly imageStd?: Rgb;
}

/** Settings with every field decided. */
export type ResolvedProcessor = { readonly [K in keyof ImageProcessorSettings]-?: Exclude<ImageProcessorSettings[K], undefined> };

const SETTING_KEYS: Readonly<Record<keyof ImageProcessorSettings, true>> = {
  padMode: true, doResize: true, size: true, resample: true, doCenterCrop: true, cropSize: true,
  doRescale: true, rescaleFactor: true, doNormalize: true, imageMean: true, imageStd: true,
};

/**
 * FastVLM's processor for a target of `height` x `width`: expand2square, bicubic resize of the
 * shortest edge to the larger target side (the smallest square covering the crop), centre crop to
 * the target, rescale 1/255, mean 0 and std 1: the `CLIPImageProcessor` FastVLM's MobileCLIP tower
 * builds, behind the checkpoint's `image_aspect_ratio: "pad"`.
 */
export function fastVlmDefaults(target: Extent): ResolvedProcessor {
  return {
    padMode: 'pad',
    doResize: true,
    size: { shortestEdge: Math.max(target.height, target.width) },
    resample: 'bicubic',
    doCenterCrop: true,
    cropSize: { height: target.height, width: target.width },
    doRescale: true,
    rescaleFactor: 1 / 255,
    doNormalize: true,
    imageMean: [0, 0, 0],
    imageStd: [1, 1, 1],
  };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

function bad(path: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${path} must be ${expected}, got ${describe(value)}`);
}

function positiveInteger(path: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0) throw bad(path, 'a positive integer', value);
  return value as number;
}

function boolean(path: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw bad(path, 'true or false', value);
  return value;
}

function rgb(path: string, value: unknown, nonZero: boolean): Rgb {
  if (!Array.isArray(value) || value.length !== 3) throw bad(path, 'an array of 3 numbers (R, G, B)', value);
  value.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (nonZero && v === 0)) {
      throw bad(`${path}[${i}]`, nonZero ? 'a finite non-zero number' : 'a finite number', v);
    }
  });
  return [value[0], value[1], value[2]];
}

function extent(path: string, value: unknown): Extent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(path, 'an object {height, width}', value);
  const { height, width, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new InvalidArgumentError(`${path}: unknown key "${extra[0]}" (known: height, width)`);
  return { height: positiveInteger(`${path}.height`, height), width: positiveInteger(`${path}.width`, width) };
}

function imageSize(path: string, value: unknown): ImageSize {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'shortestEdge' in value) {
    const { shortestEdge, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new InvalidArgumentError(`${path}: unknown key "${extra[0]}" next to shortestEdge`);
    return { shortestEdge: positiveInteger(`${path}.shortestEdge`, shortestEdge) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(path, 'an object {shortestEdge} or {height, width}', value);
  return extent(path, value);
}

/**
 * `settings` (each field checked) over FastVLM's defaults for the target's size.
 * @param what names the settings in messages, e.g. `options.processor`
 * @throws InvalidArgumentError naming the field: an unknown key or a value of the wrong type
 */
export function resolveProcessor(settings: ImageProcessorSettings | undefined, target: ResolvedTarget, what = 'processor'): ResolvedProcessor {
  const defaults = fastVlmDefaults(target);
  if (settings === undefined) return defaults;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw bad(what, 'an object of image processor settings', settings);
  }
  for (const key of Object.keys(settings)) {
    if (!Object.hasOwn(SETTING_KEYS, key)) {
      throw new InvalidArgumentError(`${what}: unknown setting "${key}" (known: ${Object.keys(SETTING_KEYS).join(', ')})`);
    }
  }
  const s = settings as Record<keyof ImageProcessorSettings, unknown>;
  const pick = <T>(key: keyof ImageProcessorSettings, check: (path: string, value: unknown) => T, fallback: T): T =>
    s[key] === undefined ? fallback : check(`${what}.${key}`, s[key]);
  const padMode = pick('padMode', (path, v) => {
    if (v !== 'pad' && v !== 'crop' && v !== 'none') throw bad(path, '"pad", "crop" or "none"', v);
    return v as PadMode;
  }, defaults.padMode);
  const resample = pick('resample', (path, v) => {
    if (!RESAMPLE_FILTERS.includes(v as ResampleFilter)) throw bad(path, RESAMPLE_FILTERS.map((f) => `"${f}"`).join(', '), v);
    return v as ResampleFilter;
  }, defaults.resample);
  const rescaleFactor = pick('rescaleFactor', (path, v) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(path, 'a finite number > 0', v);
    return v;
  }, defaults.rescaleFactor);
  return {
    padMode,
    doResize: pick('doResize', boolean, defaults.doResize),
    size: pick('size', imageSize, defaults.size),
    resample,
    doCenterCrop: pick('doCenterCrop', boolean, defaults.doCenterCrop),
    cropSize: pick('cropSize', extent, defaults.cropSize),
    doRescale: pick('doRescale', boolean, defaults.doRescale),
    rescaleFactor,
    doNormalize: pick('doNormalize', boolean, defaults.doNormalize),
    imageMean: pick('imageMean', (path, v) => rgb(path, v, false), defaults.imageMean),
    imageStd: pick('imageStd', (path, v) => rgb(path, v, true), defaults.imageStd),
  };
}

/**
 * The padding colour of expand2square: `int(mean * 255)` per channel, as LLaVA's `process_images`
 * computes it (Python's int() truncates toward zero), kept within 0..255.
 */
export function padColour(processor: ResolvedProcessor): Rgb {
  const c = processor.imageMean.map((m) => Math.min(255, Math.max(0, Math.trunc(m * 255))));
  return [c[0], c[1], c[2]];
}
