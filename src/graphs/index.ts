export type { GraphSpec, TensorSpec } from './spec.js';
export { ContextLimitError, ModelLayoutError } from './errors.js';
export {
  checkCacheGroups, DEFAULT_CACHE_GROUP, graphName, IMAGE_ENCODER_INPUTS, IMAGE_FEATURE_PREFIXES, kvPartnerName, kvSiblingName, kvTensorName, parseGraphName, tensorRole,
  TensorNames, type GraphNameInfo, type GraphNaming, type KvRole, type SimpleRoleKind, type TensorRole,
} from './names.js';
export {
  classifyGraph, isDecoderGraph, isVisionKind,
  type ClassifiedTensor, type DecoderGraphInfo, type GraphInfo, type GraphKind, type KvQuad,
} from './classify.js';
export type {
  IoTensor, KvSlotSpec, KvTensorSpec, ModelInput, ModelLayout, Variant, VisionGraph,
} from './layout.js';
export { discoverModelLayout, type DiscoverOptions } from './discover.js';
export { discoverImageEncoderLayout, type ImageEncoderLayout } from './image-encoder.js';
export { checkContextSize } from './context-size.js';
export { ExecutionPlanner, type PlanStep } from './planner.js';
export { firstPartBuffer, planBuffers, type BufferPlan, type BufferPlanOptions, type PlannedBuffer, type StepInputBuffers, type TensorPlacement } from './buffer-plan.js';
