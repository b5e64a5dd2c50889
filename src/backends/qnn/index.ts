export { openQnnBackend, type QnnGraphBackend } from './backend.js';
export {
  QNN_PROVIDER_ENV,
  QNN_PROVIDERS,
  resolveQnnBackendOptions,
  resolveQnnProvider,
  type QnnBackendOptions,
  type QnnProviderKind,
  type ResolvedQnnBackendOptions,
  type SimulatedQnnProvider,
} from './options.js';
export { HtpExtensionsError, readHtpExtensions, type HtpExtensionsPerf } from './extensions.js';
export { toGraphSpec, toTensorSpec } from './graph-specs.js';
export { DEFAULT_BACKEND_LIBRARY, DEFAULT_SYSTEM_LIBRARY, type QnnSystemOptions } from './provider.js';
export { readQnnGraphSpecs } from './binary-graphs.js';
