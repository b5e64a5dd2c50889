/** Hugging Face Qwen2 checkpoint folders: `config.json` plus `model.safetensors` (or sharded with an index). */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError, NotSupportedError } from '../../errors.js';
import { SafetensorsReader, writeSafetensors, type FloatTensor } from '../../formats/safetensors.js';
import { CheckpointError } from './errors.js';
import { qwen2ConfigProblem, qwen2WeightsProblem, type Qwen2Checkpoint, type Qwen2Config } from './qwen2.js';
import { describeFirstIssue } from './zod-issue.js';

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

const hfConfigSchema = z.looseObject({
  model_type: z.literal('qwen2').optional(),
  hidden_size: z.int().positive(),
  num_attention_heads: z.int().positive(),
  num_key_value_heads: z.int().positive(),
  head_dim: z.int().positive().optional(),
  intermediate_size: z.int().positive(),
  num_hidden_layers: z.int().positive(),
  rms_norm_eps: z.number().positive(),
  vocab_size: z.int().positive(),
  rope_theta: z.number().positive(),
  tie_word_embeddings: z.boolean().default(false),
  max_position_embeddings: z.int().positive(),
});

const indexSchema = z.looseObject({ weight_map: z.record(z.string(), z.string()) });

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CheckpointError(`cannot read "${path}": ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`"${path}" is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

async function readConfig(path: string): Promise<Qwen2Config> {
  const json = await readJson(path);
  const scaling = (json as { rope_scaling?: unknown } | null)?.rope_scaling;
  if (scaling !== undefined && scaling !== null) {
    throw new NotSupportedError(`"${path}": key rope_scaling ${JSON.stringify(scaling)} is not supported (only plain RoPE)`);
  }
  const parsed = hfConfigSchema.safeParse(json);
  if (!parsed.success) throw new CheckpointError(`"${path}": ${describeFirstIssue(parsed.error)}`);
  const c = parsed.data;
  const config: Qwen2Config = {
    hiddenSize: c.hidden_size,
    numAttentionHeads: c.num_attention_heads,
    numKeyValueHeads: c.num_key_value_heads,
    headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    numHiddenLayers: c.num_hidden_layers,
    rmsNormEps: c.rms_norm_eps,
    vocabSize: c.vocab_size,
    ropeTheta: c.rope_theta,
    tieWordEmbeddings: c.tie_word_embeddings,
    maxPositionEmbeddings: c.max_position_embeddings,
  };
  if (c.head_dim === undefined && c.hidden_size % c.num_attention_heads !== 0) {
    throw new CheckpointError(
      `"${path}": key hidden_size: ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`,
    );
  }
  const problem = qwen2ConfigProblem(config);
  if (problem !== null) throw new CheckpointError(`"${path}": ${problem}`);
  return config;
}

/** The safetensors files of a checkpoint: `model.safetensors`, or the shards its index names. */
async function weightFiles(dir: string): Promise<string[]> {
  const indexPath = join(dir, INDEX_FILE);
  const sharded = await access(indexPath).then(
    () => true,
    () => false,
  );
  if (!sharded) return [join(dir, WEIGHTS_FILE)];
  const parsed = indexSchema.safeParse(await readJson(indexPath));
  if (!parsed.success) throw new CheckpointError(`"${indexPath}": ${describeFirstIssue(parsed.error)}`);
  return [...new Set(Object.values(parsed.data.weight_map))].map((file) => join(dir, file));
}

/** Loads a Qwen2 checkpoint folder, converting F32/F16/BF16 weights to float32. */
export async function loadHfQwen2(dir: string): Promise<Qwen2Checkpoint> {
  const config = await readConfig(join(dir, CONFIG_FILE));
  const weights = new Map<string, FloatTensor>();
  for (const file of await weightFiles(dir)) {
    const reader = await SafetensorsReader.open(file);
    try {
      for (const name of reader.tensors.keys()) weights.set(name, await reader.readTensor(name));
    } finally {
      await reader.close();
    }
  }
  const problem = qwen2WeightsProblem(config, weights);
  if (problem !== null) throw new CheckpointError(`checkpoint "${dir}": ${problem}`);
  return { config, weights };
}

/** Writes a checkpoint folder Hugging Face transformers can load (float32 weights). */
export async function writeHfQwen2(dir: string, checkpoint: Qwen2Checkpoint): Promise<void> {
  const { config, weights } = checkpoint;
  const problem = qwen2ConfigProblem(config) ?? qwen2WeightsProblem(config, weights);
  if (problem !== null) throw new InvalidArgumentError(`checkpoint: ${problem}`);
  const json = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: config.hiddenSize,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    ...(config.headDim * config.numAttentionHeads !== config.hiddenSize ? { head_dim: config.headDim } : {}),
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    rms_norm_eps: config.rmsNormEps,
    vocab_size: config.vocabSize,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    max_position_embeddings: config.maxPositionEmbeddings,
    use_sliding_window: false,
    torch_dtype: 'float32',
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
  await writeSafetensors(join(dir, WEIGHTS_FILE), weights, { format: 'pt' });
}
