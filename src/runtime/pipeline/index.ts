export { Pipeline } from './pipeline.js';
export { ImageEncoderNode, PipelineError, TextEncoderNode, TextGeneratorNode, type PipelineNode } from './nodes.js';
