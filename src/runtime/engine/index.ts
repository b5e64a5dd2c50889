export { DisposedError, Engine, EngineBusyError, type EmbeddingPrefillOptions } from './engine.js';
export type { EngineOptions } from './options.js';
export type { EngineStep } from './step.js';
export type { InputPart, InputPartContext, InputPartFactory } from './inputs/index.js';
export { EngineBuffers } from './buffers.js';
export { openEngine, type EngineOpenOptions } from './open.js';
export {
  StepListenerError, tensorToFloat32, type StepEvent, type StepKind, type StepListener, type StepSplit, type StepTensor,
} from './step-event.js';
