/**
 * The demo's image encoder: a small random ViT tower and FastVLM's `mlp2x_gelu` projector, written
 * as Genie's image-encoder node (`image-encoder.json`, engine mode "image"), reference ctx-bins (the
 * projector fused into the encoder graph, or a graph of its own: the seed's encoder -> projector ->
 * decoder) and a Hugging Face-style checkpoint (`hf/`: `config.json` and `model.safetensors` with
 * `model.vision_tower.*` and `model.mm_projector.*`). Deterministic from the seed.
 *
 * Pixels follow FastVLM's processor (mean 0, std 1: values in [0, 1], NCHW;
 * docs/genie-behaviour.md#fastvlm-vision-side). With `quant: 'htp'`
 * the IO is uint16 as AI Hub's w8a16 exports present activations
 * (docs/genie-behaviour.md#ai-hub-quantization): `pixel_values` over [0, 1] (known from the
 * normalisation), the features and rows over the range the float model gives on a few synthetic
 * images (constant, gradients, checkerboard, colour bars, noise), widened like the decoder's
 * calibrated tensors. With `fp16` every IO tensor is float16.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import seedrandom from 'seedrandom';
import {
  openReferenceBackend, patchCount, visionCtxBinParts, visionWeightShapes, writeHfVision, writeReferenceCtxBin,
  type ReferenceVisionModel, type TensorType, type VisionCheckpoint,
} from '../backends/reference/index.js';
import type { FloatTensor } from '../formats/index.js';
import { float16IoTypes, htpIoTypes, rangeEncoding, TensorRanges, RangeRecordingBackend } from '../runtime/quant/index.js';
import { ImageEncoder } from '../runtime/vision/image-encoder.js';
import { elementCount } from '../tensor/shape.js';
import { DemoOptionError } from './errors.js';
import { EMBEDDING_LOGIT_STD, fillNormal } from './model.js';
import { DEMO_BACKENDS, DEMO_LIMITS, DEMO_QUANTS, type DemoBackend, type DemoQuant } from './options.js';

/** The image-encoder node's config file. */
export const IMAGE_ENCODER_CONFIG_FILE = 'image-encoder.json';
const ENCODER_CTX_BIN = 'vision_encoder.safetensors';
const PROJECTOR_CTX_BIN = 'vision_projector.safetensors';
/** The Hugging Face checkpoint's folder inside the writer's folder (as in a decoder bundle). */
const HF_DIR = 'hf';
const HF_FILES = ['config.json', 'model.safetensors'] as const;

export interface DemoVisionOptions {
  /** D: the decoder's embedding width, the width of the rows. */
  readonly hidden: number;
  /** Side of the square RGB image (`pixel_values` is `[1, 3, imageSize, imageSize]`). */
  readonly imageSize: number;
  /** Patch size (the patch embedding's kernel and stride): (imageSize / patch)^2 rows. */
  readonly patch: number;
  /** Dv: the tower's width (`mm_hidden_size`). */
  readonly visionWidth: number;
  /** Tower layers. */
  readonly layers: number;
  /** Tower attention heads; `visionWidth` must be a multiple. */
  readonly heads: number;
  readonly seed: number;
  /** IO types: float32, HTP-style uint16, or float16. */
  readonly quant: DemoQuant;
  /** The projector inside the encoder graph, or a graph (and ctx-bin) of its own. */
  readonly split: 'fused' | 'separate';
  /** The config's backend; the ctx-bins do not depend on it. */
  readonly backend: DemoBackend;
}

export const DEFAULT_DEMO_VISION_OPTIONS: DemoVisionOptions = Object.freeze({
  hidden: 64,
  imageSize: 64,
  patch: 16,
  visionWidth: 64,
  layers: 2,
  heads: 4,
  seed: 42,
  quant: 'none',
  split: 'fused',
  backend: 'reference',
});

/** Limits that keep the build quick and the attention's N x N scores small. */
export const DEMO_VISION_LIMITS = Object.freeze({ maxImageSize: 2048, maxRows: 4096, maxWidth: 4096, maxLayers: 32 });

const OPTION_KEYS = Object.keys(DEFAULT_DEMO_VISION_OPTIONS) as (keyof DemoVisionOptions)[];
const SPLITS = ['fused', 'separate'] as const;

function integerIn(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DemoOptionError(option, value, `expected an integer in [${min}, ${max}]`);
  }
  return value;
}

function oneOf<T extends string>(option: string, value: unknown, values: readonly T[]): T {
  if (!(values as readonly unknown[]).includes(value)) throw new DemoOptionError(option, value, `expected ${values.map((v) => `"${v}"`).join(', ')}`);
  return value as T;
}

/**
 * `options` over the defaults, validated.
 * @throws DemoOptionError naming the first bad option and its value (unknown keys included).
 */
export function resolveDemoVisionOptions(options: Partial<DemoVisionOptions> = {}): DemoVisionOptions {
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as string[]).includes(key)) {
      throw new DemoOptionError(key, (options as Record<string, unknown>)[key], `unknown option (options: ${OPTION_KEYS.join(', ')})`);
    }
  }
  const o = { ...DEFAULT_DEMO_VISION_OPTIONS, ...options };
  const hidden = integerIn('hidden', o.hidden, 1, DEMO_LIMITS.maxHidden);
  const imageSize = integerIn('imageSize', o.imageSize, 1, DEMO_VISION_LIMITS.maxImageSize);
  const patch = integerIn('patch', o.patch, 1, imageSize);
  if (imageSize % patch !== 0) throw new DemoOptionError('patch', patch, `does not divide imageSize ${imageSize}`);
  if ((imageSize / patch) ** 2 > DEMO_VISION_LIMITS.maxRows) {
    throw new DemoOptionError('patch', patch, `gives ${(imageSize / patch) ** 2} rows for imageSize ${imageSize}, more than ${DEMO_VISION_LIMITS.maxRows}`);
  }
  const heads = integerIn('heads', o.heads, 1, DEMO_VISION_LIMITS.maxWidth);
  const visionWidth = integerIn('visionWidth', o.visionWidth, 1, DEMO_VISION_LIMITS.maxWidth);
  if (visionWidth % heads !== 0) throw new DemoOptionError('visionWidth', visionWidth, `not a multiple of heads ${heads}`);
  const layers = integerIn('layers', o.layers, 1, DEMO_VISION_LIMITS.maxLayers);
  const seed = integerIn('seed', o.seed, 0, 0xffff_ffff);
  return {
    hidden, imageSize, patch, visionWidth, layers, heads, seed,
    quant: oneOf('quant', o.quant, DEMO_QUANTS),
    split: oneOf('split', o.split, SPLITS),
    backend: oneOf('backend', o.backend, DEMO_BACKENDS),
  };
}

/** The demo's vision model: RGB, MLP ratio 4 (as FastViTHD's), LayerNorm eps 1e-5. */
export function demoVisionModel(options: DemoVisionOptions): ReferenceVisionModel {
  return {
    architecture: 'vision',
    tower: {
      type: 'vit',
      channels: 3,
      imageSize: [options.imageSize, options.imageSize],
      patchSize: options.patch,
      hidden: options.visionWidth,
      heads: options.heads,
      intermediate: 4 * options.visionWidth,
      layers: options.layers,
      layerNormEps: 1e-5,
    },
    projector: { type: 'mlp2x_gelu', inputSize: options.visionWidth, hidden: options.hidden },
  };
}

const BIAS_STD = 0.02;
const POSITION_STD = 0.1;
/** RMS of GELU(x) for x ~ N(0, 1): sqrt(E[(x Phi(x))^2]) = sqrt(0.4252). */
const GELU_RMS = 0.652;

/**
 * The std of a weight, or null for a LayerNorm (weight 1, bias 0). Linear weights are 1/sqrt(fan_in)
 * so activations stay of order 1, except the projector's last layer: it is scaled so the rows have
 * the spread of the demo decoder's token embeddings (EMBEDDING_LOGIT_STD / sqrt(hidden)), so image
 * rows fit a decoder input encoding calibrated on the embedding table.
 */
function stdOf(name: string, shape: readonly number[], hidden: number): number | null {
  if (name.includes('layer_norm') || name.includes('layernorm')) return null;
  if (name === 'model.mm_projector.2.weight') return EMBEDDING_LOGIT_STD / (hidden * GELU_RMS);
  if (name === 'model.mm_projector.2.bias') return 0;
  if (name.endsWith('position_embedding.weight')) return POSITION_STD;
  if (name.endsWith('.bias')) return BIAS_STD;
  return 1 / Math.sqrt(elementCount(shape.slice(1)));
}

/** The demo's weights; each tensor draws from its own stream seeded by the seed and its name. */
export function demoVisionCheckpoint(options: DemoVisionOptions): VisionCheckpoint {
  const model = demoVisionModel(options);
  const weights = new Map<string, FloatTensor>();
  for (const [name, shape] of visionWeightShapes(model)) {
    const data = new Float32Array(elementCount(shape));
    const std = stdOf(name, shape, options.hidden);
    if (std === null) data.fill(name.endsWith('.weight') ? 1 : 0);
    else if (std > 0) fillNormal(data, std, seedrandom.alea(`genie-ts-demo-vision:${options.seed}:${name}`));
    weights.set(name, { shape, data });
  }
  return { model, weights };
}

/**
 * Synthetic calibration images in [0, 1], NCHW: black, white, horizontal and vertical gradients, a
 * checkerboard of half-patch squares, colour bars, and seeded noise.
 */
export function calibrationImages(options: DemoVisionOptions): Float32Array[] {
  const s = options.imageSize;
  const at = (fn: (c: number, y: number, x: number) => number): Float32Array => {
    const out = new Float32Array(3 * s * s);
    for (let c = 0; c < 3; c++) for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) out[(c * s + y) * s + x] = fn(c, y, x);
    return out;
  };
  const ramp = (i: number): number => (s === 1 ? 0 : i / (s - 1));
  const square = Math.max(1, options.patch >> 1);
  const random = seedrandom.alea(`genie-ts-demo-vision-calibration:${options.seed}`);
  return [
    at(() => 0),
    at(() => 1),
    at((c, _y, x) => (c === 1 ? 1 - ramp(x) : ramp(x))),
    at((c, y) => (c === 2 ? 1 - ramp(y) : ramp(y))),
    at((_c, y, x) => ((Math.floor(y / square) + Math.floor(x / square)) % 2 === 0 ? 1 : 0)),
    at((c, _y, x) => ((Math.floor((x * 7) / s) >> c) & 1)),
    at(() => random()),
  ];
}

/** The IO types of `quant`: calibrated on the float model for `htp`. */
async function demoVisionIoTypes(options: DemoVisionOptions, checkpoint: VisionCheckpoint): Promise<Record<string, TensorType>> {
  const floatParts = visionCtxBinParts({ checkpoint, split: options.split });
  const graphs = floatParts.flatMap((part) => part.metadata.graphs);
  if (options.quant === 'none') return {};
  if (options.quant === 'fp16') return float16IoTypes(graphs);
  const scratch = await mkdtemp(join(tmpdir(), 'genie-ts-vision-calibration-'));
  try {
    const paths = floatParts.map((_, i) => join(scratch, `float_part_${i + 1}.safetensors`));
    for (const [i, part] of floatParts.entries()) await writeReferenceCtxBin(paths[i], part);
    const ranges = new TensorRanges();
    const encoder = ImageEncoder.create(new RangeRecordingBackend(await openReferenceBackend(paths), ranges));
    try {
      for (const image of calibrationImages(options)) {
        await encoder.encode(new Map([[encoder.pixelValues.name, new Uint8Array(image.buffer)]]));
      }
    } finally {
      await encoder.dispose();
    }
    const types = htpIoTypes(graphs, ranges);
    // The pixel range is the normalisation's, not what the calibration images happened to cover.
    types[encoder.pixelValues.name] = { dtype: 'UFIXED_POINT_16', encoding: rangeEncoding({ min: 0, max: 1 }, 'UFIXED_POINT_16') };
    return types;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The ctx-bin files, in run order (bundle-relative). */
export function demoVisionCtxBins(options: Pick<DemoVisionOptions, 'split'>): string[] {
  return options.split === 'fused' ? [ENCODER_CTX_BIN] : [ENCODER_CTX_BIN, PROJECTOR_CTX_BIN];
}

/** Every file `writeDemoVisionEncoder` writes, sorted (bundle-relative). */
export function demoVisionFiles(options: Pick<DemoVisionOptions, 'split'>): string[] {
  return [IMAGE_ENCODER_CONFIG_FILE, ...demoVisionCtxBins(options), ...HF_FILES.map((f) => `${HF_DIR}/${f}`)].sort();
}

/** The QnnHtp block of Genie's image-encoder examples (docs/genie-behaviour.md#qnnhtp-block). */
const QNN_HTP_BACKEND = { version: 1, type: 'QnnHtp', QnnHtp: { version: 1, 'spill-fill-bufsize': 0, 'use-mmap': true, 'allow-async-init': false } };

/** `image-encoder.json`'s object: Genie's image-encoder node with ctx-bin paths relative to it. */
export function demoImageEncoderConfig(options: Pick<DemoVisionOptions, 'backend'>, ctxBins: readonly string[]): Record<string, unknown> {
  return {
    'image-encoder': {
      version: 1,
      engine: {
        version: 1,
        mode: 'image',
        backend: options.backend === 'qnn-htp' ? QNN_HTP_BACKEND : { version: 1, type: 'Reference' },
        model: { version: 1, type: 'binary', binary: { version: 1, 'ctx-bins': [...ctxBins] } },
      },
    },
  };
}

/** What `writeDemoVisionEncoder` wrote. */
export interface DemoVisionEncoder {
  /** Absolute path of the folder. */
  readonly dir: string;
  /** Absolute path of `image-encoder.json`. */
  readonly configPath: string;
  /** Folder-relative ctx-bin files, run order. */
  readonly ctxBins: readonly string[];
  /** Folder-relative paths of every file written, sorted. */
  readonly files: readonly string[];
  readonly options: DemoVisionOptions;
  /** Image rows (`(imageSize / patch)^2`) and their width (`hidden`). */
  readonly rows: number;
  readonly width: number;
}

/**
 * Writes the demo image encoder into `dir` (created if absent; the files are overwritten, nothing
 * else in the folder is touched). Not atomic: the demo bundle builds it inside its staging folder.
 * @throws DemoOptionError for a bad option (before any I/O).
 */
export async function writeDemoVisionEncoder(dir: string, options: Partial<DemoVisionOptions> = {}): Promise<DemoVisionEncoder> {
  const resolved = resolveDemoVisionOptions(options);
  const target = resolve(dir);
  const checkpoint = demoVisionCheckpoint(resolved);
  const tensorTypes = await demoVisionIoTypes(resolved, checkpoint);
  const parts = visionCtxBinParts({ checkpoint, split: resolved.split, tensorTypes });
  const ctxBins = demoVisionCtxBins(resolved);
  await mkdir(target, { recursive: true });
  for (const [i, part] of parts.entries()) await writeReferenceCtxBin(join(target, ctxBins[i]), part);
  await writeHfVision(join(target, HF_DIR), checkpoint);
  const configPath = join(target, IMAGE_ENCODER_CONFIG_FILE);
  await writeFile(configPath, `${JSON.stringify(demoImageEncoderConfig(resolved, ctxBins), null, 2)}\n`);
  return {
    dir: target,
    configPath,
    ctxBins,
    files: demoVisionFiles(resolved),
    options: resolved,
    rows: patchCount(checkpoint.model.tower!),
    width: resolved.hidden,
  };
}
