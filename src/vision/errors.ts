import { GenieError } from '../errors.js';

/**
 * Why an image cannot become the encoder's input:
 * - `IMAGE_NOT_FOUND`: no file at the path;
 * - `IMAGE_UNREADABLE`: the path is not a regular file (a directory, a device) or the OS refused it;
 * - `IMAGE_EMPTY`: zero bytes;
 * - `IMAGE_CORRUPT`: the decoder failed (truncated, damaged, or a header it cannot parse);
 * - `IMAGE_UNSUPPORTED_FORMAT`: not an image format genie-ts accepts (or this sharp build decodes);
 * - `IMAGE_TOO_LARGE`: more pixels than the decompression-bomb bound (`maxPixels`);
 * - `IMAGE_ANIMATED`: more than one frame or page;
 * - `PIXEL_TENSOR_SIZE`: a raw pixel tensor file whose size is not the tensor's.
 */
export type ImageErrorCode =
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_EMPTY'
  | 'IMAGE_CORRUPT'
  | 'IMAGE_UNSUPPORTED_FORMAT'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_ANIMATED'
  | 'PIXEL_TENSOR_SIZE';

/**
 * An image, or a raw pixel tensor file, that cannot become the encoder's `pixel_values`. `source`
 * names it as the message does: the path, or `<buffer of N bytes>` for bytes passed in.
 */
export class ImageError extends GenieError {
  declare readonly code: ImageErrorCode;
  constructor(
    code: ImageErrorCode,
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A Hugging Face `preprocessor_config.json` that cannot be read, is not JSON, or holds a value of
 * the wrong type; the message names the file and the key path. (A well-formed key genie-ts does not
 * implement is a `NotSupportedError` instead.)
 */
export class ImageProcessorConfigError extends GenieError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('BAD_IMAGE_PROCESSOR_CONFIG', message, options);
  }
}
