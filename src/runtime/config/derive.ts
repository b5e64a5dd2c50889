import { InvalidArgumentError, NotSupportedError } from '../../errors.js';
import type { SamplerParams } from '../../sampler/params.js';
import type { DataTypeName, Encoding } from '../../tensor/dtype.js';
import { deriveEos } from './eos.js';
import { unsupportedValues } from './parse.js';
import { derivePositionalEncoding, type PositionalEncoding } from './positional-encoding.js';
import { deriveSampler, type DeriveOptions } from './sampler-params.js';
import type { BackendType, QnnHtpConfig } from './schema/backend.js';
import type { DialogType } from './schema/dialog.js';
import type { EmbeddingDatatype } from './schema/embedding.js';
import type { EngineConfig } from './schema/engine.js';
import { dialogBody, isDialogRoot, type GenieConfig } from './types.js';

/** qualla's head_dim when a QnnHtp object gives no `kv-dim`. */
export const GENIE_DEFAULT_KV_DIM = 128;

/** The QNN dtype of each embedding `datatype` (null: `native`, which names none). */
export const EMBEDDING_DATATYPE_DTYPES: Readonly<Record<EmbeddingDatatype, DataTypeName | null>> = {
  float32: 'FLOAT_32',
  native: null,
  ufixed8: 'UFIXED_POINT_8',
  ufixed16: 'UFIXED_POINT_16',
  sfixed8: 'SFIXED_POINT_8',
  sfixed16: 'SFIXED_POINT_16',
};

export interface DerivedEmbedding {
  /** n_embd: the row width. */
  readonly size: number;
  readonly type: 'lut' | 'callback' | null;
  /** Absolute path of the LUT (type `lut`). */
  readonly lutPath: string | null;
  /** Genie's name; absent = `float32` (Genie's internal default). */
  readonly datatype: EmbeddingDatatype;
  /** The QNN type of the LUT values; null for `native` (the model input's own type). */
  readonly qnnDataType: DataTypeName | null;
  /** `quant-param`, its offset cut to an integer toward zero as Genie's int32 does. */
  readonly quantParam: Encoding | null;
}

/** The QnnHtp values the HTP backend applies at load (absent keys at Genie's values). */
export interface DerivedHtp {
  readonly spillFillBufsize: number;
  readonly mmapBudget: number;
  readonly useMmap: boolean;
  /** `cpu-mask` as a number, e.g. "0xe0" -> 224. */
  readonly cpuMask: number;
  readonly poll: boolean;
  /** Genie forces false unless set. */
  readonly allowAsyncInit: boolean;
  readonly enableGraphSwitching: boolean;
  readonly dataAlignmentSize: number | null;
}

/** What the runtime needs from a dialog / text-generator config, defaults applied, paths absolute. */
export interface DerivedDialog {
  readonly root: 'dialog' | 'text-generator';
  readonly type: DialogType;
  readonly eosTokens: number[];
  readonly primaryEos: number;
  readonly padToken: number;
  /** Prepended at each new turn; null when `bos-token` is -1. */
  readonly bosToken: number | null;
  readonly contextSize: number;
  readonly nVocab: number;
  /** `embedding.size`, else `context.n-embd`; null when neither is set (deduce from the graphs). */
  readonly nEmbd: number | null;
  readonly sampler: SamplerParams;
  readonly tokenizerPath: string;
  readonly backendType: BackendType;
  /** Absolute ctx-bin paths of the main engine, split order (empty for a `library` model). */
  readonly ctxBins: string[];
  readonly nThreads: number;
  /** head_dim: QnnHtp `kv-dim` (qualla default 128); null = deduce from the past_key tensors. */
  readonly kvDim: number | null;
  readonly positionalEncoding: PositionalEncoding;
  readonly embedding: DerivedEmbedding | null;
  /** `stop-sequence` without empty strings (Genie never matches one). */
  readonly stopSequences: string[];
  /** null = no cap. */
  readonly maxNumTokens: number | null;
  /** A text-generator's `accumulator-size`: the byte cap of a spliced (text + image) prompt's rows; null = the context's. */
  readonly accumulatorSize: number | null;
  readonly htp: DerivedHtp | null;
  /** Absolute path of the HTP backend-extension JSON. */
  readonly extensionsPath: string | null;
  /** The main engine's `longcontext` sliding window (KeyDiff is refused at derive); null: none. */
  readonly slidingWindow: { readonly reservedTokens: number; readonly windowSize: number } | null;
}

/** The engine whose model generates: the only one, or the `target` / `primary` of a pair. */
export function mainEngine(engine: EngineConfig | EngineConfig[]): EngineConfig {
  if (!Array.isArray(engine)) return engine;
  return engine.find((e) => e.role === 'target' || e.role === 'primary') ?? engine[0];
}

function deriveHtp(htp: QnnHtpConfig): DerivedHtp {
  return {
    spillFillBufsize: htp['spill-fill-bufsize'],
    mmapBudget: htp['mmap-budget'],
    useMmap: htp['use-mmap'],
    cpuMask: Number.parseInt(htp['cpu-mask'].slice(2), 16),
    poll: htp.poll,
    allowAsyncInit: htp['allow-async-init'] ?? false,
    enableGraphSwitching: htp['enable-graph-switching'] ?? false,
    dataAlignmentSize: htp['data-alignment-size'] ?? null,
  };
}

/**
 * The derived view of a dialog or text-generator config (see `DerivedDialog`).
 * @throws NotSupportedError naming the values genie-ts does not run (`unsupportedValues`), from
 * which no meaningful view can be derived.
 */
export function deriveDialog(config: GenieConfig, options: DeriveOptions = {}): DerivedDialog {
  if (!isDialogRoot(config)) {
    throw new InvalidArgumentError(`deriveDialog: config root must be "dialog" or "text-generator", found "${config.root}"`);
  }
  const unsupported = unsupportedValues(config);
  if (unsupported.length > 0) throw new NotSupportedError(unsupported.map((issue) => `cannot run: ${issue.path}: ${issue.message}`).join('; '));
  const dialog = dialogBody(config);
  const context = dialog.context;
  const engine = mainEngine(dialog.engine);
  const htp = engine.backend.QnnHtp;
  const kvDim = htp === undefined ? null : (htp['kv-dim'] ?? GENIE_DEFAULT_KV_DIM);
  const embedding = dialog.embedding;
  const datatype = embedding?.datatype ?? 'float32';
  const quantParam = embedding?.['quant-param'];
  return {
    root: config.root,
    type: dialog.type,
    ...deriveEos(context),
    bosToken: context['bos-token'] >= 0 ? context['bos-token'] : null,
    contextSize: context.size,
    nVocab: context['n-vocab'],
    nEmbd: embedding?.size ?? context['n-embd'] ?? null,
    sampler: deriveSampler(dialog.sampler, options),
    tokenizerPath: dialog.tokenizer.path,
    backendType: engine.backend.type,
    ctxBins: [...(engine.model.binary?.['ctx-bins'] ?? [])],
    nThreads: engine['n-threads'],
    kvDim: kvDim === -1 ? null : kvDim,
    positionalEncoding: derivePositionalEncoding(engine),
    embedding:
      embedding === undefined
        ? null
        : {
            size: embedding.size,
            type: embedding.type ?? null,
            lutPath: embedding['lut-path'] ?? null,
            datatype,
            qnnDataType: EMBEDDING_DATATYPE_DTYPES[datatype],
            quantParam:
              quantParam?.scale === undefined || quantParam.offset === undefined
                ? null
                : { scale: quantParam.scale, offset: Math.trunc(quantParam.offset) },
          },
    stopSequences: (dialog['stop-sequence'] ?? []).filter((stop) => stop !== ''),
    maxNumTokens: dialog['max-num-tokens'] ?? null,
    accumulatorSize: config.root === 'text-generator' ? (config['text-generator']['accumulator-size'] ?? null) : null,
    htp: htp === undefined ? null : deriveHtp(htp),
    extensionsPath: engine.backend.extensions ?? null,
    slidingWindow: deriveSlidingWindow(engine),
  };
}

/** `longcontext` of type sliding-window: `reserved-tokens` absent means no sinks. */
function deriveSlidingWindow(engine: EngineConfig): DerivedDialog['slidingWindow'] {
  const longContext = engine.longcontext;
  const window = longContext?.['sliding-window'];
  if (longContext?.type !== 'sliding-window' || window === undefined) return null;
  return { reservedTokens: longContext['reserved-tokens'] ?? 0, windowSize: window['window-size'] };
}
