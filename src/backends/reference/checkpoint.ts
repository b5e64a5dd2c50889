/**
 * Hugging Face decoder checkpoint folders (Qwen2, Llama, Phi-3): `config.json` plus
 * `model.safetensors` (or shards with an index).
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError, NotSupportedError } from '../../errors.js';
import { isPlainObject, jsonPreview } from '../../formats/json.js';
import { isFloatDType, SafetensorsReader, writeSafetensors, type FloatTensor } from '../../formats/safetensors.js';
import { CheckpointError } from './errors.js';
import { sameShape, type DecoderArchitecture, type DecoderRopeScaling } from './model.js';
import {
  qwen2ConfigProblem, qwen2WeightShapes, qwen2WeightsProblem, type Qwen2Checkpoint, type Qwen2Config,
} from './qwen2.js';
import { describeFirstIssue } from './zod-issue.js';

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

/** Each supported `architectures[0]` and its `model_type`, by the executor's architecture name. */
const HF_ARCHITECTURES: Readonly<Record<DecoderArchitecture, { readonly className: string; readonly modelType: string }>> = {
  qwen2: { className: 'Qwen2ForCausalLM', modelType: 'qwen2' },
  llama: { className: 'LlamaForCausalLM', modelType: 'llama' },
  phi3: { className: 'Phi3ForCausalLM', modelType: 'phi3' },
};

const SUPPORTED = Object.values(HF_ARCHITECTURES)
  .map((a) => `${a.className} (model_type "${a.modelType}")`)
  .join(', ');

/** The supported Hugging Face architectures, for messages and help texts. */
export const SUPPORTED_HF_ARCHITECTURES: readonly string[] = Object.values(HF_ARCHITECTURES).map((a) => a.className);

const hfConfigSchema = z.looseObject({
  hidden_size: z.int().positive(),
  num_attention_heads: z.int().positive(),
  /** HF default: num_attention_heads (no grouping). */
  num_key_value_heads: z.int().positive().optional(),
  head_dim: z.int().positive().optional(),
  intermediate_size: z.int().positive(),
  num_hidden_layers: z.int().positive(),
  rms_norm_eps: z.number().positive(),
  vocab_size: z.int().positive(),
  rope_theta: z.number().positive().default(10000),
  tie_word_embeddings: z.boolean().default(false),
  max_position_embeddings: z.int().positive(),
  original_max_position_embeddings: z.int().positive().optional(),
  sliding_window: z.int().positive().nullable().optional(),
});

type HfConfig = z.infer<typeof hfConfigSchema>;

/** `model.safetensors.index.json`: which shard holds each weight. */
export const indexSchema = z.looseObject({ weight_map: z.record(z.string(), z.string()) });

/** A JSON file of a checkpoint folder. @throws CheckpointError naming the file when it cannot be read or parsed */
export async function readJson(path: string): Promise<unknown> {
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

/**
 * The architecture config.json names: `architectures[0]`, else `model_type`; both must agree when
 * both are there. Missing: CheckpointError; unknown: NotSupportedError; both list the supported ones.
 */
function architectureOf(json: Record<string, unknown>, path: string): DecoderArchitecture {
  const { architectures, model_type: modelType } = json;
  const entries = Object.entries(HF_ARCHITECTURES) as Array<[DecoderArchitecture, { className: string; modelType: string }]>;
  let byClass: DecoderArchitecture | undefined;
  if (architectures !== undefined && architectures !== null) {
    const name: unknown = Array.isArray(architectures) && architectures.length === 1 ? architectures[0] : undefined;
    if (typeof name !== 'string') {
      throw new CheckpointError(`"${path}": key architectures: expected a list of one class name, found ${jsonPreview(architectures)}`);
    }
    byClass = entries.find(([, a]) => a.className === name)?.[0];
    if (byClass === undefined) {
      throw new NotSupportedError(`"${path}": architecture "${name}" is not supported (supported: ${SUPPORTED})`);
    }
  }
  if (modelType !== undefined && modelType !== null) {
    const byType = entries.find(([, a]) => a.modelType === modelType)?.[0];
    if (byType === undefined) {
      throw new NotSupportedError(`"${path}": model_type ${jsonPreview(modelType)} is not supported (supported: ${SUPPORTED})`);
    }
    if (byClass !== undefined && byClass !== byType) {
      throw new CheckpointError(
        `"${path}": architectures names ${HF_ARCHITECTURES[byClass].className} but model_type is "${String(modelType)}"`,
      );
    }
    return byType;
  }
  if (byClass !== undefined) return byClass;
  throw new CheckpointError(`"${path}": names no architecture (no key architectures or model_type); supported: ${SUPPORTED}`);
}

/** Keys whose values change the computation in ways the executor does not implement. */
function refuseUnsupported(json: Record<string, unknown>, architecture: DecoderArchitecture, path: string): void {
  const refuse = (key: string): never => {
    throw new NotSupportedError(`"${path}": key ${key} ${jsonPreview(json[key])} is not supported for ${HF_ARCHITECTURES[architecture].className}`);
  };
  const act = json.hidden_act ?? json.hidden_activation;
  if (act !== undefined && act !== 'silu') refuse(json.hidden_act !== undefined ? 'hidden_act' : 'hidden_activation');
  if (architecture === 'llama') {
    if (json.attention_bias === true) refuse('attention_bias');
    if (json.mlp_bias === true) refuse('mlp_bias');
  }
  if (architecture === 'phi3' && json.partial_rotary_factor !== undefined && json.partial_rotary_factor !== 1) {
    refuse('partial_rotary_factor');
  }
  if (architecture === 'qwen2' && json.use_sliding_window === true) refuse('use_sliding_window');
}

const llama3Schema = z.looseObject({
  factor: z.number().positive(),
  low_freq_factor: z.number().positive(),
  high_freq_factor: z.number().positive(),
  original_max_position_embeddings: z.int().positive(),
});

const longropeSchema = z.looseObject({
  short_factor: z.array(z.number().positive()),
  long_factor: z.array(z.number().positive()),
  factor: z.number().positive().optional(),
  original_max_position_embeddings: z.int().positive().optional(),
  sliding_window: z.int().positive().nullable().optional(),
});

/**
 * `rope_scaling` as the executor's RoPE scaling (undefined: plain RoPE). llama3 takes its four
 * numbers; longrope (Phi-3) its two factor lists, `original_max_position_embeddings` from the block
 * or the config, and `factor` = max_position_embeddings / original (HF `_compute_longrope_parameters`,
 * which gives the attention factor sqrt(1 + ln(factor) / ln(original))), unless the block gives one.
 */
function ropeScalingOf(json: Record<string, unknown>, c: HfConfig, path: string): DecoderRopeScaling | undefined {
  const block = json.rope_scaling;
  if (block === undefined || block === null) return undefined;
  const type = isPlainObject(block) ? (block.rope_type ?? block.type) : undefined;
  const where = (parsed: { error: z.ZodError }): string => `"${path}": ${describeFirstIssue(parsed.error, ['rope_scaling'])}`;
  if (type === 'default') return undefined;
  if (type === 'llama3') {
    const parsed = llama3Schema.safeParse(block);
    if (!parsed.success) throw new CheckpointError(where(parsed));
    const r = parsed.data;
    return {
      type: 'llama3',
      factor: r.factor,
      lowFreqFactor: r.low_freq_factor,
      highFreqFactor: r.high_freq_factor,
      originalMaxPositionEmbeddings: r.original_max_position_embeddings,
    };
  }
  if (type === 'longrope') {
    const parsed = longropeSchema.safeParse(block);
    if (!parsed.success) throw new CheckpointError(where(parsed));
    const r = parsed.data;
    if ((block as Record<string, unknown>).attention_factor !== undefined) {
      throw new NotSupportedError(`"${path}": key rope_scaling.attention_factor is not supported (Genie derives it from factor)`);
    }
    const original = r.original_max_position_embeddings ?? c.original_max_position_embeddings;
    if (original === undefined) {
      throw new CheckpointError(`"${path}": longrope needs original_max_position_embeddings (in rope_scaling or at the top level)`);
    }
    return {
      type: 'longrope',
      factor: r.factor ?? Math.max(1, c.max_position_embeddings / original),
      shortFactor: r.short_factor,
      longFactor: r.long_factor,
      originalMaxPositionEmbeddings: original,
    };
  }
  throw new NotSupportedError(
    `"${path}": key rope_scaling ${JSON.stringify(block)} is not supported (rope types: default, llama3, longrope)`,
  );
}

async function readConfig(path: string): Promise<Qwen2Config> {
  const json = await readJson(path);
  if (!isPlainObject(json)) throw new CheckpointError(`"${path}": key (top level): expected an object, found ${jsonPreview(json)}`);
  const architecture = architectureOf(json, path);
  refuseUnsupported(json, architecture, path);
  const parsed = hfConfigSchema.safeParse(json);
  if (!parsed.success) throw new CheckpointError(`"${path}": ${describeFirstIssue(parsed.error)}`);
  const c = parsed.data;
  if (c.head_dim === undefined && c.hidden_size % c.num_attention_heads !== 0) {
    throw new CheckpointError(
      `"${path}": key hidden_size: ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`,
    );
  }
  const ropeScaling = ropeScalingOf(json, c, path);
  const config: Qwen2Config = {
    // A Qwen2 config keeps its original field set (architecture absent means Qwen2).
    ...(architecture === 'qwen2' ? {} : { architecture }),
    ...(ropeScaling === undefined ? {} : { ropeScaling }),
    // Qwen2's window is off unless use_sliding_window (refused above); Llama has none.
    ...(architecture === 'phi3' && typeof c.sliding_window === 'number' && c.sliding_window < c.max_position_embeddings
      ? { slidingWindow: c.sliding_window }
      : {}),
    hiddenSize: c.hidden_size,
    numAttentionHeads: c.num_attention_heads,
    numKeyValueHeads: c.num_key_value_heads ?? c.num_attention_heads,
    headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    numHiddenLayers: c.num_hidden_layers,
    rmsNormEps: c.rms_norm_eps,
    vocabSize: c.vocab_size,
    ropeTheta: c.rope_theta,
    tieWordEmbeddings: c.tie_word_embeddings,
    maxPositionEmbeddings: c.max_position_embeddings,
  };
  const problem = qwen2ConfigProblem(config);
  if (problem !== null) throw new CheckpointError(`"${path}": ${problem}`);
  return config;
}

/**
 * Which file holds each tensor: every tensor of `model.safetensors`, or the shard index's map. A
 * shard the index names must exist and hold the tensors the index puts in it.
 */
async function openWeightFiles(dir: string): Promise<{ readers: SafetensorsReader[]; fileOf: Map<string, SafetensorsReader> }> {
  const indexPath = join(dir, INDEX_FILE);
  const sharded = await access(indexPath).then(
    () => true,
    () => false,
  );
  const readers: SafetensorsReader[] = [];
  const fileOf = new Map<string, SafetensorsReader>();
  try {
    if (!sharded) {
      const reader = await SafetensorsReader.open(join(dir, WEIGHTS_FILE));
      readers.push(reader);
      for (const name of reader.tensors.keys()) fileOf.set(name, reader);
      return { readers, fileOf };
    }
    const parsed = indexSchema.safeParse(await readJson(indexPath));
    if (!parsed.success) throw new CheckpointError(`"${indexPath}": ${describeFirstIssue(parsed.error)}`);
    const byFile = new Map<string, SafetensorsReader>();
    for (const [tensor, file] of Object.entries(parsed.data.weight_map)) {
      let reader = byFile.get(file);
      if (reader === undefined) {
        const shard = join(dir, file);
        const exists = await access(shard).then(
          () => true,
          () => false,
        );
        if (!exists) throw new CheckpointError(`"${indexPath}": shard "${file}" (holding "${tensor}") is missing from "${dir}"`);
        reader = await SafetensorsReader.open(shard);
        readers.push(reader);
        byFile.set(file, reader);
      }
      if (!reader.tensors.has(tensor)) {
        throw new CheckpointError(`"${indexPath}": names tensor "${tensor}" in shard "${file}", which does not hold it`);
      }
      fileOf.set(tensor, reader);
    }
    return { readers, fileOf };
  } catch (error) {
    await Promise.all(readers.map((r) => r.close()));
    throw error;
  }
}

export interface LoadProgress {
  /** Called after each weight is read: its name, how many are read, how many in all. */
  (name: string, done: number, total: number): void;
}

/** The decoder config of checkpoint folder `dir` (its config.json), checked as `loadHfCheckpoint` checks it. */
export function readHfDecoderConfig(dir: string): Promise<Qwen2Config> {
  return readConfig(join(dir, CONFIG_FILE));
}

/**
 * Loads a Qwen2, Llama or Phi-3 checkpoint folder, converting F32/F16/BF16 weights to float32. Only
 * the weights the architecture uses are read (others, e.g. a tied model's `lm_head.weight`, are
 * ignored); every one is checked against config.json's shapes before any data is read.
 */
export async function loadHfCheckpoint(dir: string, onProgress?: LoadProgress): Promise<Qwen2Checkpoint> {
  const configPath = join(dir, CONFIG_FILE);
  const config = await readConfig(configPath);
  const { readers, fileOf } = await openWeightFiles(dir);
  try {
    const shapes = qwen2WeightShapes(config);
    for (const [name, shape] of shapes) {
      const reader = fileOf.get(name);
      if (reader === undefined) throw new CheckpointError(`checkpoint "${dir}": missing weight "${name}"`);
      const info = reader.tensors.get(name)!;
      if (!sameShape(info.shape, shape)) {
        throw new CheckpointError(
          `checkpoint "${dir}": weight "${name}" in "${reader.path}" has shape [${info.shape}], ` +
            `config.json ("${configPath}") implies [${shape}]`,
        );
      }
      if (!isFloatDType(info.dtype)) {
        throw new NotSupportedError(
          `checkpoint "${dir}": weight "${name}" in "${reader.path}" has dtype ${info.dtype} (supported: F32, F16, BF16)`,
        );
      }
    }
    const weights = new Map<string, FloatTensor>();
    for (const name of shapes.keys()) {
      weights.set(name, await fileOf.get(name)!.readTensor(name));
      onProgress?.(name, weights.size, shapes.size);
    }
    return { config, weights };
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

/** `loadHfCheckpoint` (the name from when Qwen2 was the only architecture). */
export const loadHfQwen2 = (dir: string): Promise<Qwen2Checkpoint> => loadHfCheckpoint(dir);

/** Writes a checkpoint folder Hugging Face transformers can load (float32 weights). */
export async function writeHfQwen2(dir: string, checkpoint: Qwen2Checkpoint): Promise<void> {
  const { config, weights } = checkpoint;
  const problem = qwen2ConfigProblem(config) ?? qwen2WeightsProblem(config, weights);
  if (problem !== null) throw new InvalidArgumentError(`checkpoint: ${problem}`);
  if ((config.architecture ?? 'qwen2') !== 'qwen2' || config.ropeScaling !== undefined) {
    throw new InvalidArgumentError(`writeHfQwen2 writes plain-RoPE Qwen2 checkpoints, not ${config.architecture} with ${JSON.stringify(config.ropeScaling)}`);
  }
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
