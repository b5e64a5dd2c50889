export { openReferenceBackend } from './backend.js';
export { writeReferenceCtxBin, type ReferenceCtxBinPart } from './ctx-bin.js';
export { loadCtxBinProgram, readCtxBinGraphs, ReferenceCtxBinProgram, type RunnableGraph } from './from-bytes.js';
export { likeShape, splitLike, type LikeGraphs, type LikeShape } from './like.js';
export { splitCheckpoint, splitQwen2Checkpoint, type SplitOptions, type TensorType } from './split.js';
export {
  EXPORT_CONFIG_FILE, EXPORT_LUT_FILE, EXPORT_MANIFEST_FILE, EXPORT_QUANTS, exportHfCheckpoint, ExportOptionError, ExportSpaceError, isExportBundle, type CalibratedIo, type ExportOptions, type ExportQuant,
  type ExportResult, type FloatExport, type IoCalibrator,
} from './export.js';
export { loadHfCheckpoint, loadHfQwen2, readHfDecoderConfig, SUPPORTED_HF_ARCHITECTURES, writeHfQwen2, type LoadProgress } from './checkpoint.js';
export { qwen2WeightShapes, referenceModelOf, type DecoderConfig, type Qwen2Checkpoint, type Qwen2Config } from './qwen2.js';
export {
  parseCtxBinMetadata,
  CTX_BIN_FORMAT,
  CTX_BIN_VERSION,
  CTX_BIN_VERSIONS,
  ctxBinVersionOf,
  DECODER_V3_CTX_BIN_VERSION,
  GRAPH_STAGES,
  METADATA_KEY,
  VISION_CTX_BIN_VERSION,
  VISION_GRAPH_STAGES,
  type CtxBinModel,
  type GraphStages,
  type ReferenceCtxBinMetadata,
  type ReferenceGraphMeta,
  type VisionGraphStages,
} from './metadata.js';
export { DECODER_ARCHITECTURES, type DecoderArchitecture, type DecoderRopeScaling, type ReferenceModel } from './model.js';
export {
  MM_PROJECTOR_PREFIX, patchCount, projectorWeightShapes, visionLayerWeightNames, visionModelProblem, visionTowerWeightShapes,
  visionWeightShapes, VISION_TOWER_PREFIX,
  type ReferenceVisionModel, type VisionProjector, type VisionTower,
} from './vision-model.js';
export { hfVisionConfig, loadHfVision, visionWeightsProblem, writeHfVision, VIT_MODEL_TYPE, type VisionCheckpoint } from './vision-checkpoint.js';
export {
  IMAGE_ENCODER_GRAPH, IMAGE_PROJECTOR_GRAPH, visionCtxBinParts, type VisionSplitOptions,
} from './vision-split.js';
export type { PixelLayout } from './vision-plan.js';
export { erf } from './vision-kernels.js';
export { BackendDisposedError, CheckpointError, CtxBinError, GraphNotBoundError } from './errors.js';
