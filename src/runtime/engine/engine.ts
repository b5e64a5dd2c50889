import type { GraphBackend } from '../../backends/backend.js';
import { GenieError, InvalidArgumentError } from '../../errors.js';
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
import type { ElementArray } from '../../tensor/dtype.js';
import type { EmbeddingTable, EmbeddingTarget } from '../embeddings/lut.js';
import { EngineBuffers } from './buffers.js';

/** The engine was used after `dispose()`. */
export class DisposedError extends GenieError {
  constructor(what: string) {
    super('DISPOSED', `${what} is disposed`);
  }
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
  /** Required when the first part takes embeddings: the host LUT (Genie's `embedding` block). */
  readonly embeddings?: EmbeddingTable;
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

  private readonly backend: GraphBackend;
  private readonly planner: ExecutionPlanner;
  private readonly kv: KvCacheManager;
  private readonly padToken: number;
  private readonly eosToken: number;
  private readonly embeddings: EmbeddingTable | undefined;
  private readonly input: ElementArray;
  private readonly embeddingTarget: EmbeddingTarget;
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
    if (layout.input.kind === 'embeddings' && options.embeddings === undefined) {
      throw new InvalidArgumentError(
        `the first graph takes "${layout.input.tensor.name}" but the config has no embedding LUT (dialog.embedding)`,
      );
    }
    if (layout.input.kind === 'embeddings') checkEmbeddings(options.embeddings!, layout);
    this.layout = layout;
    this.backend = backend;
    this.contextSize = options.contextSize;
    this.vocabSize = layout.vocabSize;
    this.padToken = options.padToken;
    this.eosToken = options.eosToken;
    this.embeddings = options.embeddings;
    this.planner = new ExecutionPlanner(layout);
    this.capacity = Math.max(...layout.variants.map((v) => v.pastDim));

    const buffers = new EngineBuffers(backend, planBuffers(layout));
    this.bufferBytes = buffers.totalBytes;
    this.input = buffers.view(layout.input.tensor);
    this.embeddingTarget = { data: this.input, dtype: layout.input.tensor.dtype, encoding: layout.input.tensor.encoding };
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
    this.checkTokens(tokens);
    const before = this.kv.nValid;
    const steps = this.planner.plan(before, tokens.length);
    for (let s = 0; s < steps.length; s++) {
      if (signal?.aborted) {
        this.kv.truncate(before);
        return null;
      }
      const step = steps[s];
      await this.step(step.variant, tokens, step.start, step.nProcess, s === steps.length - 1);
    }
    return this.logits;
  }

  /** One decode step for one token (the smallest AR that fits, Genie's choice). */
  async decode(token: number): Promise<LogitsView> {
    this.checkUsable();
    this.checkToken(token, 'token');
    const variant = this.planner.decodeVariant(this.kv.nValid);
    this.single[0] = token;
    await this.step(variant, this.single, 0, 1, true);
    return this.logits;
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

  private async step(variant: Variant, tokens: ArrayLike<number>, start: number, n: number, final: boolean): Promise<void> {
    const nValid = this.kv.nValid;
    if (this.kv.ar !== variant.ar || this.kv.contextLength !== variant.cl) this.kv.setShape(variant.cl, variant.ar);
    this.fillInputs(variant, tokens, start, n, nValid);
    const parts = variant.parts;
    for (let p = 0; p < parts.length; p++) {
      if (!final && variant.kinds[p] === 'lm-head') continue;
      await this.backend.execute(parts[p].name);
    }
    this.kv.update(nValid, n);
    if (final) this.logits.setRow(variant.logitsRows === 1 ? 0 : n - 1);
  }

  private fillInputs(variant: Variant, tokens: ArrayLike<number>, start: number, n: number, nValid: number): void {
    const ar = variant.ar;
    if (this.embeddings) {
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

  private checkUsable(): void {
    if (this.disposed) throw new DisposedError('engine');
  }

  private checkTokens(tokens: ArrayLike<number>): void {
    if (tokens.length === 0) throw new InvalidArgumentError('tokens must not be empty');
    for (let i = 0; i < tokens.length; i++) this.checkToken(tokens[i], `tokens[${i}]`);
  }

  private checkToken(token: number, name: string): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new InvalidArgumentError(`${name} = ${token} is not a token id in [0, ${this.vocabSize})`);
    }
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
