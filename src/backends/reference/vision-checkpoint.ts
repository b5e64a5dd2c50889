/**
 * The vision side of a Hugging Face LLaVA-style checkpoint folder (FastVLM's layout): `config.json`
 * plus `model.safetensors` (or shards with `model.safetensors.index.json`), holding the projector
 * `model.mm_projector.*` and, for genie-ts's ViT, the tower `model.vision_tower.*` (names in
 * vision-model.ts).
 *
 * config.json keys read: `mm_projector_type` (only `"mlp2x_gelu"`), `mm_hidden_size` (Dv),
 * `hidden_size` (D), and `vision_config` when its `model_type` is `"genie-ts-vit"`:
 * `image_size` (an integer, or `[height, width]`), `patch_size`, `num_channels` (default 3),
 * `hidden_size` (= `mm_hidden_size`), `num_attention_heads`, `intermediate_size`,
 * `num_hidden_layers`, `layer_norm_eps` (default 1e-5), `hidden_act` (`"gelu"` if present). Any
 * other tower (a real FastVLM's FastViTHD, named by `mm_vision_tower`) is not loaded: the model
 * then has the projector only. Other keys (the language model's) are ignored.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError, NotSupportedError } from '../../errors.js';
import { SafetensorsReader, writeSafetensors, type FloatTensor } from '../../formats/safetensors.js';
import { indexSchema, readJson } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import { weightsProblem } from './model.js';
import { visionModelProblem, visionWeightShapes, type ReferenceVisionModel, type VisionTower } from './vision-model.js';
import { describeFirstIssue } from './zod-issue.js';

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
/** `vision_config.model_type` of genie-ts's ViT tower. */
export const VIT_MODEL_TYPE = 'genie-ts-vit';
/** CLIP's default `layer_norm_eps`. */
const DEFAULT_LAYER_NORM_EPS = 1e-5;

/** A vision model and its float32 weights by Hugging Face name. */
export interface VisionCheckpoint {
  readonly model: ReferenceVisionModel;
  readonly weights: ReadonlyMap<string, FloatTensor>;
}

const positiveInt = z.int().positive();

const visionConfigSchema = z.looseObject({
  model_type: z.literal(VIT_MODEL_TYPE),
  image_size: z.union([positiveInt, z.tuple([positiveInt, positiveInt])]),
  patch_size: positiveInt,
  num_channels: positiveInt.default(3),
  hidden_size: positiveInt,
  num_attention_heads: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  layer_norm_eps: z.number().positive().default(DEFAULT_LAYER_NORM_EPS),
  hidden_act: z.literal('gelu').optional(),
});

const configSchema = z.looseObject({
  mm_projector_type: z.string(),
  mm_hidden_size: positiveInt,
  hidden_size: positiveInt,
  vision_config: z.unknown().optional(),
});


/** The vision model `config.json` describes; throws `CheckpointError` / `NotSupportedError` naming the key. */
async function readConfig(path: string): Promise<ReferenceVisionModel> {
  const parsed = configSchema.safeParse(await readJson(path));
  if (!parsed.success) throw new CheckpointError(`"${path}": ${describeFirstIssue(parsed.error)}`);
  const c = parsed.data;
  if (c.mm_projector_type !== 'mlp2x_gelu') {
    throw new NotSupportedError(`"${path}": key mm_projector_type "${c.mm_projector_type}" is not supported (only "mlp2x_gelu", FastVLM's)`);
  }
  const projector = { type: 'mlp2x_gelu', inputSize: c.mm_hidden_size, hidden: c.hidden_size } as const;
  let tower: VisionTower | undefined;
  const vc = c.vision_config as { model_type?: unknown } | undefined;
  if (typeof vc === 'object' && vc !== null && vc.model_type === VIT_MODEL_TYPE) {
    const v = visionConfigSchema.safeParse(vc);
    if (!v.success) throw new CheckpointError(`"${path}": ${describeFirstIssue(v.error, ['vision_config'])}`);
    const t = v.data;
    tower = {
      type: 'vit',
      channels: t.num_channels,
      imageSize: typeof t.image_size === 'number' ? [t.image_size, t.image_size] : [t.image_size[0], t.image_size[1]],
      patchSize: t.patch_size,
      hidden: t.hidden_size,
      heads: t.num_attention_heads,
      intermediate: t.intermediate_size,
      layers: t.num_hidden_layers,
      layerNormEps: t.layer_norm_eps,
    };
  }
  const model: ReferenceVisionModel = { architecture: 'vision', ...(tower === undefined ? {} : { tower }), projector };
  const problem = visionModelProblem(model);
  if (problem !== null) throw new CheckpointError(`"${path}": the vision model it describes is invalid: ${problem}`);
  return model;
}

/** The first missing or mis-shaped weight of `model`, described, or null. */
export function visionWeightsProblem(model: ReferenceVisionModel, weights: ReadonlyMap<string, FloatTensor>): string | null {
  return weightsProblem(visionWeightShapes(model), weights);
}

/** Which file holds each wanted tensor: `model.safetensors`, or the shard its index names. */
async function weightFiles(dir: string, wanted: readonly string[]): Promise<Map<string, string[]>> {
  const indexPath = join(dir, INDEX_FILE);
  const sharded = await access(indexPath).then(
    () => true,
    () => false,
  );
  if (!sharded) return new Map([[join(dir, WEIGHTS_FILE), [...wanted]]]);
  const parsed = indexSchema.safeParse(await readJson(indexPath));
  if (!parsed.success) throw new CheckpointError(`"${indexPath}": ${describeFirstIssue(parsed.error)}`);
  const files = new Map<string, string[]>();
  for (const name of wanted) {
    const file = parsed.data.weight_map[name];
    if (file === undefined) throw new CheckpointError(`checkpoint "${dir}": missing weight "${name}" (not in ${INDEX_FILE})`);
    const path = join(dir, file);
    files.set(path, [...(files.get(path) ?? []), name]);
  }
  return files;
}

/**
 * Loads the vision model of a checkpoint folder, reading only its weights (a full FastVLM
 * checkpoint's language model stays on disk), converted from F32/F16/BF16 to float32.
 * @throws CheckpointError naming the file and key or weight; NotSupportedError for another projector type.
 */
export async function loadHfVision(dir: string): Promise<VisionCheckpoint> {
  const model = await readConfig(join(dir, CONFIG_FILE));
  const shapes = visionWeightShapes(model);
  const weights = new Map<string, FloatTensor>();
  for (const [file, names] of await weightFiles(dir, [...shapes.keys()])) {
    const reader = await SafetensorsReader.open(file);
    try {
      for (const name of names) {
        if (!reader.tensors.has(name)) throw new CheckpointError(`checkpoint "${dir}": missing weight "${name}" (not in "${file}")`);
        weights.set(name, await reader.readTensor(name));
      }
    } finally {
      await reader.close();
    }
  }
  // Keep the model's order (tower, then projector) whatever the files' order.
  const ordered = new Map([...shapes.keys()].map((name) => [name, weights.get(name)!]));
  const problem = visionWeightsProblem(model, ordered);
  if (problem !== null) throw new CheckpointError(`checkpoint "${dir}": ${problem}`);
  return { model, weights: ordered };
}

/** The `config.json` object of a vision checkpoint (see the module comment for the keys). */
export function hfVisionConfig(model: ReferenceVisionModel): Record<string, unknown> {
  const { tower, projector } = model;
  return {
    model_type: 'llava_qwen2',
    mm_projector_type: projector.type,
    mm_hidden_size: projector.inputSize,
    hidden_size: projector.hidden,
    ...(tower === undefined
      ? {}
      : {
          vision_config: {
            model_type: VIT_MODEL_TYPE,
            image_size: tower.imageSize[0] === tower.imageSize[1] ? tower.imageSize[0] : [...tower.imageSize],
            patch_size: tower.patchSize,
            num_channels: tower.channels,
            hidden_size: tower.hidden,
            num_attention_heads: tower.heads,
            intermediate_size: tower.intermediate,
            num_hidden_layers: tower.layers,
            layer_norm_eps: tower.layerNormEps,
            hidden_act: 'gelu',
          },
        }),
    torch_dtype: 'float32',
  };
}

/** Writes `config.json` and `model.safetensors` (float32 weights in the model's order) into `dir`. */
export async function writeHfVision(dir: string, checkpoint: VisionCheckpoint): Promise<void> {
  const { model, weights } = checkpoint;
  const problem = visionModelProblem(model) ?? visionWeightsProblem(model, weights);
  if (problem !== null) throw new InvalidArgumentError(`vision checkpoint: ${problem}`);
  const ordered = new Map([...visionWeightShapes(model).keys()].map((name) => [name, weights.get(name)!]));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, CONFIG_FILE), `${JSON.stringify(hfVisionConfig(model), null, 2)}\n`);
  await writeSafetensors(join(dir, WEIGHTS_FILE), ordered, { format: 'pt' });
}
