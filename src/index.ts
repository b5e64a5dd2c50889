/**
 * genie-ts: Qualcomm Genie's LLM runtime loop in TypeScript. The main entry exports the dialog and
 * engine; the pure modules also have subpath exports (`genie-ts/config`, `/tensor`, `/rope`,
 * `/sampler`, `/kv`).
 */
export {
  Dialog, DialogBusyError, type DialogOptions, type EmbeddingQueryOptions, type QueryOptions, type QueryResult, type StopReason,
} from './runtime/dialog.js';
export { Engine, DisposedError, type EmbeddingPrefillOptions, type EngineOptions } from './runtime/engine/index.js';
export { EmbeddingTable, EmbeddingTableError } from './runtime/embeddings/lut.js';
export type { EmbeddingRows } from './runtime/embeddings/rows.js';
export type { Kpis } from './runtime/kpis.js';
export type { GraphBackend } from './backends/backend.js';
export { openBackend } from './runtime/backend-factory.js';
export { loadTokenizer, Tokenizer, demoTokenizerPath } from './runtime/tokenizer/index.js';
export { IncrementalDetokenizer, StopSequenceMatcher } from './runtime/text/index.js';
export { ConfigError, ConfigFileError, loadConfigFile, parseConfig, deriveDialog } from './runtime/config/index.js';
export { TokenizerMismatchError } from './runtime/config-vocabulary.js';
export { ContextLimitError, ModelLayoutError, discoverModelLayout, type GraphSpec, type TensorSpec } from './graphs/index.js';
export { GenieError, InvalidArgumentError, NotSupportedError } from './errors.js';
