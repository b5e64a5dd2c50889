export type { SamplerParams } from './params.js';
export { Sampler } from './sampler.js';
export type { SamplerUpdate } from './resolve-params.js';
export { isGreedy } from './resolve-params.js';
export { LogitsView, type LogitsDataType, type LogitsLayout } from './logits-view.js';
export { TokenHistory } from './token-history.js';
export { registerSamplerCallback, unregisterSamplerCallback, type SamplerCallback } from './callbacks.js';
export { SamplerCallbackError } from './errors.js';
export type { RngState } from './rng.js';
