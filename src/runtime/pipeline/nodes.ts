import { statSync } from 'node:fs';
import { GenieError, InvalidArgumentError, NotSupportedError } from '../../errors.js';
import { byteSize, type DataTypeName } from '../../tensor/dtype.js';
import { describeValue } from '../check-options.js';
import { loadConfigFile } from '../config/load.js';
import { parseConfig } from '../config/parse.js';
import type { GenieConfig } from '../config/types.js';
import { EMBEDDING_DATATYPE_DTYPES } from '../config/derive.js';
import { Dialog } from '../dialog.js';
import type { DialogOptions, QueryOptions, QueryResult } from '../dialog-types.js';
import { EmbeddingTable } from '../embeddings/lut.js';
import { allocateEmbeddingRows } from '../embeddings/rows.js';
import type { ImageRows } from '../spliced-prompt.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ImageEmbedder, ImageInput } from '../vision/embedder.js';
import { VisionStage, type VisionStageOptions } from '../vision/vision-stage.js';

/** A node was used in a way Genie's pipeline does not allow (not added, connected twice, wrong IO). */
export class PipelineError extends GenieError {
  constructor(message: string) {
    super('PIPELINE', message);
  }
}

/** Where a producer's rows go: the connected text generator's accumulator, in `setData` order. */
export interface RowSink {
  /** Appends rows once `rows` resolves, after every earlier append (call order is row order). */
  append(what: string, rows: () => Promise<ImageRows['rows']> | ImageRows['rows']): Promise<void>;
}

/** What every pipeline node has. */
export interface PipelineNode {
  readonly kind: 'text-encoder' | 'image-encoder' | 'text-generator';
  dispose(): Promise<void>;
}

/** A config argument: a file path, or a parsed object whose paths resolve against `baseDir`. */
async function readRoot(config: string | object, baseDir: string | undefined, root: string): Promise<GenieConfig> {
  if (config === '' || (typeof config !== 'string' && (typeof config !== 'object' || config === null || Array.isArray(config)))) {
    throw new InvalidArgumentError(`a ${root} node takes a config file path or a parsed config object, got ${describeValue(config)}`);
  }
  const parsed = typeof config === 'string' ? (await loadConfigFile(config)).config : parseConfig(config, { baseDir: baseDir ?? process.cwd() });
  if (parsed.root !== root) throw new InvalidArgumentError(`a ${root} node needs a "${root}" config, found a "${parsed.root}" config`);
  return parsed;
}

/**
 * Genie's text-encoder node (`"text-encoder": {"type": "lut", lut, tokenizer}`): text becomes LUT
 * rows, appended to the connected generator's accumulator when it is set.
 */
export class TextEncoderNode implements PipelineNode {
  readonly kind = 'text-encoder';
  /** Set by `Pipeline.connect`. */
  sink: RowSink | null = null;

  private constructor(
    readonly tokenizer: Tokenizer,
    readonly table: EmbeddingTable,
  ) {}

  static async create(config: string | object, options: { baseDir?: string; tokenizer?: Tokenizer } = {}): Promise<TextEncoderNode> {
    const parsed = await readRoot(config, options.baseDir, 'text-encoder');
    const node = (parsed as Extract<GenieConfig, { root: 'text-encoder' }>)['text-encoder'];
    if (node.type !== 'lut') throw new NotSupportedError(`text-encoder.type "${String(node.type)}": only a LUT text encoder (type "lut") runs in a pipeline`);
    const { lut } = node;
    if (lut === undefined || node.tokenizer === undefined) throw new NotSupportedError('a LUT text encoder needs text-encoder.lut and text-encoder.tokenizer');
    const path = lut['lut-path'];
    if (path === undefined) throw new NotSupportedError('text-encoder.lut.lut-path is needed to run the text encoder (its table file)');
    const datatype = lut.datatype ?? 'float32';
    const dtype: DataTypeName | null = EMBEDDING_DATATYPE_DTYPES[datatype];
    if (dtype === null) throw new NotSupportedError(`not supported yet: text-encoder.lut.datatype "${datatype}" (use float32 or a fixed-point type)`);
    // The node's config has no vocabulary size: the table file says how many rows it holds.
    const rowBytes = lut.size * byteSize(dtype);
    let bytes: number;
    try {
      bytes = statSync(path).size;
    } catch {
      bytes = 0; // EmbeddingTable.load reports the unreadable file
    }
    const nVocab = Math.max(1, Math.floor(bytes / rowBytes));
    const param = lut['quant-param'];
    const encoding = param?.scale !== undefined && param.offset !== undefined ? { scale: param.scale, offset: Math.trunc(param.offset) } : undefined;
    const table = EmbeddingTable.load({ path, nVocab, size: lut.size, dtype, encoding });
    const tokenizer = options.tokenizer ?? (await loadTokenizer(node.tokenizer.path));
    return new TextEncoderNode(tokenizer, table);
  }

  /** Genie's `setData(TEXT_ENCODER_TEXT_INPUT)`: tokenizes `text` (no special tokens) and appends its LUT rows. */
  setText(text: string): Promise<void> {
    if (typeof text !== 'string') throw new InvalidArgumentError(`text-encoder setText takes a string, got ${describeValue(text)}`);
    const sink = this.requireSink();
    const ids = Array.from(this.tokenizer.encode(text));
    return sink.append('text-encoder text', () => this.rowsOf(ids));
  }

  async dispose(): Promise<void> {}

  private rowsOf(ids: readonly number[]): ImageRows['rows'] {
    const { table } = this;
    const rows = { data: allocateEmbeddingRows(table.dtype, ids.length * table.size), dtype: table.dtype, encoding: table.encoding };
    ids.forEach((t, i) => table.writeRow(t, i, rows));
    return rows;
  }

  private requireSink(): RowSink {
    if (this.sink === null) throw new PipelineError('the text-encoder node is not connected to a text generator (Pipeline.connect)');
    return this.sink;
  }
}

/**
 * Genie's image-encoder node: each image (or its raw preprocessed `pixel_values`) runs through the
 * image encoder when it is set, and its rows are appended to the connected generator's accumulator.
 */
export class ImageEncoderNode implements PipelineNode {
  readonly kind = 'image-encoder';
  sink: RowSink | null = null;

  /** A node over an image embedder; `owned`: the node disposes it. */
  constructor(
    readonly embedder: ImageEmbedder,
    private readonly owned: boolean,
  ) {}

  /** Genie's `GenieNode_create` of an `image-encoder` config (a path, or an object with `options.baseDir`). */
  static async create(config: string | object, options: VisionStageOptions = {}): Promise<ImageEncoderNode> {
    return new ImageEncoderNode(await VisionStage.open(config, options), true);
  }

  /** Genie's `setData(IMAGE_ENCODER_IMAGE_INPUT)`: an image file (path or bytes) or a preprocessed pixel tensor. */
  setImage(image: ImageInput, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.sink === null) throw new PipelineError('the image-encoder node is not connected to a text generator (Pipeline.connect)');
    return this.sink.append('image-encoder image', async () => (await this.embedder.embed(image, options.signal)).rows);
  }

  async dispose(): Promise<void> {
    if (this.owned) await this.embedder.dispose();
  }
}

/**
 * Genie's text-generator node: a dialog over a `text-generator` (or `dialog`) config whose
 * accumulator (`accumulator-size`) collects what connected encoders produce.
 */
export class TextGeneratorNode implements PipelineNode {
  readonly kind = 'text-generator';

  private constructor(readonly dialog: Dialog) {}

  static async create(config: string | object, options: DialogOptions = {}): Promise<TextGeneratorNode> {
    return new TextGeneratorNode(await Dialog.create(config, options));
  }

  /** Runs a text query (no accumulated rows) or an embedding query of the rows; streams the reply. */
  query(text: string | null, rows: ImageRows['rows'] | null, options: QueryOptions): AsyncGenerator<string, QueryResult> {
    if (rows !== null) return this.dialog.embeddingQuery(rows.data, { ...options, dtype: rows.dtype, encoding: rows.encoding });
    return this.dialog.query(text ?? '', options);
  }

  async dispose(): Promise<void> {
    await this.dialog.dispose();
  }
}
