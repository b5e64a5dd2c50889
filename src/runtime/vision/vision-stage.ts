import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, NotSupportedError } from '../../errors.js';
import type { TensorSpec } from '../../graphs/spec.js';
import { elementCount } from '../../tensor/shape.js';
import { byteSize, type ElementArray } from '../../tensor/dtype.js';
import { typedView } from '../../tensor/views.js';
import { loadImageProcessorConfig, preprocessImage, readPixelTensorFile, type ImageProcessorSettings } from '../../vision/index.js';
import type { BackendOptions } from '../backend-factory.js';
import type { ImageRows } from '../spliced-prompt.js';
import type { ImageEmbedder, ImageInput } from './embedder.js';
import { ImageEncoder } from './image-encoder.js';

/** Image files with this extension are preprocessed pixel tensors, read as they are. */
export const RAW_PIXELS_EXTENSION = '.raw';

/** The file name Hugging Face gives an image processor's settings, looked for beside the image-encoder config. */
export const PROCESSOR_CONFIG_FILE = 'preprocessor_config.json';

export interface VisionStageOptions {
  /** Folder a config object's relative paths resolve against (default: the current directory). */
  readonly baseDir?: string;
  readonly backend?: BackendOptions;
  /**
   * The image processor: settings, or the path of a Hugging Face `preprocessor_config.json`.
   * Default: that file beside the image-encoder config file when there is one, else FastVLM's
   * processor sized by the encoder's `pixel_values` shape.
   */
  readonly processor?: ImageProcessorSettings | string;
  /**
   * Bytes of the encoder's other inputs (`position_ids_sin`, `position_ids_cos`,
   * `full_attention_mask`, `window_attention_mask`), the same for every image, as AI Hub exports
   * them for a fixed image size; each exactly its tensor's byte size.
   */
  readonly fixedInputs?: Readonly<Record<string, Uint8Array>>;
  /** Decompression-bomb bound of `preprocessImage` (pixels an image may declare). */
  readonly maxPixels?: number;
}

/**
 * The vision stage of a VLM as one `ImageEmbedder`: an image file (path or bytes) is decoded and
 * preprocessed for the encoder's `pixel_values` (sharp, FastVLM's processor), a preprocessed pixel
 * tensor is taken as it is, then the image-encoder graph and a separate projector graph run.
 */
export class VisionStage implements ImageEmbedder {
  readonly rows: number;
  readonly width: number;
  /** The encoder's `pixel_values` input. */
  readonly pixelValues: TensorSpec;

  private constructor(
    readonly encoder: ImageEncoder,
    private readonly processor: ImageProcessorSettings | undefined,
    private readonly fixed: ReadonlyMap<string, Uint8Array>,
    private readonly maxPixels: number | undefined,
  ) {
    this.rows = encoder.rows;
    this.width = encoder.width;
    this.pixelValues = encoder.pixelValues;
  }

  /**
   * Opens the image encoder of a Genie `image-encoder` config (a path, or an object whose paths
   * resolve against `options.baseDir`) and its image processor.
   * @throws what `ImageEncoder.open` and `loadImageProcessorConfig` throw; NotSupportedError when
   * the encoder takes inputs besides `pixel_values` that `fixedInputs` does not give.
   */
  static async open(config: string | object, options: VisionStageOptions = {}): Promise<VisionStage> {
    const { processor, fixedInputs = {}, maxPixels } = options;
    const settings = await processorSettings(config, processor);
    const encoder = await ImageEncoder.open(config, { baseDir: options.baseDir, backend: options.backend });
    try {
      return new VisionStage(encoder, settings, fixedInputMap(encoder, fixedInputs), maxPixels);
    } catch (error) {
      await encoder.dispose();
      throw error;
    }
  }

  async embed(image: ImageInput, signal?: AbortSignal): Promise<ImageRows> {
    const start = process.hrtime.bigint();
    const pixels = await this.pixelBytes(image);
    const preprocessUs = Number(process.hrtime.bigint() - start) / 1e3;
    const inputs = new Map(this.fixed);
    inputs.set(this.pixelValues.name, pixels);
    const encoded = await this.encoder.encode(inputs, { signal });
    const { dtype, encoding } = encoded.spec;
    return {
      rows: { data: typedView(encoded.bytes, dtype) as ElementArray, dtype, encoding },
      timings: { preprocessUs, encoderUs: encoded.timings.encoderMs * 1e3, projectorUs: encoded.timings.projectorMs * 1e3 },
    };
  }

  dispose(): Promise<void> {
    return this.encoder.dispose();
  }

  /**
   * `pixel_values` bytes: an image decoded and preprocessed; a `.raw` file taken as the tensor itself
   * (Genie's `node set image`, AI Hub's `pixel_values.raw`); or a pixel tensor of exactly the input's size.
   */
  private async pixelBytes(image: ImageInput): Promise<Uint8Array> {
    if (typeof image === 'string' && image.toLowerCase().endsWith(RAW_PIXELS_EXTENSION)) {
      return (await readPixelTensorFile(image, this.pixelValues)).bytes;
    }
    if (typeof image === 'string' || image instanceof Uint8Array) {
      const tensor = await preprocessImage(image, { target: this.pixelValues, processor: this.processor, maxPixels: this.maxPixels });
      return tensor.bytes;
    }
    const expected = elementCount(this.pixelValues.shape) * byteSize(this.pixelValues.dtype);
    if (image.bytes.byteLength !== expected) {
      throw new InvalidArgumentError(
        `the pixel tensor has ${image.bytes.byteLength} bytes but the encoder's "${this.pixelValues.name}" ` +
          `[${this.pixelValues.shape.join(', ')}] ${this.pixelValues.dtype} takes ${expected}`,
      );
    }
    return image.bytes;
  }
}

/** The processor settings: given, read from a file, or found beside a config file. */
async function processorSettings(config: string | object, processor: ImageProcessorSettings | string | undefined): Promise<ImageProcessorSettings | undefined> {
  if (typeof processor === 'string') return loadImageProcessorConfig(processor);
  if (processor !== undefined) return processor;
  if (typeof config !== 'string') return undefined;
  const beside = join(dirname(resolve(config)), PROCESSOR_CONFIG_FILE);
  return existsSync(beside) ? loadImageProcessorConfig(beside) : undefined;
}

function fixedInputMap(encoder: ImageEncoder, fixedInputs: Readonly<Record<string, Uint8Array>>): Map<string, Uint8Array> {
  if (typeof fixedInputs !== 'object' || fixedInputs === null) throw new InvalidArgumentError('fixedInputs must be an object of input bytes by tensor name');
  const others = encoder.inputs.filter((t) => t.name !== encoder.pixelValues.name);
  const names = new Set(others.map((t) => t.name));
  for (const name of Object.keys(fixedInputs)) {
    if (!names.has(name)) {
      throw new InvalidArgumentError(
        `fixedInputs.${name}: the image encoder has no such input besides "${encoder.pixelValues.name}"` +
          (names.size > 0 ? ` (it has ${[...names].join(', ')})` : ''),
      );
    }
  }
  const missing = others.filter((t) => fixedInputs[t.name] === undefined).map((t) => t.name);
  if (missing.length > 0) {
    throw new NotSupportedError(
      `the image encoder also takes ${missing.join(', ')}: give their bytes (the same for every image of its size) as fixedInputs`,
    );
  }
  return new Map(others.map((t) => [t.name, fixedInputs[t.name]]));
}
