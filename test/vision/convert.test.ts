/**
 * The conversion loop (word reads, alignment head and tail, zero padding outside the source)
 * against a per-pixel reading of its contract: out(c, y, x) = table_c[src(crop.left + x, crop.top + y, c)],
 * value 0 outside src.
 */
import { describe, expect, it } from 'vitest';
import { convertPixels } from '../../src/vision/convert.js';

function reference(src: Uint8Array, w: number, h: number, crop: { left: number; top: number; width: number; height: number }, layout: 'NCHW' | 'NHWC', tables: Float32Array[]): Float32Array {
  const out = new Float32Array(crop.width * crop.height * 3);
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      for (let c = 0; c < 3; c++) {
        const sx = crop.left + x;
        const sy = crop.top + y;
        const v = sx >= 0 && sy >= 0 && sx < w && sy < h ? src[(sy * w + sx) * 3 + c] : 0;
        const at = layout === 'NCHW' ? c * crop.width * crop.height + y * crop.width + x : (y * crop.width + x) * 3 + c;
        out[at] = tables[c][v];
      }
    }
  }
  return out;
}

describe('convertPixels', () => {
  it('equals the per-pixel contract for windows inside, across and outside the source, at every byte alignment', () => {
    const tables = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => v * 3 + c * 1000));
    let seed = 5;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let trial = 0; trial < 60; trial++) {
      const w = 1 + next(23);
      const h = 1 + next(9);
      const offset = next(4);
      const backing = new Uint8Array(offset + w * h * 3);
      for (let i = 0; i < backing.length; i++) backing[i] = next(256);
      const src = backing.subarray(offset);
      const crop = { left: next(w + 8) - 4, top: next(h + 4) - 2, width: 1 + next(20), height: 1 + next(6) };
      for (const layout of ['NCHW', 'NHWC'] as const) {
        const out = new Float32Array(crop.width * crop.height * 3);
        convertPixels(src, w, h, crop, layout, tables as never, out);
        expect(out, `trial ${trial} ${layout} ${w}x${h}+${offset} crop ${JSON.stringify(crop)}`).toEqual(reference(src, w, h, crop, layout, tables));
      }
    }
  });
});
