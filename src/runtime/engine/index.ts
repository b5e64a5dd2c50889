export { DisposedError, Engine, type EmbeddingPrefillOptions, type EngineOptions } from './engine.js';
export { EngineBuffers } from './buffers.js';
export { openEngine } from './open.js';
