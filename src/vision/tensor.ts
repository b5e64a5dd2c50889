import type { DataTypeName, Encoding } from '../tensor/dtype.js';
import type { PixelArray } from './convert.js';
import type { PixelLayout } from './target.js';

/** The encoder's `pixel_values`, ready to copy into (or already in) its input buffer. */
export interface ImageTensor {
  /** The elements: float32 values, float16 bits (Uint16Array) or fixed-point codes. */
  readonly data: PixelArray;
  /** The same memory as bytes, what a graph input buffer takes. */
  readonly bytes: Uint8Array;
  /** The target's shape as given. */
  readonly shape: readonly number[];
  readonly layout: PixelLayout;
  readonly dtype: DataTypeName;
  /** The target's encoding, for fixed-point dtypes: float = (q + offset) * scale. */
  readonly encoding?: Encoding;
  /**
   * The image the tensor came from: its size as displayed (after EXIF orientation) and its format
   * (`jpeg`, `png`, `webp`, `gif`, `tiff`, `avif`, `heic`; `raw` for a pixel tensor file).
   */
  readonly source: { readonly width: number; readonly height: number; readonly format: string };
}
