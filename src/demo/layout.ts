/** File names inside a demo bundle (all relative to the bundle folder). */
import type { DemoOptions } from './options.js';

export const CONFIG_FILE = 'genie_config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const LUT_FILE = 'embedding_lut.bin';
export const README_FILE = 'README.txt';
export const MANIFEST_FILE = 'demo.json';
export const HF_DIR = 'hf';
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
    README_FILE,
    ...ctxBinFiles(options),
    ...HF_FILES.map((file) => `${HF_DIR}/${file}`),
    ...(options.input === 'embeds' ? [LUT_FILE] : []),
  ].sort();
}
