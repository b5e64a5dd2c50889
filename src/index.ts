/**
 * genie-ts: Qualcomm Genie's LLM runtime loop in TypeScript. The main entry exports the dialog and
 * engine, Genie's pipeline and the vision stage; the pure modules also have subpath exports
 * (`genie-ts/config`, `/tensor`, `/rope`, `/sampler`, `/kv`, `/vision` for image preprocessing).
 */
export {
  Dialog, DialogBusyError, type DialogOptions, type EmbeddingQueryOptions, type QueryOptions, type QueryResult, type StopReason,
} from './runtime/dialog.js';
export { QueryNotStartedError, type QueryStream, type TokenEvent } from './runtime/query-stream.js';
export { ChatTemplateError, type ChatMessage } from './runtime/chat-template.js';
export { SaveFormatError, SaveModelMismatchError, SaveWriteError, StaleCheckpointError } from './runtime/save/errors.js';
export type { DialogCheckpoint } from './runtime/save/checkpoint.js';
export { CallbackError } from './runtime/callbacks.js';
export {
  Engine, DisposedError, EngineBusyError, type EmbeddingPrefillOptions, type EngineOpenOptions, type EngineOptions, type EngineStep,
} from './runtime/engine/index.js';
export {
  StepListenerError, tensorToFloat32, type StepEvent, type StepKind, type StepListener, type StepSplit, type StepTensor,
} from './runtime/engine/index.js';
export { TRACE_INDEX, TraceError, TraceWriter, type TraceOptions, type TraceSummary } from './runtime/trace/trace-writer.js';
export { readTrace, type Trace, type TracedStep, type TracedTensor } from './runtime/trace/trace-reader.js';
export { diffTraces, TraceAlignError, type DiffOptions, type StepDiff, type TensorDiff, type TraceDiff } from './runtime/trace/trace-diff.js';
export { diffToText } from './runtime/trace/diff-text.js';
export { diffToHtml } from './runtime/trace/diff-html.js';
export {
  DropOldestTurnsPolicy, SlidingWindowPolicy, type KvCacheView, type KvDecision, type KvEntryKind, type KvEviction, type KvPolicy,
  type KvPolicySpec, type KvRoomRequest,
} from './runtime/kv-policy/index.js';
export type { SamplerStage, StageContext, ChainEntry, SamplerStageSpec } from './sampler/index.js';
export { EmbeddingTable, EmbeddingTableError } from './runtime/embeddings/lut.js';
export { Accumulator, AccumulatorOverflowError, type AccumulatorFormat } from './runtime/embeddings/accumulator.js';
export { Pipeline, ImageEncoderNode, PipelineError, TextEncoderNode, TextGeneratorNode, type PipelineNode } from './runtime/pipeline/index.js';
export { VisionStage, type VisionStageOptions } from './runtime/vision/vision-stage.js';
export { ImageEncoder, ImageEncoderBusyError, ImageEncodeAbortedError, type EncodedImage } from './runtime/vision/image-encoder.js';
export type { ImageEmbedder, ImageInput, PixelTensor } from './runtime/vision/embedder.js';
export { ImageInputError } from './runtime/vision/prompt.js';
export type { ImageRows, ImageTimings } from './runtime/spliced-prompt.js';
export type { EmbeddingRows } from './runtime/embeddings/rows.js';
export type { Kpis } from './runtime/kpis.js';
export type { GraphBackend } from './backends/backend.js';
export { openBackend, type BackendOptions } from './runtime/backend-factory.js';
export { loadTokenizer, Tokenizer, demoTokenizerPath } from './runtime/tokenizer/index.js';
export { IncrementalDetokenizer, StopSequenceMatcher } from './runtime/text/index.js';
export { ConfigError, ConfigFileError, loadConfigFile, parseConfig, deriveDialog } from './runtime/config/index.js';
export { TokenizerMismatchError } from './runtime/config-vocabulary.js';
export {
  ContextLimitError, ModelLayoutError, discoverModelLayout, type GraphSpec, type IoTensor, type KvSlotSpec, type KvTensorSpec,
  type ModelInput, type ModelLayout, type TensorRole, type TensorSpec, type Variant,
} from './graphs/index.js';
export type { SamplerParams, SamplerUpdate } from './sampler/index.js';
export { ensureDemoBundle, writeDemoBundle, type DemoBundle, type EnsureDemoOptions, type WriteDemoOptions } from './demo/index.js';
export { GENIE_ERROR_CODES, GenieError, InvalidArgumentError, NotSupportedError, type GenieErrorCode } from './errors.js';
