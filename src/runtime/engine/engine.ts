import type { GraphBackend } from '../../backends/backend.js';
import { GenieError, InvalidArgumentError, NotSupportedError } from '../../errors.js';
import { planBuffers } from '../../graphs/buffer-plan.js';
import { checkContextSize } from '../../graphs/context-size.js';
import { discoverModelLayout } from '../../graphs/discover.js';
import type { ModelLayout, Variant } from '../../graphs/layout.js';
import { ExecutionPlanner } from '../../graphs/planner.js';
import { fillAttentionMask, maskValues, type AttentionMaskParams } from '../../kv/attention-mask.js';
import { fillCacheIndex } from '../../kv/cache-index.js';
import { kvClearValue } from '../../kv/clear-value.js';
import { KvCacheManager, type KvSlot } from '../../kv/kv-cache.js';
import { RopeTable, type RopeTableArray, type RopeTableDtype } from '../../rope/table.js';
import type { RopeScaling } from '../../rope/inv-freq.js';
import { LogitsView } from '../../sampler/logits-view.js';
import { isFixedPoint, type ElementArray } from '../../tensor/dtype.js';
import { quantize } from '../../tensor/quant.js';
import type { EmbeddingTable, EmbeddingTarget } from '../embeddings/lut.js';
import { checkEmbeddingRows, copyEmbeddingRows, type EmbeddingRows } from '../embeddings/rows.js';
import { EngineBuffers } from './buffers.js';

/** The engine was used after `dispose()`. */
export class DisposedError extends GenieError {
  constructor(what: string) {
    super('DISPOSED', `${what} is disposed`);
  }
}

/** Options of `Engine.prefillEmbeddings`. */
export interface EmbeddingPrefillOptions {
  /** Token ids fed before the rows, through the LUT (a dialog's carried-over token, EOS between turns). */
  readonly leadingTokens?: ArrayLike<number>;
  /** Aborts between chunks (the cache is then back where it was). */
  readonly signal?: AbortSignal;
}

export interface EngineOptions {
  /** `context.size`: must not exceed the largest CL in the binaries. */
  readonly contextSize: number;
  /** Written to unused `input_ids` rows. */
  readonly padToken: number;
  /** Its LUT row fills unused `input_embeds` rows (Genie pads with the EOS embedding). */
  readonly eosToken: number;
  /** RoPE parameters for the `position_ids_cos/sin` tables (ignored when the graphs take none). */
  readonly rope: { readonly theta: number; readonly scaling: RopeScaling };
  /**
   * The host LUT (Genie's `embedding` block) when the first part takes embeddings: it turns token
   * ids into rows and pads unused rows. Required unless `embeddingCallback` is set.
   */
  readonly embeddings?: EmbeddingTable;
  /**
   * The config's embedding is `type: callback`: an embedding model may come without a LUT and is
   * then fed only rows (`prefillEmbeddings`, `decodeEmbedding`); token ids are the caller's to convert.
   */
  readonly embeddingCallback?: boolean;
  /** Cache-group prefixes (default `past_`). */
  readonly cacheGroups?: readonly string[];
  /** Additive bias of masked positions in float masks (default -1000, Genie's value). */
  readonly maskedValue?: number;
}

/** Per-variant views of the AR-sized inputs (created once at load). */
interface VariantIo {
  readonly cacheIndex: Int32Array | Uint32Array | undefined;
}

/**
 * Genie's engine over compiled AR-N graphs: owns the IO buffers, the KV cache, the RoPE table and
 * the execution plan, and turns token ids into logits. It never samples and knows no text.
 *
 * Per step: fill ids/embeddings, mask rows, cos/sin rows (and position_ids / cache_index when the
 * graphs take them), execute the variant's parts in split order, copy the new KV entries out -> in.
 */
export class Engine {
  readonly layout: ModelLayout;
  readonly contextSize: number;
  readonly vocabSize: number;
  /** Logits of the last processed token (its row is selected by `prefill` / `decode`). */
  readonly logits: LogitsView;
  readonly bufferBytes: number;
  /** Most KV entries the binaries can hold: the largest KV-in past dim (CL - AR for concat graphs). */
  readonly capacity: number;
  /** Elements per embedding row when the first part takes embeddings; undefined for an ids model. */
  readonly embeddingSize: number | undefined;
  /** Token ids can be fed (`prefill`, `decode`): the model takes ids, or there is a LUT. */
  readonly acceptsTokens: boolean;

  private readonly backend: GraphBackend;
  private readonly planner: ExecutionPlanner;
  private readonly kv: KvCacheManager;
  private readonly padToken: number;
  private readonly eosToken: number;
  private readonly embeddings: EmbeddingTable | undefined;
  private readonly input: ElementArray;
  private readonly embeddingTarget: EmbeddingTarget;
  /** Pads unused embedding rows when there is no LUT: the input's code for 0.0. */
  private readonly zeroCode: number;
  private readonly mask: ElementArray | undefined;
  private readonly maskParams: AttentionMaskParams;
  private readonly rope: RopeTable | undefined;
  private readonly cos: RopeTableArray | undefined;
  private readonly sin: RopeTableArray | undefined;
  private readonly positionIds: Int32Array | undefined;
  private readonly variantIo = new Map<Variant, VariantIo>();
  private disposed = false;

  private constructor(backend: GraphBackend, options: EngineOptions) {
    const layout = discoverModelLayout(backend.graphs, { cacheGroups: options.cacheGroups });
    checkContextSize(layout, options.contextSize);
    if (layout.input.kind === 'embeddings') {
      if (options.embeddings !== undefined) {
        checkEmbeddings(options.embeddings, layout);
      } else if (options.embeddingCallback === true) {
        checkInputDtype(layout);
      } else {
        throw new InvalidArgumentError(
          `the first graph takes "${layout.input.tensor.name}" but the config has no embedding LUT (dialog.embedding)`,
        );
      }
    }
    this.layout = layout;
    this.backend = backend;
    this.contextSize = options.contextSize;
    this.vocabSize = layout.vocabSize;
    this.padToken = options.padToken;
    this.eosToken = options.eosToken;
    this.embeddings = layout.input.kind === 'embeddings' ? options.embeddings : undefined;
    this.embeddingSize = layout.input.kind === 'embeddings' ? layout.input.rowElements : undefined;
    this.acceptsTokens = layout.input.kind === 'ids' || this.embeddings !== undefined;
    this.planner = new ExecutionPlanner(layout);
    this.capacity = Math.max(...layout.variants.map((v) => v.pastDim));

    const buffers = new EngineBuffers(backend, planBuffers(layout));
    this.bufferBytes = buffers.totalBytes;
    this.input = buffers.view(layout.input.tensor);
    const inputTensor = layout.input.tensor;
    this.embeddingTarget = { data: this.input, dtype: inputTensor.dtype, encoding: inputTensor.encoding };
    this.zeroCode = isFixedPoint(inputTensor.dtype) && inputTensor.encoding ? quantize(0, inputTensor.encoding, inputTensor.dtype) : 0;
    this.logits = new LogitsView(buffers.require(layout.logits.name), {
      dtype: layout.logits.dtype,
      vocab: layout.vocabSize,
      encoding: layout.logits.encoding,
    });

    // KV regions, the mask buffer and the RoPE table are sized for the largest CL; the cache starts
    // on the variant that decodes an empty context and follows each step's (CL, AR).
    const cl = layout.maxContextLength;
    const decodeVariant = this.planner.decodeVariant(0);
    this.kv = new KvCacheManager({
      contextLength: decodeVariant.cl,
      maxContextLength: cl,
      ar: decodeVariant.ar,
      mode: layout.pastDimMode,
      clearValue: kvClearValue(layout.kv[0].key.dtype, layout.kv[0].key.encoding),
      slots: layout.kv.map((slot): KvSlot => {
        if (slot.key.heads !== slot.value.heads || slot.key.headDim !== slot.value.headDim) {
          throw new InvalidArgumentError(
            `KV layer ${slot.layer}: "${slot.key.in}" has ${slot.key.heads}x${slot.key.headDim} (heads x head_dim) ` +
              `but "${slot.value.in}" has ${slot.value.heads}x${slot.value.headDim}`,
          );
        }
        // The manager owns KV-in (heads x head_dim x CL elements); a scatter region also holds KV-out after it.
        const elements = slot.key.heads * slot.key.headDim * cl;
        return {
          key: buffers.view({ name: slot.key.region, dtype: slot.key.dtype }).subarray(0, elements),
          value: buffers.view({ name: slot.value.region, dtype: slot.value.dtype }).subarray(0, elements),
          heads: slot.key.heads,
          headDim: slot.key.headDim,
        };
      }),
    });

    this.mask = layout.attentionMask && buffers.view(layout.attentionMask);
    const { attend, masked } = layout.attentionMask
      ? maskValues(layout.attentionMask.dtype, options.maskedValue)
      : { attend: 0, masked: 0 };
    this.maskParams = { ar: 1, cl, nValid: 0, nNew: 0, mode: layout.pastDimMode, attendValue: attend, maskedValue: masked };

    if (layout.positionCos && layout.positionSin && layout.ropeDim !== undefined) {
      this.rope = new RopeTable({
        ropeDim: layout.ropeDim,
        theta: options.rope.theta,
        scaling: options.rope.scaling,
        contextLength: cl,
        dtype: layout.positionCos.dtype as RopeTableDtype,
        cosEncoding: layout.positionCos.encoding,
        sinEncoding: layout.positionSin.encoding,
      });
      this.cos = buffers.view(layout.positionCos) as RopeTableArray;
      this.sin = buffers.view(layout.positionSin) as RopeTableArray;
    }
    this.positionIds = layout.positionIds && (buffers.view(layout.positionIds) as Int32Array);
    const cacheIndex = layout.cacheIndex && (buffers.view(layout.cacheIndex) as Int32Array | Uint32Array);
    for (const variant of layout.variants) {
      this.variantIo.set(variant, { cacheIndex: cacheIndex?.subarray(0, variant.ar) });
    }
  }

  /** Discovers the model in the backend's graphs, allocates and binds every buffer once. */
  static create(backend: GraphBackend, options: EngineOptions): Engine {
    return new Engine(backend, options);
  }

  /** KV entries currently valid (tokens processed since the last reset, minus rewinds). */
  get nValid(): number {
    return this.kv.nValid;
  }

  /**
   * Processes `tokens` after the cached ones (chunked over the AR variants as Genie plans it) and
   * leaves `logits` on the last token's row. Returns null when `signal` aborts between chunks; the
   * cache is then back where it was.
   * @throws ContextLimitError when they do not fit the binaries' context.
   */
  async prefill(tokens: ArrayLike<number>, signal?: AbortSignal): Promise<LogitsView | null> {
    this.checkUsable();
    this.checkAcceptsTokens();
    this.checkTokens(tokens);
    return this.prefillSequence(tokens, null, tokens.length, signal);
  }

  /**
   * Like `prefill` over caller-given embedding rows (Genie's embedding query) for a model whose
   * first part takes embeddings: `leadingTokens` (through the LUT), then the rows, chunked over the
   * AR variants. FLOAT_32 rows are quantized (or converted) into the input's dtype, fixed-point rows
   * requantized into its encoding (codes copied unchanged when the encodings are equal). Unused rows
   * of a chunk hold the LUT's EOS row, or the input's code for 0.0 without a LUT (they are masked,
   * so their content cannot change any valid row's result).
   * @throws NotSupportedError for a model fed with token ids, or leading tokens without a LUT;
   * InvalidArgumentError for rows `checkEmbeddingRows` rejects; ContextLimitError as `prefill`.
   */
  async prefillEmbeddings(rows: EmbeddingRows, options: EmbeddingPrefillOptions = {}): Promise<LogitsView | null> {
    this.checkUsable();
    const count = this.checkEmbeddingRows(rows);
    const leading = options.leadingTokens ?? NO_TOKENS;
    if (leading.length > 0) {
      this.checkAcceptsTokens();
      this.checkTokens(leading, 'leadingTokens');
    }
    return this.prefillSequence(leading, rows, leading.length + count, options.signal);
  }

  /**
   * Validates embedding rows for this model (see `checkEmbeddingRows` in embeddings/rows) and
   * returns their count.
   * @throws NotSupportedError when the model takes token ids.
   */
  checkEmbeddingRows(rows: EmbeddingRows, name = 'embeddings'): number {
    const size = this.embeddingSize;
    if (size === undefined) {
      throw new NotSupportedError(
        `the model's first graph takes token ids ("${this.layout.input.tensor.name}"), not embeddings: feed it tokens`,
      );
    }
    return checkEmbeddingRows(rows, size, name);
  }

  /** One decode step for one token (the smallest AR that fits, Genie's choice). */
  async decode(token: number): Promise<LogitsView> {
    this.checkUsable();
    this.checkAcceptsTokens();
    this.checkToken(token, 'token');
    this.single[0] = token;
    return this.decodeStep(this.single, null);
  }

  /** `decode` for one caller-given embedding row (`name` names it in errors) (a generated token converted by a T2E callback). */
  async decodeEmbedding(row: EmbeddingRows, name = 'row'): Promise<LogitsView> {
    this.checkUsable();
    const count = this.checkEmbeddingRows(row, name);
    if (count !== 1) throw new InvalidArgumentError(`${name} holds ${count} embedding rows, expected exactly 1`);
    return this.decodeStep(NO_TOKENS, row);
  }

  /** The backend's profiling records since the last call (empty when it does not profile). */
  takeBackendProfile(): readonly object[] {
    return this.backend.takeProfile?.() ?? [];
  }

  /** Forgets every cached entry from position `n` on (a rewind; freed slots get the clear value). */
  rewind(n: number): void {
    this.checkUsable();
    this.kv.truncate(n);
  }

  /** Empties the KV cache. */
  reset(): void {
    this.checkUsable();
    this.kv.clear();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.backend.dispose();
  }

  private readonly single = new Int32Array(1);

  /** The sequence `tokens ++ rows` (`total` entries) after the cached ones; null when aborted. */
  private async prefillSequence(
    tokens: ArrayLike<number>,
    rows: EmbeddingRows | null,
    total: number,
    signal: AbortSignal | undefined,
  ): Promise<LogitsView | null> {
    const before = this.kv.nValid;
    const steps = this.planner.plan(before, total);
    for (let s = 0; s < steps.length; s++) {
      if (signal?.aborted) {
        this.kv.truncate(before);
        return null;
      }
      const step = steps[s];
      await this.step(step.variant, tokens, rows, step.start, step.nProcess, s === steps.length - 1);
    }
    return this.logits;
  }

  private async decodeStep(tokens: ArrayLike<number>, rows: EmbeddingRows | null): Promise<LogitsView> {
    const variant = this.planner.decodeVariant(this.kv.nValid);
    await this.step(variant, tokens, rows, 0, 1, true);
    return this.logits;
  }

  /** Entries `start .. start+n` of the sequence `tokens ++ rows` through one variant. */
  private async step(
    variant: Variant,
    tokens: ArrayLike<number>,
    rows: EmbeddingRows | null,
    start: number,
    n: number,
    final: boolean,
  ): Promise<void> {
    const nValid = this.kv.nValid;
    if (this.kv.ar !== variant.ar || this.kv.contextLength !== variant.cl) this.kv.setShape(variant.cl, variant.ar);
    this.fillInputs(variant, tokens, rows, start, n, nValid);
    const parts = variant.parts;
    for (let p = 0; p < parts.length; p++) {
      if (!final && variant.kinds[p] === 'lm-head') continue;
      await this.backend.execute(parts[p].name);
    }
    this.kv.update(nValid, n);
    if (final) this.logits.setRow(variant.logitsRows === 1 ? 0 : n - 1);
  }

  private fillInputs(
    variant: Variant,
    tokens: ArrayLike<number>,
    rows: EmbeddingRows | null,
    start: number,
    n: number,
    nValid: number,
  ): void {
    const ar = variant.ar;
    if (rows !== null) {
      this.fillEmbeddingRows(tokens, rows, start, n, ar);
    } else if (this.embeddings) {
      this.embeddings.writeRows(tokens, start, n, ar, this.eosToken, this.embeddingTarget);
    } else {
      const ids = this.input;
      for (let i = 0; i < ar; i++) ids[i] = i < n ? tokens[start + i] : this.padToken;
    }
    if (this.mask) {
      const params = this.maskParams;
      params.ar = ar;
      params.cl = variant.cl;
      params.nValid = nValid;
      params.nNew = n;
      fillAttentionMask(this.mask, params);
    }
    if (this.rope) this.rope.gatherRange(nValid, n, ar, this.cos!, this.sin!);
    const positionIds = this.positionIds;
    if (positionIds) for (let i = 0; i < ar; i++) positionIds[i] = i < n ? nValid + i : 0;
    const cacheIndex = this.variantIo.get(variant)!.cacheIndex;
    if (cacheIndex) fillCacheIndex(cacheIndex, nValid, variant.cl);
  }

  /** Input rows 0..ar from the sequence `tokens ++ rows` at `start` (n of them), then padding. */
  private fillEmbeddingRows(tokens: ArrayLike<number>, rows: EmbeddingRows, start: number, n: number, ar: number): void {
    const target = this.embeddingTarget;
    const size = this.embeddingSize!;
    const lead = tokens.length;
    let row = 0;
    for (; row < n && start + row < lead; row++) this.embeddings!.writeRow(tokens[start + row], row, target);
    if (row < n) copyEmbeddingRows(rows, start + row - lead, target, row, n - row, size);
    if (n >= ar) return;
    if (this.embeddings) {
      for (let r = n; r < ar; r++) this.embeddings.writeRow(this.eosToken, r, target);
    } else {
      this.input.fill(this.zeroCode, n * size, ar * size);
    }
  }

  private checkAcceptsTokens(): void {
    if (!this.acceptsTokens) {
      throw new NotSupportedError(
        `the model takes embeddings ("${this.layout.input.tensor.name}") and has no LUT to look token ids up in: ` +
          'feed it embedding rows',
      );
    }
  }

  private checkUsable(): void {
    if (this.disposed) throw new DisposedError('engine');
  }

  private checkTokens(tokens: ArrayLike<number>, name = 'tokens'): void {
    if (tokens.length === 0) throw new InvalidArgumentError(`${name} must not be empty`);
    for (let i = 0; i < tokens.length; i++) this.checkToken(tokens[i], `${name}[${i}]`);
  }

  private checkToken(token: number, name: string): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new InvalidArgumentError(`${name} = ${token} is not a token id in [0, ${this.vocabSize})`);
    }
  }
}

const NO_TOKENS: ArrayLike<number> = new Int32Array(0);

/** Without a LUT, rows come from the caller: the input must be a dtype they can be converted into. */
function checkInputDtype(layout: ModelLayout): void {
  const { dtype, encoding } = layout.input.tensor;
  if (dtype !== 'FLOAT_32' && dtype !== 'FLOAT_16' && !(isFixedPoint(dtype) && encoding !== undefined)) {
    throw new InvalidArgumentError(
      `embedding input "${layout.input.tensor.name}" is ${dtype}${isFixedPoint(dtype) ? ' without an encoding' : ''}: ` +
        'rows can only be written to FLOAT_32, FLOAT_16 or fixed point with an encoding',
    );
  }
}

/** The LUT must fill the model's embedding input: same row width, every token of the vocabulary, a supported dtype. */
function checkEmbeddings(table: EmbeddingTable, layout: ModelLayout): void {
  const input = layout.input as Extract<ModelLayout['input'], { kind: 'embeddings' }>;
  if (table.size !== input.rowElements) {
    throw new InvalidArgumentError(
      `the embedding LUT's size ${table.size} does not match the ${input.rowElements} elements per row of "${input.tensor.name}"`,
    );
  }
  if (table.nVocab < layout.vocabSize) {
    throw new InvalidArgumentError(`the embedding LUT has ${table.nVocab} rows, fewer than the model's vocabulary ${layout.vocabSize}`);
  }
  table.checkTarget(input.tensor);
}
