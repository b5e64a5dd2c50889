export { BACKEND_TYPES, type BackendConfig, type BackendType, type QnnGenAiTransformerConfig, type QnnHtpConfig } from './backend.js';
export { type ContextConfig } from './context.js';
export { DIALOG_TYPES, type DebugConfig, type DialogConfig, type DialogType, type TextGeneratorConfig } from './dialog.js';
export {
  EMBEDDING_DATATYPES, type EmbeddingConfig, type EmbeddingDatatype, type LutConfig, type QuantParamConfig,
} from './embedding.js';
export { ENGINE_ROLES, type CacheGroupConfig, type EngineConfig, type EngineRole, type LongContextConfig } from './engine.js';
export {
  DEFAULT_ROPE_DIM, DEFAULT_ROPE_THETA, type BinaryModelConfig, type LibraryModelConfig, type LoraConfig, type ModelConfig,
  type PositionalEncodingConfig, type RopeScalingConfig,
} from './model.js';
export { SAMPLER_TYPES, type SamplerConfig, type TokenPenaltyConfig } from './sampler.js';
export { type TokenizerConfig } from './tokenizer.js';
export {
  ROOT_NAMES, ROOT_SCHEMAS, type EmbeddingModelConfig, type ImageEncoderConfig, type ProfileConfig, type RootName,
  type StandaloneEngineConfig, type TextEncoderConfig,
} from './roots.js';
