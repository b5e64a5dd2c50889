/**
 * Test oracle for the vision model: a random ViT tower + mlp2x_gelu projector under the documented
 * Hugging Face names, and a straightforward float64 forward pass over plain arrays (a direct
 * strided convolution, per-head softmax attention, LayerNorm, GELU with erf by numerical
 * integration, the projector as two matmuls). Written independently of src/backends/reference.
 */
import type { FloatTensor } from '../../../src/formats/index.js';
import type { ReferenceVisionModel, VisionCheckpoint } from '../../../src/backends/reference/index.js';
import { gaussian } from './qwen2-oracle.js';

/** A small tower on a non-square image (4 x 6 patches), so rows must run over H, then W. */
export function tinyVisionModel(overrides: { projectorHidden?: number; layers?: number; tower?: boolean } = {}): ReferenceVisionModel {
  const projector = { type: 'mlp2x_gelu', inputSize: 32, hidden: overrides.projectorHidden ?? 24 } as const;
  if (overrides.tower === false) return { architecture: 'vision', projector };
  return {
    architecture: 'vision',
    tower: {
      type: 'vit',
      channels: 3,
      imageSize: [32, 48],
      patchSize: 8,
      hidden: 32,
      heads: 4,
      intermediate: 64,
      layers: overrides.layers ?? 2,
      layerNormEps: 1e-5,
    },
    projector,
  };
}

/** Random weights in the documented naming; norms near 1, projections ~ 1/sqrt(fan_in). */
export function randomVisionCheckpoint(model: ReferenceVisionModel, seed: string): VisionCheckpoint {
  const g = gaussian(seed);
  const weights = new Map<string, FloatTensor>();
  const add = (name: string, shape: number[], std: number, mean = 0): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * g();
    weights.set(name, { shape, data });
  };
  const t = model.tower;
  if (t !== undefined) {
    const d = t.hidden;
    const n = (t.imageSize[0] / t.patchSize) * (t.imageSize[1] / t.patchSize);
    add('model.vision_tower.embeddings.patch_embedding.weight', [d, t.channels, t.patchSize, t.patchSize], 1 / Math.sqrt(t.channels * t.patchSize ** 2));
    add('model.vision_tower.embeddings.patch_embedding.bias', [d], 0.1);
    add('model.vision_tower.embeddings.position_embedding.weight', [n, d], 0.5);
    for (let l = 0; l < t.layers; l++) {
      const p = `model.vision_tower.encoder.layers.${l}`;
      add(`${p}.layer_norm1.weight`, [d], 0.1, 1);
      add(`${p}.layer_norm1.bias`, [d], 0.1);
      for (const proj of ['q', 'k', 'v']) {
        add(`${p}.self_attn.${proj}_proj.weight`, [d, d], 2 / Math.sqrt(d));
        add(`${p}.self_attn.${proj}_proj.bias`, [d], 0.1);
      }
      add(`${p}.self_attn.out_proj.weight`, [d, d], 1 / Math.sqrt(d));
      add(`${p}.self_attn.out_proj.bias`, [d], 0.1);
      add(`${p}.layer_norm2.weight`, [d], 0.1, 1);
      add(`${p}.layer_norm2.bias`, [d], 0.1);
      add(`${p}.mlp.fc1.weight`, [t.intermediate, d], 1 / Math.sqrt(d));
      add(`${p}.mlp.fc1.bias`, [t.intermediate], 0.1);
      add(`${p}.mlp.fc2.weight`, [d, t.intermediate], 1 / Math.sqrt(t.intermediate));
      add(`${p}.mlp.fc2.bias`, [d], 0.1);
    }
    add('model.vision_tower.post_layernorm.weight', [d], 0.1, 1);
    add('model.vision_tower.post_layernorm.bias', [d], 0.1);
  }
  const { inputSize, hidden } = model.projector;
  add('model.mm_projector.0.weight', [hidden, inputSize], 1 / Math.sqrt(inputSize));
  add('model.mm_projector.0.bias', [hidden], 0.1);
  add('model.mm_projector.2.weight', [hidden, hidden], 1 / Math.sqrt(hidden));
  add('model.mm_projector.2.bias', [hidden], 0.1);
  return { model, weights };
}

/** A random image in [0, 1], NCHW, as float32 values. */
export function randomPixels(model: ReferenceVisionModel, seed: string): Float32Array {
  const t = model.tower!;
  const g = gaussian(seed);
  const out = new Float32Array(t.channels * t.imageSize[0] * t.imageSize[1]);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, 0.5 + 0.3 * g()));
  return out;
}

/** NCHW -> NHWC. */
export function toNhwc(pixels: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y * w + x) * c + ch] = pixels[(ch * h + y) * w + x];
  return out;
}

/** erf by composite Simpson integration of 2/sqrt(pi) exp(-t^2) over [0, x]. */
export function erfBySimpson(x: number, intervals = 400): number {
  const n = intervals % 2 === 0 ? intervals : intervals + 1;
  const h = x / n;
  let sum = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * (h / 3)) * sum;
}

const gelu = (x: number): number => 0.5 * x * (1 + erfBySimpson(x / Math.SQRT2));

type Matrix = number[][];

function get(weights: ReadonlyMap<string, FloatTensor>, name: string): number[] {
  const t = weights.get(name);
  if (t === undefined) throw new Error(`oracle: no weight ${name}`);
  return Array.from(t.data);
}

/** x W^T + b with W `[out, in]` as a flat array. */
function linear(x: Matrix, w: number[], b: number[], out: number): Matrix {
  return x.map((row) => {
    const inDim = row.length;
    return Array.from({ length: out }, (_, o) => {
      let s = b[o];
      for (let i = 0; i < inDim; i++) s += w[o * inDim + i] * row[i];
      return s;
    });
  });
}

function layerNorm(x: Matrix, w: number[], b: number[], eps: number): Matrix {
  return x.map((row) => {
    const mean = row.reduce((s, v) => s + v, 0) / row.length;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i] + b[i]);
  });
}

/** The features the tower outputs `[N, Dv]` for NCHW `pixels`, in float64. */
export function towerForward(checkpoint: VisionCheckpoint, pixels: ArrayLike<number>): Matrix {
  const t = checkpoint.model.tower!;
  const w = checkpoint.weights;
  const [H, W] = t.imageSize;
  const P = t.patchSize;
  const C = t.channels;
  const d = t.hidden;
  const conv = get(w, 'model.vision_tower.embeddings.patch_embedding.weight');
  const convBias = get(w, 'model.vision_tower.embeddings.patch_embedding.bias');
  const pos = get(w, 'model.vision_tower.embeddings.position_embedding.weight');
  // Conv2d(C -> d, kernel P, stride P), output map [d, H/P, W/P] flattened over (H/P, W/P).
  let x: Matrix = [];
  for (let gy = 0; gy < H / P; gy++) {
    for (let gx = 0; gx < W / P; gx++) {
      const n = x.length;
      const row: number[] = [];
      for (let o = 0; o < d; o++) {
        let s = convBias[o];
        for (let c = 0; c < C; c++) {
          for (let ky = 0; ky < P; ky++) {
            for (let kx = 0; kx < P; kx++) s += conv[((o * C + c) * P + ky) * P + kx] * pixels[(c * H + gy * P + ky) * W + gx * P + kx];
          }
        }
        row.push(s + pos[n * d + o]);
      }
      x.push(row);
    }
  }
  const heads = t.heads;
  const hd = d / heads;
  for (let l = 0; l < t.layers; l++) {
    const p = (name: string): number[] => get(w, `model.vision_tower.encoder.layers.${l}.${name}`);
    const h1 = layerNorm(x, p('layer_norm1.weight'), p('layer_norm1.bias'), t.layerNormEps);
    const q = linear(h1, p('self_attn.q_proj.weight'), p('self_attn.q_proj.bias'), d);
    const k = linear(h1, p('self_attn.k_proj.weight'), p('self_attn.k_proj.bias'), d);
    const v = linear(h1, p('self_attn.v_proj.weight'), p('self_attn.v_proj.bias'), d);
    const attn: Matrix = x.map(() => new Array<number>(d).fill(0));
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < x.length; i++) {
        const scores = x.map((_, j) => {
          let s = 0;
          for (let e = 0; e < hd; e++) s += q[i][h * hd + e] * k[j][h * hd + e];
          return s / Math.sqrt(hd);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let j = 0; j < x.length; j++) for (let e = 0; e < hd; e++) attn[i][h * hd + e] += (exps[j] / total) * v[j][h * hd + e];
      }
    }
    const o = linear(attn, p('self_attn.out_proj.weight'), p('self_attn.out_proj.bias'), d);
    x = x.map((row, i) => row.map((val, e) => val + o[i][e]));
    const h2 = layerNorm(x, p('layer_norm2.weight'), p('layer_norm2.bias'), t.layerNormEps);
    const f1 = linear(h2, p('mlp.fc1.weight'), p('mlp.fc1.bias'), t.intermediate).map((row) => row.map(gelu));
    const f2 = linear(f1, p('mlp.fc2.weight'), p('mlp.fc2.bias'), d);
    x = x.map((row, i) => row.map((val, e) => val + f2[i][e]));
  }
  return layerNorm(x, get(w, 'model.vision_tower.post_layernorm.weight'), get(w, 'model.vision_tower.post_layernorm.bias'), t.layerNormEps);
}

/** FastVLM's mlp2x_gelu on `features` `[N, Dv]`, in float64. */
export function projectorForward(checkpoint: VisionCheckpoint, features: Matrix): Matrix {
  const w = checkpoint.weights;
  const { hidden } = checkpoint.model.projector;
  const h = linear(features, get(w, 'model.mm_projector.0.weight'), get(w, 'model.mm_projector.0.bias'), hidden).map((row) => row.map(gelu));
  return linear(h, get(w, 'model.mm_projector.2.weight'), get(w, 'model.mm_projector.2.bias'), hidden);
}

export function maxAbsDiffRows(rows: Matrix, flat: ArrayLike<number>): number {
  let max = 0;
  const width = rows[0].length;
  if (flat.length !== rows.length * width) throw new Error(`oracle: ${flat.length} values for ${rows.length} x ${width}`);
  rows.forEach((row, r) => row.forEach((v, i) => (max = Math.max(max, Math.abs(v - flat[r * width + i])))));
  return max;
}
