export { createSimulatedQnn, type SimulatedQnn } from './provider.js';
export type { SimulatedQnnOptions, ApiVersionTriple } from './options.js';
export type { SimulatedRpcmem } from './memory.js';
export type { PerfCall, PowerConfigRecord, PowerConfigOptionName } from './perf.js';
export type { SimulatedContextInfo } from './contexts.js';
export type { ContextConfig } from './records.js';
