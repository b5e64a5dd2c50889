export { ConfigError, ConfigFileError, type ConfigIssue } from './errors.js';
export { configWarnings, parseConfig, parseConfigText, unsupportedValues, type ParseOptions } from './parse.js';
export { loadConfigFile, type LoadedConfig } from './load.js';
export { missingFiles, referencedFiles, type ReferencedFile } from './paths.js';
export { assertLoadable, RUNTIME_BACKEND_TYPES, unsupportedFeatures } from './loadable.js';
export { unsupportedKeys } from './unsupported-keys.js';
export { summarizeConfig } from './summary.js';
export { PROJECT_EXTENSIONS } from './extensions.js';
export {
  deriveDialog, mainEngine, GENIE_DEFAULT_KV_DIM, type DerivedDialog, type DerivedEmbedding, type DerivedHtp,
} from './derive.js';
export { deriveSampler, GENIE_SAMPLER_DEFAULTS, type DeriveOptions } from './sampler-params.js';
export { deriveEos, type EosTokens } from './eos.js';
export { derivePositionalEncoding, type PositionalEncoding, type RopeScaling } from './positional-encoding.js';
export { dialogBody, isDialogRoot, type DialogRootConfig, type GenieConfig } from './types.js';
export {
  BACKEND_TYPES, DEFAULT_ROPE_DIM, DEFAULT_ROPE_THETA, DIALOG_TYPES, EMBEDDING_DATATYPES, ENGINE_ROLES, ROOT_NAMES, SAMPLER_TYPES,
  type BackendConfig, type BackendType, type BinaryModelConfig, type CacheGroupConfig, type ContextConfig, type DebugConfig,
  type DialogConfig, type DialogType, type EmbeddingConfig, type EmbeddingDatatype, type EmbeddingModelConfig, type EngineConfig,
  type EngineRole, type ImageEncoderConfig, type LibraryModelConfig, type LongContextConfig, type LoraConfig, type LutConfig,
  type ModelConfig, type PositionalEncodingConfig, type ProfileConfig, type QnnGenAiTransformerConfig, type QnnHtpConfig,
  type QuantParamConfig, type RootName, type RopeScalingConfig, type SamplerConfig, type StandaloneEngineConfig,
  type TextEncoderConfig, type TextGeneratorConfig, type TokenizerConfig, type TokenPenaltyConfig,
} from './schema/index.js';
