import type { DialogConfig, TextGeneratorConfig } from './schema/dialog.js';
import type { SamplerConfig } from './schema/sampler.js';
import type {
  EmbeddingModelConfig, ImageEncoderConfig, ProfileConfig, StandaloneEngineConfig, TextEncoderConfig,
} from './schema/roots.js';

/**
 * A parsed Genie config, discriminated by its root key. The body keeps Genie's kebab-case keys
 * (users know those names); relative paths in it are already absolute.
 */
export type GenieConfig =
  | { readonly root: 'dialog'; readonly dialog: DialogConfig }
  | { readonly root: 'text-generator'; readonly 'text-generator': TextGeneratorConfig }
  | { readonly root: 'text-encoder'; readonly 'text-encoder': TextEncoderConfig }
  | { readonly root: 'lut-encoder'; readonly 'lut-encoder': TextEncoderConfig }
  | { readonly root: 'image-encoder'; readonly 'image-encoder': ImageEncoderConfig }
  | { readonly root: 'sampler'; readonly sampler: SamplerConfig }
  | { readonly root: 'embedding'; readonly embedding: EmbeddingModelConfig }
  | { readonly root: 'standalone-engine'; readonly 'standalone-engine': StandaloneEngineConfig }
  | { readonly root: 'profile'; readonly profile: ProfileConfig };

/** The roots the engine runs: a dialog, or a pipeline's text generator (same schema). */
export type DialogRootConfig = Extract<GenieConfig, { root: 'dialog' | 'text-generator' }>;

/** The dialog body of a dialog or text-generator root. */
export function dialogBody(config: DialogRootConfig): DialogConfig | TextGeneratorConfig {
  return config.root === 'dialog' ? config.dialog : config['text-generator'];
}

export function isDialogRoot(config: GenieConfig): config is DialogRootConfig {
  return config.root === 'dialog' || config.root === 'text-generator';
}
