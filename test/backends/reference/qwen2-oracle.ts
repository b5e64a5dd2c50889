/**
 * Test oracle: a random Qwen2 model and a straightforward full-sequence forward pass without any
 * cache (Hugging Face eager semantics: causal mask, full-dim RoPE with rotate_half, repeat_kv), in
 * float64 over plain arrays. Written independently of src/backends/reference.
 */
import seedrandom from 'seedrandom';
import type { FloatTensor } from '../../../src/formats/index.js';
import type { Qwen2Config } from '../../../src/backends/reference/index.js';

export function tinyConfig(overrides: Partial<Qwen2Config> = {}): Qwen2Config {
  return {
    hiddenSize: 64,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 16,
    intermediateSize: 128,
    numHiddenLayers: 3,
    rmsNormEps: 1e-6,
    vocabSize: 1000,
    ropeTheta: 10000,
    tieWordEmbeddings: false,
    maxPositionEmbeddings: 512,
    ...overrides,
  };
}

export function gaussian(seed: string): () => number {
  const rng = seedrandom(seed);
  return () => {
    const u = 1 - rng();
    const v = rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Random weights in HF naming; scales keep activations O(1) and attention far from uniform. */
export function randomWeights(config: Qwen2Config, seed: string): Map<string, FloatTensor> {
  const g = gaussian(seed);
  const weights = new Map<string, FloatTensor>();
  const add = (name: string, shape: number[], std: number, mean = 0): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * g();
    weights.set(name, { shape, data });
  };
  const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hd, intermediateSize: inter } = config;
  add('model.embed_tokens.weight', [config.vocabSize, h], 1);
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [h], 0.1, 1);
    add(`${p}.self_attn.q_proj.weight`, [nh * hd, h], 2 / Math.sqrt(h));
    add(`${p}.self_attn.q_proj.bias`, [nh * hd], 0.2);
    add(`${p}.self_attn.k_proj.weight`, [nkv * hd, h], 2 / Math.sqrt(h));
    add(`${p}.self_attn.k_proj.bias`, [nkv * hd], 0.2);
    add(`${p}.self_attn.v_proj.weight`, [nkv * hd, h], 1 / Math.sqrt(h));
    add(`${p}.self_attn.v_proj.bias`, [nkv * hd], 0.2);
    add(`${p}.self_attn.o_proj.weight`, [h, nh * hd], 1 / Math.sqrt(nh * hd));
    add(`${p}.post_attention_layernorm.weight`, [h], 0.1, 1);
    add(`${p}.mlp.gate_proj.weight`, [inter, h], 1 / Math.sqrt(h));
    add(`${p}.mlp.up_proj.weight`, [inter, h], 1 / Math.sqrt(h));
    add(`${p}.mlp.down_proj.weight`, [h, inter], 1 / Math.sqrt(inter));
  }
  add('model.norm.weight', [h], 0.1, 1);
  if (!config.tieWordEmbeddings) add('lm_head.weight', [config.vocabSize, h], 1 / Math.sqrt(h));
  return weights;
}

type Matrix = number[][];

function matrix(t: FloatTensor): Matrix {
  const [rows, cols] = t.shape;
  return Array.from({ length: rows }, (_, r) => Array.from(t.data.subarray(r * cols, (r + 1) * cols)));
}

/** y = W x (+ b), W as [out][in]. */
function project(w: Matrix, x: number[], b?: number[]): number[] {
  return w.map((row, o) => row.reduce((s, wi, i) => s + wi * x[i], b ? b[o] : 0));
}

function rmsNorm(x: number[], w: number[], eps: number): number[] {
  const ms = x.reduce((s, v) => s + v * v, 0) / x.length;
  const inv = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => w[i] * v * inv);
}

/** HF RotaryEmbedding: inv_freq over even indices, emb = cat(freqs, freqs). */
export function ropeCosSin(position: number, headDim: number, theta: number): { cos: number[]; sin: number[] } {
  const freqs = Array.from({ length: headDim / 2 }, (_, j) => position / theta ** ((2 * j) / headDim));
  const emb = [...freqs, ...freqs];
  return { cos: emb.map(Math.cos), sin: emb.map(Math.sin) };
}

function rotateHalf(x: number[]): number[] {
  const half = x.length / 2;
  return [...x.slice(half).map((v) => -v), ...x.slice(0, half)];
}

function applyRotary(x: number[], cos: number[], sin: number[]): number[] {
  const rot = rotateHalf(x);
  return x.map((v, i) => v * cos[i] + rot[i] * sin[i]);
}

/**
 * Logits of every position of the token sequence, full causal attention over the whole sequence.
 * Token t is rotated at `positions[t]` (HF `position_ids`; default t).
 */
export function fullForward(
  config: Qwen2Config,
  weights: Map<string, FloatTensor>,
  tokens: readonly (number | ArrayLike<number>)[],
  positions: readonly number[] = tokens.map((_, t) => t),
): number[][] {
  const w = (name: string): FloatTensor => weights.get(name)!;
  const vec = (name: string): number[] => Array.from(w(name).data);
  const { numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hd, rmsNormEps: eps } = config;
  const embed = matrix(w('model.embed_tokens.weight'));
  let xs: number[][] = tokens.map((t) => (typeof t === 'number' ? [...embed[t]] : Array.from(t)));
  const n = xs.length;
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    const [wq, wk, wv, wo] = ['q', 'k', 'v', 'o'].map((c) => matrix(w(`${p}.self_attn.${c}_proj.weight`)));
    const [bq, bk, bv] = ['q', 'k', 'v'].map((c) => vec(`${p}.self_attn.${c}_proj.bias`));
    const normed = xs.map((x) => rmsNorm(x, vec(`${p}.input_layernorm.weight`), eps));
    const heads = (flat: number[], count: number): number[][] =>
      Array.from({ length: count }, (_, i) => flat.slice(i * hd, (i + 1) * hd));
    const qs = normed.map((x, t) => {
      const { cos, sin } = ropeCosSin(positions[t], hd, config.ropeTheta);
      return heads(project(wq, x, bq), nh).map((q) => applyRotary(q, cos, sin));
    });
    const ks = normed.map((x, t) => {
      const { cos, sin } = ropeCosSin(positions[t], hd, config.ropeTheta);
      return heads(project(wk, x, bk), nkv).map((k) => applyRotary(k, cos, sin));
    });
    const vs = normed.map((x) => heads(project(wv, x, bv), nkv));
    const rep = nh / nkv;
    const attnOut = qs.map((qt, t) => {
      const out: number[] = [];
      for (let head = 0; head < nh; head++) {
        const kvh = Math.floor(head / rep);
        const scores = Array.from({ length: n }, (_, s) =>
          s <= t ? qt[head].reduce((acc, qd, d) => acc + qd * ks[s][kvh][d], 0) / Math.sqrt(hd) : -Infinity,
        );
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < hd; d++) out.push(e.reduce((acc, pe, s) => acc + (pe / z) * vs[s][kvh][d], 0));
      }
      return out;
    });
    xs = xs.map((x, t) => {
      const o = project(wo, attnOut[t]);
      return x.map((v, i) => v + o[i]);
    });
    const [wg, wu, wd] = ['gate', 'up', 'down'].map((c) => matrix(w(`${p}.mlp.${c}_proj.weight`)));
    xs = xs.map((x) => {
      const hn = rmsNorm(x, vec(`${p}.post_attention_layernorm.weight`), eps);
      const gate = project(wg, hn);
      const up = project(wu, hn);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
      const down = project(wd, act);
      return x.map((v, i) => v + down[i]);
    });
  }
  const head = config.tieWordEmbeddings ? embed : matrix(w('lm_head.weight'));
  return xs.map((x) => project(head, rmsNorm(x, vec('model.norm.weight'), eps)));
}
