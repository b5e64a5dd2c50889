/**
 * Float32 kernels of the vision tower and projector over row-major `[rows, dim]` buffers (the
 * shared ones, `linear` and `attention`, are in kernels.ts). Sums run in float64; every stored
 * value is rounded to float32 like the PyTorch model.
 */
import type { PixelLayout } from './vision-plan.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);
/** Below it the Maclaurin series, above it the continued fraction of erfc. */
const SERIES_LIMIT = 2.5;
/** Depth of the continued fraction: at x >= 2.5 its error is far below float64 rounding. */
const FRACTION_DEPTH = 60;

/**
 * The error function in float64 (relative error about 1e-14). For |x| < 2.5 the Maclaurin series
 * `2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))`; beyond, `1 - erfc(x)` with Laplace's continued
 * fraction `erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))`.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < SERIES_LIMIT) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const next = sum + term / (2 * n + 1);
      if (next === sum) break;
      sum = next;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (a > 6) return Math.sign(x);
  let fraction = a;
  for (let k = FRACTION_DEPTH; k >= 1; k--) fraction = a + k / 2 / fraction;
  const erfc = (Math.exp(-a * a) * ONE_OVER_SQRT_PI) / fraction;
  return Math.sign(x) * (1 - erfc);
}

/** PyTorch's exact GELU, `x/2 * (1 + erf(x / sqrt 2))` (docs/genie-behaviour.md#fastvlm-vision-side), in place over `n` values. */
export function geluInPlace(x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    x[i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
  }
}

/** `out = (x - mean) / sqrt(var + eps) * weight + bias` per row (biased variance). */
export function layerNorm(
  x: Float32Array,
  rows: number,
  dim: number,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
  out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[base + i];
    const mean = Math.fround(sum / dim);
    let squares = 0;
    for (let i = 0; i < dim; i++) {
      const d = x[base + i] - mean;
      squares += d * d;
    }
    const inv = Math.fround(1 / Math.sqrt(Math.fround(squares / dim) + eps));
    for (let i = 0; i < dim; i++) out[base + i] = Math.fround(Math.fround(x[base + i] - mean) * inv) * weight[i] + bias[i];
  }
}

/** The geometry of a patch embedding: `channels` x `height` x `width` pixels in patches of `patch`. */
export interface PatchGeometry {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly patch: number;
  readonly layout: PixelLayout;
}

/**
 * im2col for a convolution whose stride is its kernel: row `n = gy * (W/P) + gx` of `out`
 * (`[N, C*P*P]`) holds patch (gy, gx) in the order of a PyTorch conv weight `[out, C, P, P]`
 * flattened (channel, then kernel row, then kernel column), read from `pixels` in `layout`.
 */
export function patchify(pixels: Float32Array, g: PatchGeometry, out: Float32Array): void {
  const { channels: c, height: h, width: w, patch: p, layout } = g;
  const gridW = w / p;
  const patches = (h / p) * gridW;
  const cols = c * p * p;
  for (let n = 0; n < patches; n++) {
    const y0 = Math.floor(n / gridW) * p;
    const x0 = (n % gridW) * p;
    let o = n * cols;
    for (let ch = 0; ch < c; ch++) {
      for (let ky = 0; ky < p; ky++) {
        const y = y0 + ky;
        for (let kx = 0; kx < p; kx++) {
          const x = x0 + kx;
          out[o++] = layout === 'NCHW' ? pixels[(ch * h + y) * w + x] : pixels[(y * w + x) * c + ch];
        }
      }
    }
  }
}
