/** Writes a demo bundle: the files of one random-weight model, built in a staging folder and renamed into place. */
import { copyFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeHfQwen2, writeReferenceCtxBin } from '../backends/reference/index.js';
import { demoTokenizerPath } from '../runtime/tokenizer/index.js';
import { installDir, makeStagingDir, removeLeftovers, targetState } from '../formats/atomic-dir.js';
import { DemoBundleError } from './errors.js';
import { demoGenieConfig } from './genie-config.js';
import {
  bundleFiles, CONFIG_FILE, ctxBinFiles, DEMO_VISION_SPLIT, HF_DIR, IMAGE_ENCODER_FILE, LUT_FILE, MANIFEST_FILE, README_FILE,
  TEXT_GENERATOR_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, VISION_DIR,
} from './layout.js';
import { writeDemoVisionEncoder } from './vision-encoder.js';
import { DEMO_FORMAT_VERSION, manifestText, readDemoManifest } from './manifest.js';
import { demoCheckpoint, DEMO_VOCAB_SIZE } from './model.js';
import { describeDemoOptions, resolveDemoOptions, type DemoOptions } from './options.js';
import { demoParts } from './parts.js';
import { demoIo } from './quantize.js';

/** The placeholder of a vision bundle's prompts, added to its tokenizer. */
export const IMAGE_TOKEN = '<image>';

/** The demo VLM's vision tower: 64x64 images in 16x16 patches, 16 rows per image. */
const DEMO_VISION_SHAPE = { imageSize: 64, patch: 16, visionWidth: 64, layers: 2, heads: 4 } as const;

/** Scratch folder of the htp calibration inside the staging folder (removed before the bundle is installed). */
const CALIBRATION_DIR = '.calibration';

export interface DemoBundle {
  /** Absolute path of the bundle folder. */
  readonly dir: string;
  /** Absolute path of its `genie_config.json`. */
  readonly configPath: string;
  /** The options it was built from, defaults filled in. */
  readonly options: DemoOptions;
}

export type ProgressCallback = (message: string) => void;

export interface WriteDemoOptions extends Partial<DemoOptions> {
  /** Replace the folder when it already holds a demo bundle (never any other folder). */
  readonly force?: boolean;
  readonly onProgress?: ProgressCallback;
}

export const bundleAt = (dir: string, options: DemoOptions): DemoBundle => ({
  dir,
  configPath: join(dir, CONFIG_FILE),
  options,
});

const QUANT_NOTES: Readonly<Record<DemoOptions['quant'], string>> = {
  none: 'Graph IO is float32.',
  htp:
    'Graph IO is quantized as AI Hub HTP exports present it: KV cache uint8 (symmetric, zero point 128), attention mask, ' +
    'cos/sin, embeddings, hidden states and logits uint16, with encodings calibrated on this model (weights stay float32).',
  fp16: 'Graph IO is float16 (AI Hub "w4" precision; weights stay float32).',
};

function readme(options: DemoOptions): string {
  return [
    `genie-ts demo bundle: a Qwen2-architecture model with Qwen2.5's vocabulary (${DEMO_VOCAB_SIZE}) as reference ctx-bins ` +
      `and ${CONFIG_FILE} (Reference backend), plus the same weights as a Hugging Face checkpoint in ${HF_DIR}/. ` +
      QUANT_NOTES[options.quant],
    'Its weights are random (seeded): it exercises the whole runtime loop, but the text it generates is gibberish.',
    ...(options.vision
      ? [
        `A VLM: ${IMAGE_ENCODER_FILE} runs a ViT image encoder and FastVLM's mlp2x_gelu projector (${VISION_DIR}/, random weights, ` +
          `checkpoint in ${VISION_DIR}/hf/) whose 16 rows per 64x64 image are spliced at each ${IMAGE_TOKEN} of the prompt ` +
          `(genie-ts run -c ${CONFIG_FILE} --image FILE -p "${IMAGE_TOKEN}..."); ${TEXT_GENERATOR_FILE} is the decoder as a Genie pipeline node.`,
      ]
      : []),
    `Built by genie-ts demo (bundle format ${DEMO_FORMAT_VERSION}) with ${describeDemoOptions(options)}.`,
  ].join('\n') + '\n';
}

/** Writes every file of the bundle into the empty folder `dir`, the manifest last. */
async function writeBundleFiles(dir: string, options: DemoOptions, report: ProgressCallback): Promise<void> {
  report(`generating random weights (${describeDemoOptions(options)})`);
  const checkpoint = demoCheckpoint(options);
  if (options.quant === 'htp') report('calibrating the quantization on the float model');
  const io = await demoIo(options, checkpoint, join(dir, CALIBRATION_DIR));
  const parts = demoParts(options, checkpoint, io.tensorTypes);
  const ctxBins = ctxBinFiles(options);
  for (const [i, part] of parts.entries()) {
    report(`writing ${ctxBins[i]}`);
    await writeReferenceCtxBin(join(dir, ctxBins[i]), part);
  }
  report(`writing the Hugging Face checkpoint ${HF_DIR}/`);
  await writeHfQwen2(join(dir, HF_DIR), checkpoint);
  if (io.lutBytes !== undefined) await writeFile(join(dir, LUT_FILE), io.lutBytes);
  const config = demoGenieConfig(options, ctxBins, io.lut);
  await writeFile(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  if (options.vision) {
    await writeVisionFiles(dir, options, config, report);
  } else {
    await copyFile(demoTokenizerPath(), join(dir, TOKENIZER_FILE));
  }
  await copyFile(join(dirname(demoTokenizerPath()), TOKENIZER_CONFIG_FILE), join(dir, TOKENIZER_CONFIG_FILE));
  await writeFile(join(dir, README_FILE), readme(options));
  const sizes: Record<string, number> = {};
  for (const file of bundleFiles(options)) sizes[file] = (await stat(join(dir, file))).size;
  await writeFile(join(dir, MANIFEST_FILE), manifestText(options, sizes));
}

/**
 * The vision side of a VLM bundle: the image encoder and projector in `vision/` (their config moved up
 * to `image-encoder.json`, paths into `vision/`), the decoder as a pipeline `text-generator.json`
 * (its accumulator holds a context of float32 rows), and the tokenizer with `<image>` added as the
 * next id after its own added tokens, as Apple's FastVLM export adds it.
 */
async function writeVisionFiles(dir: string, options: DemoOptions, config: Record<string, unknown>, report: ProgressCallback): Promise<void> {
  report(`writing the image encoder and projector (${VISION_DIR}/)`);
  const vision = await writeDemoVisionEncoder(join(dir, VISION_DIR), {
    ...DEMO_VISION_SHAPE, ...DEMO_VISION_SPLIT, hidden: options.hidden, seed: options.seed, quant: options.quant, backend: options.backend,
  });
  const encoderConfig = JSON.parse(await readFile(vision.configPath, 'utf8')) as { 'image-encoder': { engine: { model: { binary: { 'ctx-bins': string[] } } } } };
  const binary = encoderConfig['image-encoder'].engine.model.binary;
  binary['ctx-bins'] = binary['ctx-bins'].map((bin) => `${VISION_DIR}/${bin}`);
  await writeFile(join(dir, IMAGE_ENCODER_FILE), `${JSON.stringify(encoderConfig, null, 2)}\n`);
  await rm(vision.configPath);
  const generator = { 'text-generator': { ...(config.dialog as object), 'accumulator-size': options.cl * options.hidden * 4 } };
  await writeFile(join(dir, TEXT_GENERATOR_FILE), `${JSON.stringify(generator, null, 2)}\n`);
  const tokenizer = JSON.parse(await readFile(demoTokenizerPath(), 'utf8')) as { added_tokens: { id: number }[] };
  const id = Math.max(...tokenizer.added_tokens.map((t) => t.id)) + 1;
  tokenizer.added_tokens.push({ id, content: IMAGE_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } as never);
  await writeFile(join(dir, TOKENIZER_FILE), JSON.stringify(tokenizer));
}

/** Builds the bundle in a fresh staging folder next to `target` and returns that folder. */
export async function buildStaged(target: string, options: DemoOptions, report: ProgressCallback = () => {}): Promise<string> {
  const staging = await makeStagingDir(target);
  try {
    await writeBundleFiles(staging, options, report);
    return staging;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Writes a demo bundle to `dir` atomically: an interrupted build leaves no partial bundle there.
 * `dir` may be absent or empty; a folder that already holds a demo bundle is replaced only with
 * `force`, and any other folder or file is never touched. Staging folders that killed builds left
 * next to `dir` are removed.
 * @throws DemoOptionError for a bad option (before any I/O).
 * @throws DemoBundleError when `dir` cannot take the bundle.
 */
export async function writeDemoBundle(dir: string, options: WriteDemoOptions = {}): Promise<DemoBundle> {
  const { force = false, onProgress, ...modelOptions } = options;
  const resolved = resolveDemoOptions(modelOptions);
  const target = resolve(dir);
  const state = await targetState(target);
  if (state === 'not-a-folder') throw new DemoBundleError(`output "${target}" exists and is not a folder`);
  const holdsBundle = state === 'non-empty' && (await readDemoManifest(target)) !== null;
  if (state === 'non-empty' && !holdsBundle) {
    throw new DemoBundleError(
      `output folder "${target}" is not empty and is not a demo bundle (no valid ${MANIFEST_FILE}); refusing to overwrite it`,
    );
  }
  if (holdsBundle && !force) {
    throw new DemoBundleError(`output folder "${target}" already holds a demo bundle; pass force (--force) to overwrite it`);
  }
  await removeLeftovers(dirname(target), basename(target));
  const staging = await buildStaged(target, resolved, onProgress);
  try {
    if (!(await installDir(staging, target, holdsBundle))) {
      throw new DemoBundleError(`output folder "${target}" was filled by another writer while the bundle was being built`);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  onProgress?.(`wrote ${target}`);
  return bundleAt(target, resolved);
}
