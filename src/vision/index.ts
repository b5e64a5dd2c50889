/**
 * `genie-ts/vision`: image input for the VLM flow. An image file (or its bytes) becomes the image
 * encoder's `pixel_values` the way FastVLM's processor makes it (sharp decodes, Pillow's resampling
 * is matched), or a raw pixel tensor file is read as Genie's `node set image` takes it.
 */
export { preprocessImage, type PreprocessOptions } from './preprocess.js';
export { readPixelTensorFile } from './pixel-file.js';
export { loadImageProcessorConfig, parseImageProcessorConfig } from './processor-config.js';
export {
  fastVlmDefaults,
  type Extent,
  type ImageProcessorSettings,
  type ImageSize,
  type PadMode,
  type ResampleFilter,
  type Rgb,
} from './processor.js';
export { DEFAULT_MAX_PIXELS } from './decode.js';
export { ImageError, ImageProcessorConfigError, type ImageErrorCode } from './errors.js';
export type { ImageTensor } from './tensor.js';
export type { PixelArray } from './convert.js';
export type { PixelLayout, PixelTensorTarget } from './target.js';
