/**
 * Hugging Face checkpoint -> a bundle genie-ts runs on the Reference backend: reference ctx-bins
 * (one graph per AR in each part, at one CL), `genie_config.json` (context size, BOS/EOS from
 * generation_config.json / config.json, the RoPE block with llama3 / longrope scaling, a LUT block
 * with `input: 'embeds'`), the tokenizer files copied, and `export.json` saying what was exported.
 * IO is float32, float16, or htp (fixed point with encodings an `IoCalibrator` measures on the
 * float model: the runtime's job, kept out of this layer); with `like`, the graphs of another
 * bundle (like.ts) with their IO types. Writes into a folder the caller provides (the CLI makes it
 * a staging folder renamed into place). Peak memory: the float32 weights once (parts share them);
 * htp calibration loads them a second time, from float ctx-bins in a scratch folder.
 */
import { copyFile, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GenieError, InvalidArgumentError } from '../../errors.js';
import { isPlainObject } from '../../formats/json.js';
import { TensorNames } from '../../graphs/names.js';
import type { RopeScaling } from '../../rope/inv-freq.js';
import type { Encoding } from '../../tensor/dtype.js';
import { elementCount } from '../../tensor/shape.js';
import { loadHfCheckpoint, readHfDecoderConfig } from './checkpoint.js';
import { writeReferenceCtxBin, type ReferenceCtxBinPart } from './ctx-bin.js';
import { CheckpointError } from './errors.js';
import { likeShape, splitLike, type LikeGraphs, type LikeShape } from './like.js';
import type { ReferenceModel } from './model.js';
import { EMBED_TOKENS } from './names.js';
import { qwen2WeightShapes, type Qwen2Config } from './qwen2.js';
import { splitCheckpoint, type TensorType } from './split.js';

/**
 * Graph IO types: none = float32; fp16 = every float IO float16; htp = AI Hub's w8a16 HTP
 * presentation (KV uint8, the rest uint16) with encodings a calibrator measures on the float model.
 */
export const EXPORT_QUANTS = ['none', 'fp16', 'htp'] as const;
export type ExportQuant = (typeof EXPORT_QUANTS)[number];

export const EXPORT_CONFIG_FILE = 'genie_config.json';
export const EXPORT_MANIFEST_FILE = 'export.json';
export const EXPORT_LUT_FILE = 'embedding_lut.bin';
const TOKENIZER_FILE = 'tokenizer.json';
/** Copied when the checkpoint has them (the chat template lives in one of them). */
const OPTIONAL_COPIES = ['tokenizer_config.json', 'chat_template.jinja', 'generation_config.json'] as const;
export const EXPORT_FORMAT = 'genie-ts-export';
/** Scratch folder of the htp calibration inside the output (removed before the export returns). */
const CALIBRATION_DIR = '.calibration';

export interface ExportOptions {
  /** AR variants, each below `cl`; default [1, 128] without the ones >= cl. */
  readonly arSet?: readonly number[];
  /** Context length; default min(4096, max_position_embeddings, a Phi-3 sliding_window). */
  readonly cl?: number;
  /** ctx-bin parts (default 1); with `input: 'ids'` and 2 or more, part 1 is the embedding lookup alone. */
  readonly splits?: number;
  readonly input?: 'ids' | 'embeds';
  /** Graph IO dtype (weights stay float32); `htp` needs `calibrator`. */
  readonly quant?: ExportQuant;
  /**
   * Measures the encodings of `quant: 'htp'` by running the float model (the runtime's job, so the
   * caller provides it: `src/export/`'s `htpCalibrator`).
   */
  readonly calibrator?: IoCalibrator;
  /**
   * Export the float twin of these graphs (a device bundle's): their graph names, ctx-bins,
   * variants, split points, input kind and IO types. `arSet`, `cl`, `splits`, `input` and `quant`
   * then come from them.
   */
  readonly like?: LikeGraphs;
  readonly onProgress?: (message: string) => void;
}

/** The float32 model a calibrator runs: its parts as exported, and what an Engine needs to drive them. */
export interface FloatExport {
  readonly parts: readonly ReferenceCtxBinPart<ReferenceModel>[];
  readonly input: 'ids' | 'embeds';
  readonly arSet: readonly number[];
  readonly cl: number;
  /** The model's table (vocab x hidden, float32): an embeds model's LUT. */
  readonly embeddingTable: Float32Array;
  readonly eosToken: number;
  readonly padToken: number;
  readonly rope: { readonly theta: number; readonly scaling: RopeScaling };
  /** The checkpoint's tokenizer.json. */
  readonly tokenizerPath: string;
  /** An absent folder the calibrator may use; the exporter removes it afterwards. */
  readonly scratch: string;
  readonly onProgress: (message: string) => void;
}

/** Calibrated IO: the graphs' tensor types and, for an embeds model, its LUT in fixed point. */
export interface CalibratedIo {
  readonly tensorTypes: Readonly<Record<string, TensorType>>;
  readonly lut?: { readonly quantParam: Encoding; readonly bytes: Uint8Array };
  /** What it was calibrated on, for export.json (e.g. `3 built-in prompts`). */
  readonly source: string;
}

export type IoCalibrator = (model: FloatExport) => Promise<CalibratedIo>;

export interface ExportResult {
  readonly architecture: string;
  readonly ctxBins: readonly string[];
  readonly files: readonly string[];
  readonly arSet: readonly number[];
  readonly cl: number;
  readonly splits: number;
}

const DEFAULT_AR = [1, 128];
const DEFAULT_CL = 4096;

/** A bad export option (the CLI reports it as a usage error). */
export class ExportOptionError extends InvalidArgumentError {}

/** The output cannot take the bundle (not enough free space); nothing was written. */
export class ExportSpaceError extends GenieError {
  constructor(message: string) {
    super('NO_SPACE', message);
  }
}

function fail(what: string): never {
  throw new ExportOptionError(what);
}

interface Resolved {
  readonly arSet: number[];
  readonly cl: number;
  readonly splits: number;
  readonly input: 'ids' | 'embeds';
  readonly quant: ExportQuant;
}

/** `options` with what `like`'s graphs fix filled in; setting any of it too is an error. */
function likeOptions(options: ExportOptions, like: LikeShape | undefined): ExportOptions {
  if (like === undefined) return options;
  const given = (['arSet', 'cl', 'splits', 'input', 'quant'] as const).find((key) => options[key] !== undefined);
  if (given !== undefined) fail(`${given} comes from the graphs exported like (like); do not set it too`);
  if (options.calibrator !== undefined) fail('a calibrator goes with quant "htp"; an export like other graphs takes their IO types');
  return { ...options, arSet: like.arSet, cl: like.cl, splits: like.splits, input: like.input };
}

function resolveOptions(options: ExportOptions, config: Qwen2Config): Resolved {
  const window = config.slidingWindow ?? Infinity;
  const cl = options.cl ?? Math.min(DEFAULT_CL, config.maxPositionEmbeddings, window);
  if (!Number.isSafeInteger(cl) || cl < 2) fail(`cl ${cl} is not an integer >= 2`);
  if (cl > config.maxPositionEmbeddings) fail(`cl ${cl} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings}`);
  if (cl > window) {
    fail(`cl ${cl} exceeds the model's sliding_window ${window}: the executor attends to the whole context, the model to its window only`);
  }
  const arSet = options.arSet === undefined ? DEFAULT_AR.filter((ar) => ar < cl) : [...options.arSet];
  for (const ar of arSet) if (!Number.isSafeInteger(ar) || ar < 1 || ar >= cl) fail(`ar ${ar} is not an integer in [1, cl ${cl})`);
  if (arSet.length === 0 || new Set(arSet).size !== arSet.length) fail(`ar [${arSet}] must list distinct ARs`);
  const input = options.input ?? 'ids';
  if (input !== 'ids' && input !== 'embeds') fail(`input "${String(input)}" is not ids or embeds`);
  const quant = options.quant ?? 'none';
  if (!EXPORT_QUANTS.includes(quant)) fail(`quant "${String(quant)}" is not one of ${EXPORT_QUANTS.join(', ')}`);
  if (quant === 'htp' && options.calibrator === undefined) fail('quant "htp" needs a calibrator (genie-ts export --quant htp provides one)');
  if (quant !== 'htp' && options.calibrator !== undefined) fail(`a calibrator goes with quant "htp", not "${quant}"`);
  const splits = options.splits ?? 1;
  const most = config.numHiddenLayers + (input === 'ids' ? 1 : 0);
  if (!Number.isSafeInteger(splits) || splits < 1 || splits > most) {
    fail(`splits ${splits} is not in [1, ${most}] for ${config.numHiddenLayers} layers${input === 'ids' ? ' plus the embedding part' : ''}`);
  }
  return { arSet: arSet.sort((a, b) => a - b), cl, splits, input, quant };
}

async function readJsonIfThere(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(`cannot read "${path}": ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(`"${path}" is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (!isPlainObject(json)) throw new CheckpointError(`"${path}": expected a JSON object`);
  return json;
}

/** Token ids of a key of generation_config.json (first) or config.json: an id or a list of ids. */
function tokenIds(sources: ReadonlyArray<[string, Record<string, unknown> | undefined]>, key: string, vocab: number): number[] | undefined {
  for (const [path, json] of sources) {
    const value = json?.[key];
    if (value === undefined || value === null) continue;
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= vocab) {
        throw new CheckpointError(`"${path}": key ${key}: ${JSON.stringify(value)} is not a token id below vocab_size ${vocab} (or a list of them)`);
      }
    }
    return ids as number[];
  }
  return undefined;
}

/**
 * Whether the tokenizer prepends BOS: tokenizer_config.json's `add_bos_token` when it says, else
 * whether tokenizer.json's post-processor template holds the BOS token (Llama 3's TemplateProcessing).
 * genie-ts encodes without special tokens, so Genie's `bos-token` adds it when the model expects it.
 */
function addsBos(tokenizerConfig: Record<string, unknown> | undefined, tokenizer: Record<string, unknown>, bos: number): boolean {
  const flag = tokenizerConfig?.add_bos_token;
  if (typeof flag === 'boolean') return flag;
  const holdsBos = (post: unknown): boolean => {
    if (!isPlainObject(post)) return false;
    // Llama 3: a Sequence of ByteLevel and TemplateProcessing.
    if (Array.isArray(post.processors)) return post.processors.some(holdsBos);
    const special = post.special_tokens;
    if (!isPlainObject(special)) return false;
    return Object.values(special).some((t) => isPlainObject(t) && Array.isArray(t.ids) && t.ids.includes(bos));
  };
  return holdsBos(tokenizer.post_processor);
}

/** The RoPE block of genie_config.json (docs/genie-behaviour.md#rope-tables). */
function positionalEncoding(config: Qwen2Config): Record<string, unknown> {
  const block: Record<string, unknown> = { type: 'rope', 'rope-dim': config.headDim / 2, 'rope-theta': config.ropeTheta };
  const s = config.ropeScaling;
  if (s?.type === 'llama3') {
    block['rope-scaling'] = {
      'rope-type': 'llama3',
      factor: s.factor,
      'low-freq-factor': s.lowFreqFactor,
      'high-freq-factor': s.highFreqFactor,
      'original-max-position-embeddings': s.originalMaxPositionEmbeddings,
    };
  } else if (s?.type === 'longrope') {
    block['rope-scaling'] = {
      'rope-type': 'longrope',
      factor: s.factor,
      'short-factor': [...s.shortFactor],
      'long-factor': [...s.longFactor],
      'original-max-position-embeddings': s.originalMaxPositionEmbeddings,
    };
  }
  return block;
}

/** generation_config.json's sampling as Genie's sampler: greedy unless it samples. */
function sampler(generation: Record<string, unknown> | undefined): Record<string, unknown> {
  if (generation?.do_sample !== true) return { version: 1, seed: -1, temp: 0, 'top-k': 1 };
  const num = (key: string, fallback: number): number => (typeof generation[key] === 'number' ? (generation[key] as number) : fallback);
  return { version: 1, seed: -1, temp: num('temperature', 1), 'top-k': num('top_k', 50), 'top-p': num('top_p', 1) };
}

/** Bytes the bundle will take (ctx-bins hold each weight once, float32; the LUT; copied files). */
function bundleBytes(config: Qwen2Config, input: 'ids' | 'embeds', copied: number): number {
  let floats = 0;
  for (const shape of qwen2WeightShapes(config).values()) floats += elementCount(shape);
  if (config.tieWordEmbeddings) floats += config.vocabSize * config.hiddenSize; // the head part holds the table again
  if (input === 'embeds') floats += config.vocabSize * config.hiddenSize;
  return floats * 4 + copied + (1 << 20);
}

/** Genie's embedding block for `embedding_lut.bin`: float32, or uint16 with its encoding. */
function lutBlock(size: number, quantParam: Encoding | undefined): Record<string, unknown> {
  const block = { version: 1, type: 'lut', 'lut-path': EXPORT_LUT_FILE, size };
  if (quantParam === undefined) return { ...block, datatype: 'float32' };
  return { ...block, datatype: 'ufixed16', 'quant-param': { scale: quantParam.scale, offset: quantParam.offset } };
}

/** FLOAT_16 for every float-valued IO tensor (all but input_ids). */
function float16Types(parts: readonly ReferenceCtxBinPart<ReferenceModel>[]): Record<string, TensorType> {
  const types: Record<string, TensorType> = {};
  for (const part of parts) {
    for (const graph of part.metadata.graphs) {
      for (const t of [...graph.inputs, ...graph.outputs]) if (t.name !== TensorNames.inputIds) types[t.name] = { dtype: 'FLOAT_16' };
    }
  }
  return types;
}

const fileSize = async (path: string): Promise<number> => (await stat(path)).size;

/**
 * Exports checkpoint folder `hfDir` into the existing empty folder `outDir`. Everything is checked
 * (config, options, tokenizer, free space, then every weight's name, shape and dtype) before the
 * first ctx-bin is written.
 * @throws CheckpointError / NotSupportedError for a bad checkpoint, ExportOptionError for bad options,
 *   ExportSpaceError when the output's file system has too little room.
 */
export async function exportHfCheckpoint(hfDir: string, outDir: string, options: ExportOptions = {}): Promise<ExportResult> {
  const report = options.onProgress ?? (() => {});
  const config = await readHfDecoderConfig(hfDir);
  const like = options.like === undefined ? undefined : likeShape(options.like, config, hfDir);
  const o = resolveOptions(likeOptions(options, like), config);
  const architecture = config.architecture ?? 'qwen2';
  const tokenizerPath = join(hfDir, TOKENIZER_FILE);
  const tokenizer = await readJsonIfThere(tokenizerPath);
  if (tokenizer === undefined) throw new CheckpointError(`checkpoint "${hfDir}" has no ${TOKENIZER_FILE}`);
  const hfConfig = (await readJsonIfThere(join(hfDir, 'config.json')))!;
  const generation = await readJsonIfThere(join(hfDir, 'generation_config.json'));
  const tokenizerConfig = await readJsonIfThere(join(hfDir, 'tokenizer_config.json'));
  const sources: Array<[string, Record<string, unknown> | undefined]> = [
    [join(hfDir, 'generation_config.json'), generation],
    [join(hfDir, 'config.json'), hfConfig],
  ];
  const eos = tokenIds(sources, 'eos_token_id', config.vocabSize);
  if (eos === undefined) throw new CheckpointError(`checkpoint "${hfDir}": no eos_token_id in generation_config.json or config.json`);
  const bosIds = tokenIds(sources, 'bos_token_id', config.vocabSize);
  const bos = bosIds !== undefined && addsBos(tokenizerConfig, tokenizer, bosIds[0]) ? bosIds[0] : -1;
  const pad = tokenIds(sources, 'pad_token_id', config.vocabSize);

  const copies: string[] = [TOKENIZER_FILE];
  let copiedBytes = await fileSize(tokenizerPath);
  for (const file of OPTIONAL_COPIES) {
    const size = await fileSize(join(hfDir, file)).catch(() => undefined);
    if (size === undefined) continue;
    copies.push(file);
    copiedBytes += size;
  }
  // htp also writes the float parts once, to calibrate on, before the bundle's own.
  const needed = bundleBytes(config, o.input, copiedBytes) * (o.quant === 'htp' ? 2 : 1);
  const space = await statfs(outDir);
  const free = space.bavail * space.bsize;
  if (free < needed) {
    throw new ExportSpaceError(
      `"${resolve(outDir)}" has ${(free / 2 ** 20).toFixed(0)} MiB free, the bundle needs about ${(needed / 2 ** 20).toFixed(0)} MiB`,
    );
  }

  report(`reading ${architecture} checkpoint "${hfDir}"`);
  let nextTenth = 1;
  const checkpoint = await loadHfCheckpoint(hfDir, (_name, done, total) => {
    if (done * 10 >= nextTenth * total) {
      report(`  read ${done}/${total} weights`);
      nextTenth = Math.floor((done * 10) / total) + 1;
    }
  });
  const splitOptions = {
    ...checkpoint, arSet: o.arSet, cl: o.cl, splits: o.splits, embeddingPart: o.input === 'ids' && o.splits > 1, inputKind: o.input,
  };
  const table = checkpoint.weights.get(EMBED_TOKENS)!.data;
  const floatParts = options.like === undefined ? splitCheckpoint(splitOptions) : splitLike(checkpoint.config, checkpoint.weights, options.like, hfDir);
  let io: CalibratedIo = { tensorTypes: {}, source: 'none' };
  if (o.quant === 'fp16') io = { tensorTypes: float16Types(floatParts), source: 'none' };
  if (o.quant === 'htp') {
    report('calibrating the IO encodings on the float model');
    const scratch = join(outDir, CALIBRATION_DIR);
    try {
      io = await options.calibrator!({
        parts: floatParts, input: o.input, arSet: o.arSet, cl: o.cl, embeddingTable: table, eosToken: eos[0], padToken: pad?.[0] ?? eos[0],
        rope: { theta: config.ropeTheta, scaling: config.ropeScaling ?? { type: 'default' } },
        tokenizerPath, scratch, onProgress: report,
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const parts = o.quant === 'none' ? floatParts : splitCheckpoint({ ...splitOptions, tensorTypes: io.tensorTypes });
  const ctxBins = parts.map((_, i) => `model_part_${i + 1}_of_${parts.length}.safetensors`);
  for (const [i, part] of parts.entries()) {
    report(`writing ${ctxBins[i]}`);
    await writeReferenceCtxBin(join(outDir, ctxBins[i]), part);
  }
  const files = [...ctxBins];
  if (o.input === 'embeds') {
    const bytes = io.lut?.bytes ?? new Uint8Array(table.buffer, table.byteOffset, table.byteLength);
    await writeFile(join(outDir, EXPORT_LUT_FILE), bytes);
    files.push(EXPORT_LUT_FILE);
  }
  for (const file of copies) await copyFile(join(hfDir, file), join(outDir, file));
  files.push(...copies);

  const dialog: Record<string, unknown> = {
    version: 1,
    type: 'basic',
    context: {
      version: 1,
      size: o.cl,
      'n-vocab': config.vocabSize,
      'bos-token': bos,
      'eos-token': eos.length === 1 ? eos[0] : eos,
      ...(pad === undefined ? {} : { 'pad-token': pad[0] }),
    },
    sampler: sampler(generation),
    tokenizer: { version: 1, path: TOKENIZER_FILE },
    ...(o.input === 'embeds' ? { embedding: lutBlock(config.hiddenSize, io.lut?.quantParam) } : {}),
    engine: {
      version: 1,
      'n-threads': 1,
      backend: { version: 1, type: 'Reference' },
      model: {
        version: 1,
        type: 'binary',
        binary: { version: 1, 'ctx-bins': ctxBins },
        'positional-encoding': positionalEncoding(config),
      },
    },
  };
  await writeFile(join(outDir, EXPORT_CONFIG_FILE), `${JSON.stringify({ dialog }, null, 2)}\n`);
  files.push(EXPORT_CONFIG_FILE);
  const manifest = {
    format: EXPORT_FORMAT,
    version: 1,
    source: resolve(hfDir),
    architecture,
    options: {
      ar: o.arSet, cl: o.cl, splits: o.splits, input: o.input, quant: o.quant,
      ...(o.quant === 'htp' ? { calibration: io.source } : {}),
      ...(options.like === undefined ? {} : { like: options.like.source }),
    },
    files: [...files].sort(),
  };
  await writeFile(join(outDir, EXPORT_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return { architecture, ctxBins, files: [...files, EXPORT_MANIFEST_FILE], arSet: o.arSet, cl: o.cl, splits: o.splits };
}

/** Whether `dir` holds a bundle this exporter wrote (its export.json), so `--force` may replace it. */
export async function isExportBundle(dir: string): Promise<boolean> {
  try {
    const json = JSON.parse(await readFile(join(dir, EXPORT_MANIFEST_FILE), 'utf8')) as { format?: unknown };
    return json.format === EXPORT_FORMAT;
  } catch {
    return false;
  }
}
