export { writeDemoBundle, type DemoBundle, type ProgressCallback, type WriteDemoOptions } from './bundle.js';
export { demoCacheFolderName, demoCacheRoot, ensureDemoBundle, type EnsureDemoOptions } from './cache.js';
export {
  DEFAULT_DEMO_OPTIONS, DEMO_BACKENDS, DEMO_LIMITS, DEMO_QUANTS, describeDemoOptions, resolveDemoOptions, type DemoBackend, type DemoInput, type DemoOptions,
  type DemoQuant,
} from './options.js';
export { demoCheckpoint, demoQwen2Config, DEMO_ROPE_THETA, DEMO_VOCAB_SIZE } from './model.js';
export { DEMO_MAX_NUM_TOKENS, demoGenieConfig, END_OF_TEXT, IM_END, type DemoLutType } from './genie-config.js';
export { DEMO_FORMAT_VERSION, readDemoManifest, type DemoManifest } from './manifest.js';
export { bundleFiles, ctxBinFiles, CONFIG_FILE, HF_DIR, LUT_FILE, MANIFEST_FILE, README_FILE, TOKENIZER_FILE } from './layout.js';
export { DemoBundleError, DemoOptionError } from './errors.js';
