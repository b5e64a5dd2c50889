import type { ImageRows } from '../spliced-prompt.js';

/**
 * A preprocessed pixel tensor: the bytes of the image encoder's `pixel_values` input in its dtype
 * and layout (what `preprocessImage` returns, or what Genie's `node set image` reads from a file).
 */
export interface PixelTensor {
  readonly bytes: Uint8Array;
}

/**
 * One image of a query: a path or the bytes of an image file (JPEG, PNG, WebP, ...), which the
 * dialog preprocesses for the encoder; a path ending in `.raw`, or a `PixelTensor`: the encoder's
 * `pixel_values` already preprocessed, taken as they are.
 */
export type ImageInput = string | Uint8Array | PixelTensor;

/**
 * What a dialog needs to turn an image into embedding rows: the vision stage (preprocessing, the
 * image-encoder graph and a projector) behind one call. `Dialog.create` builds one from an
 * image-encoder config; any object of this shape can be passed instead (a CPU encoder, a cache).
 */
export interface ImageEmbedder {
  /** Rows one image becomes (e.g. FastVLM at 1024x1024: 256). */
  readonly rows: number;
  /** Elements per row: must equal the text generator's embedding size. */
  readonly width: number;
  /** The image's rows in the encoder's output format, with the time each stage took. */
  embed(image: ImageInput, signal?: AbortSignal): Promise<ImageRows>;
  dispose(): Promise<void>;
}
