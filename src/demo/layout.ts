/** File names inside a demo bundle (all relative to the bundle folder). */
import type { DemoOptions } from './options.js';
import { demoVisionFiles, IMAGE_ENCODER_CONFIG_FILE } from './vision-encoder.js';

/** The vision encoder's files inside `VISION_DIR` (its config is moved up to `IMAGE_ENCODER_FILE`). */
export function demoVisionBundleFiles(): string[] {
  return demoVisionFiles(DEMO_VISION_SPLIT).filter((f) => f !== IMAGE_ENCODER_CONFIG_FILE).map((f) => `${VISION_DIR}/${f}`);
}

/** The seed's layout: encoder, then the projector as its own graph. */
export const DEMO_VISION_SPLIT = { split: 'separate' } as const;

export const CONFIG_FILE = 'genie_config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
/** The tokenizer's Hugging Face config, which holds its chat template (Qwen's): `Dialog.chat` reads it. */
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const LUT_FILE = 'embedding_lut.bin';
export const README_FILE = 'README.txt';
export const MANIFEST_FILE = 'demo.json';
export const HF_DIR = 'hf';
/** A vision bundle's image-encoder config (Genie's node form), its pipeline text generator, and the folder of its vision files. */
export const IMAGE_ENCODER_FILE = 'image-encoder.json';
export const TEXT_GENERATOR_FILE = 'text-generator.json';
export const VISION_DIR = 'vision';
/** What `writeHfQwen2` writes into `HF_DIR`. */
const HF_FILES = ['config.json', 'model.safetensors'] as const;

/** Reference ctx-bins are safetensors files; named like AI Hub's `{model}_part_{i}_of_{N}.bin`. */
export function ctxBinFiles(options: DemoOptions): string[] {
  return Array.from({ length: options.splits }, (_, i) => `demo_part_${i + 1}_of_${options.splits}.safetensors`);
}

/** Every file of a bundle but the manifest, sorted. */
export function bundleFiles(options: DemoOptions): string[] {
  return [
    CONFIG_FILE,
    TOKENIZER_FILE,
    TOKENIZER_CONFIG_FILE,
    README_FILE,
    ...ctxBinFiles(options),
    ...HF_FILES.map((file) => `${HF_DIR}/${file}`),
    ...(options.input === 'embeds' ? [LUT_FILE] : []),
    ...(options.vision ? [IMAGE_ENCODER_FILE, TEXT_GENERATOR_FILE, ...demoVisionBundleFiles()] : []),
  ].sort();
}
