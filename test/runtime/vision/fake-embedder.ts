import { readFileSync } from 'node:fs';
import type { ImageRows } from '../../../src/runtime/spliced-prompt.js';
import type { ImageEmbedder, ImageInput } from '../../../src/runtime/vision/embedder.js';

export const FAKE_ENCODING = { scale: 0.02, offset: -128 };

/**
 * A stand-in vision stage: each distinct image (by its bytes) becomes `rows` rows of uint8 codes
 * drawn from the bytes, as an encoder with a quantised output would give them. Counts its calls.
 */
export class FakeEmbedder implements ImageEmbedder {
  calls = 0;
  failNext: Error | null = null;
  constructor(
    readonly rows: number,
    readonly width: number,
  ) {}

  codes(image: ImageInput): Uint8Array {
    const bytes = typeof image === 'string' ? readFileSync(image) : image instanceof Uint8Array ? image : image.bytes;
    let h = 2166136261;
    for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
    const out = new Uint8Array(this.rows * this.width);
    for (let i = 0; i < out.length; i++) {
      h = Math.imul(h ^ i, 16777619) >>> 0;
      out[i] = 64 + (h % 128);
    }
    return out;
  }

  /** The float rows the model must see for `image` (dequantised, written out). */
  floats(image: ImageInput): number[][] {
    const codes = this.codes(image);
    return Array.from({ length: this.rows }, (_, r) => Array.from(codes.subarray(r * this.width, (r + 1) * this.width), (q) => FAKE_ENCODING.scale * (q + FAKE_ENCODING.offset)));
  }

  async embed(image: ImageInput): Promise<ImageRows> {
    this.calls++;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    return {
      rows: { data: this.codes(image), dtype: 'UFIXED_POINT_8', encoding: FAKE_ENCODING },
      timings: { preprocessUs: 1, encoderUs: 2, projectorUs: 3 },
    };
  }

  async dispose(): Promise<void> {}
}
