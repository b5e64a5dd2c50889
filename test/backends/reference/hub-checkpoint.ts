/**
 * Test helpers for exports: a Hugging Face checkpoint folder as the Hub has it, and the greedy
 * tokens a bundle's config generates through `Dialog`.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FloatTensor } from '../../../src/formats/index.js';
import { Dialog } from '../../../src/runtime/dialog.js';
import { demoTokenizerPath } from '../../../src/runtime/tokenizer/index.js';
import { hfConfig, randomHfWeights, writeHfFolder, type Family, type HfJson, type StoredDType } from './decoder-oracle.js';

export const HUB_VOCAB = 1024;
/** generation_config.json's EOS list (config.json names the first). */
export const HUB_EOS = [1000, 1001];

export interface HubCheckpoint {
  readonly dir: string;
  readonly json: HfJson;
  /** The weights as stored (rounded to the stored dtype). */
  readonly stored: Map<string, FloatTensor>;
}

export interface HubCheckpointOptions {
  readonly dtype?: StoredDType;
  readonly shards?: number;
  readonly overrides?: HfJson;
  readonly addBos?: boolean;
}

/**
 * `root/hf-<name>`: config.json, weights (seeded by `name`), tokenizer.json (Qwen's: every id below
 * HUB_VOCAB decodes), tokenizer_config.json with a chat template, generation_config.json with the
 * EOS list. The EOS rows of the LM head are zero, so greedy decoding never stops by chance.
 */
export async function writeHubCheckpoint(root: string, family: Family, name: string, options: HubCheckpointOptions = {}): Promise<HubCheckpoint> {
  const dir = join(root, `hf-${name}`);
  const json = hfConfig(family, { vocab_size: HUB_VOCAB, eos_token_id: HUB_EOS[0], ...options.overrides });
  const weights = randomHfWeights(json, name);
  const head = weights.get('lm_head.weight')!.data;
  const hidden = json.hidden_size as number;
  for (const id of HUB_EOS) head.fill(0, id * hidden, (id + 1) * hidden);
  const stored = await writeHfFolder(dir, json, weights, { dtype: options.dtype, shards: options.shards });
  copyFileSync(demoTokenizerPath(), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: options.addBos ?? false, chat_template: '{{ messages }}' }));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: HUB_EOS, do_sample: false }));
  return { dir, json, stored };
}

/** Greedy tokens and their logits rows (float32 copies) from Dialog.create of `configPath`. */
export async function greedyRun(
  configPath: string,
  tokens: readonly number[],
  steps: number,
): Promise<{ tokens: number[]; rows: Float32Array[]; promptTokens: readonly number[] }> {
  const dialog = await Dialog.create(configPath);
  const got: number[] = [];
  const rows: Float32Array[] = [];
  try {
    const query = dialog.tokenQuery(tokens, { maxTokens: steps, onLogits: (row, token) => (got.push(token), rows.push(row.slice())) });
    let step = await query.next();
    while (!step.done) step = await query.next();
    return { tokens: got, rows, promptTokens: step.value.promptTokens };
  } finally {
    await dialog.dispose();
  }
}
