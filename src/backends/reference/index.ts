export { openReferenceBackend } from './backend.js';
export { writeReferenceCtxBin, type ReferenceCtxBinPart } from './ctx-bin.js';
export { loadCtxBinProgram, readCtxBinGraphs, ReferenceCtxBinProgram, type RunnableGraph } from './from-bytes.js';
export { splitQwen2Checkpoint, type SplitOptions } from './split.js';
export { loadHfQwen2, writeHfQwen2 } from './checkpoint.js';
export { qwen2WeightShapes, referenceModelOf, type Qwen2Checkpoint, type Qwen2Config } from './qwen2.js';
export {
  parseCtxBinMetadata,
  CTX_BIN_FORMAT,
  CTX_BIN_VERSION,
  GRAPH_STAGES,
  METADATA_KEY,
  type GraphStages,
  type ReferenceCtxBinMetadata,
  type ReferenceGraphMeta,
} from './metadata.js';
export type { ReferenceModel } from './model.js';
export { BackendDisposedError, CheckpointError, CtxBinError, GraphNotBoundError } from './errors.js';
