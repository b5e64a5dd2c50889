/**
 * Test oracle for every decoder family (Qwen2, Llama 3.x, Phi-3/3.5), written from the Hugging Face
 * modeling code and independent of src/: config.json objects in HF spelling, random checkpoints
 * written in HF layout (sharded or not, F32/F16/BF16), RoPE inverse frequencies with llama3 and
 * longrope scaling (HF `_compute_llama3_parameters`, `_compute_longrope_parameters`), and a float64
 * full-sequence forward without cache (eager attention, causal mask, rotate_half, repeat_kv; Phi-3's
 * fused qkv_proj split by rows, gate_up_proj chunked gate first).
 */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FloatTensor } from '../../../src/formats/index.js';
import { writeRawSafetensors } from './fixtures.js';
import { gaussian } from './qwen2-oracle.js';

export type Family = 'qwen2' | 'llama' | 'phi3';
export type HfJson = Record<string, unknown>;

const CLASS: Record<Family, string> = { qwen2: 'Qwen2ForCausalLM', llama: 'LlamaForCausalLM', phi3: 'Phi3ForCausalLM' };

/** A small config.json of `family`; llama gets llama3 scaling, phi3 longrope (short and long factors). */
export function hfConfig(family: Family, overrides: HfJson = {}): HfJson {
  const base: HfJson = {
    architectures: [CLASS[family]],
    model_type: family,
    hidden_act: 'silu',
    hidden_size: 64,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 96,
    num_hidden_layers: 2,
    rms_norm_eps: 1e-5,
    vocab_size: 300,
    rope_theta: 10000,
    tie_word_embeddings: false,
    max_position_embeddings: 128,
    torch_dtype: 'float32',
  };
  if (family === 'llama') {
    Object.assign(base, {
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 1,
      eos_token_id: [2, 3],
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    });
  }
  if (family === 'phi3') {
    const g = gaussian('phi3-factors');
    const factors = (spread: number): number[] => Array.from({ length: 8 }, () => 1 + spread * Math.abs(g()));
    Object.assign(base, {
      num_key_value_heads: 4,
      original_max_position_embeddings: 32,
      bos_token_id: 1,
      eos_token_id: 2,
      rope_scaling: { type: 'longrope', short_factor: factors(1), long_factor: factors(6) },
    });
  }
  return { ...base, ...overrides };
}

const num = (json: HfJson, key: string): number => json[key] as number;

function dims(json: HfJson) {
  const hidden = num(json, 'hidden_size');
  const heads = num(json, 'num_attention_heads');
  const kvHeads = (json.num_key_value_heads as number | undefined) ?? heads;
  const headDim = (json.head_dim as number | undefined) ?? hidden / heads;
  return { hidden, heads, kvHeads, headDim, inter: num(json, 'intermediate_size'), layers: num(json, 'num_hidden_layers') };
}

const familyOf = (json: HfJson): Family => json.model_type as Family;

/** Random weights in the family's HF layout (names and fusion), scaled as qwen2-oracle's. */
export function randomHfWeights(json: HfJson, seed: string): Map<string, FloatTensor> {
  const g = gaussian(seed);
  const weights = new Map<string, FloatTensor>();
  const add = (name: string, shape: number[], std: number, mean = 0): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * g();
    weights.set(name, { shape, data });
  };
  const { hidden: h, heads: nh, kvHeads: nkv, headDim: hd, inter, layers } = dims(json);
  const family = familyOf(json);
  add('model.embed_tokens.weight', [num(json, 'vocab_size'), h], 1);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [h], 0.1, 1);
    if (family === 'phi3') {
      add(`${p}.self_attn.qkv_proj.weight`, [(nh + 2 * nkv) * hd, h], 2 / Math.sqrt(h));
    } else {
      add(`${p}.self_attn.q_proj.weight`, [nh * hd, h], 2 / Math.sqrt(h));
      add(`${p}.self_attn.k_proj.weight`, [nkv * hd, h], 2 / Math.sqrt(h));
      add(`${p}.self_attn.v_proj.weight`, [nkv * hd, h], 1 / Math.sqrt(h));
      if (family === 'qwen2') {
        add(`${p}.self_attn.q_proj.bias`, [nh * hd], 0.2);
        add(`${p}.self_attn.k_proj.bias`, [nkv * hd], 0.2);
        add(`${p}.self_attn.v_proj.bias`, [nkv * hd], 0.2);
      }
    }
    add(`${p}.self_attn.o_proj.weight`, [h, nh * hd], 1 / Math.sqrt(nh * hd));
    add(`${p}.post_attention_layernorm.weight`, [h], 0.1, 1);
    if (family === 'phi3') {
      add(`${p}.mlp.gate_up_proj.weight`, [2 * inter, h], 1 / Math.sqrt(h));
    } else {
      add(`${p}.mlp.gate_proj.weight`, [inter, h], 1 / Math.sqrt(h));
      add(`${p}.mlp.up_proj.weight`, [inter, h], 1 / Math.sqrt(h));
    }
    add(`${p}.mlp.down_proj.weight`, [h, inter], 1 / Math.sqrt(inter));
  }
  add('model.norm.weight', [h], 0.1, 1);
  if (json.tie_word_embeddings !== true) add('lm_head.weight', [num(json, 'vocab_size'), h], 1 / Math.sqrt(h));
  return weights;
}

export type StoredDType = 'F32' | 'F16' | 'BF16';

function f32ToF16(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) return sign; // the random weights never underflow to subnormals that matter here
  if (exp >= 31) return sign | 0x7c00;
  const round = mant & 0x1fff;
  mant >>>= 13;
  let h = sign | (exp << 10) | mant;
  if (round > 0x1000 || (round === 0x1000 && (mant & 1))) h++;
  return h;
}

function f16ToF32(h: number): number {
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The values a tensor holds once stored as `dtype` (BF16 truncates, F16 rounds to nearest even). */
export function storedValues(data: Float32Array, dtype: StoredDType): Float32Array {
  if (dtype === 'F32') return data;
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
  if (dtype === 'BF16') return Float32Array.from(words, (w) => new Float32Array(Uint32Array.of((w >>> 16) << 16).buffer)[0]);
  return Float32Array.from(data, (v) => f16ToF32(f32ToF16(v)));
}

function encode(data: Float32Array, dtype: StoredDType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const halves = dtype === 'BF16' ? Uint16Array.from(words, (w) => w >>> 16) : Uint16Array.from(data, f32ToF16);
  return new Uint8Array(halves.buffer);
}

export interface WriteHfOptions {
  readonly dtype?: StoredDType;
  /** More than 1: `model-0000i-of-0000N.safetensors` shards and `model.safetensors.index.json`. */
  readonly shards?: number;
}

/**
 * Writes config.json and the weights in HF layout, by hand (not through src/). Returns the weights
 * as stored (rounded to the dtype), which is what the oracle must run on.
 */
export async function writeHfFolder(dir: string, json: HfJson, weights: Map<string, FloatTensor>, options: WriteHfOptions = {}): Promise<Map<string, FloatTensor>> {
  const { dtype = 'F32', shards = 1 } = options;
  mkdirSync(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(json, null, 2));
  const names = [...weights.keys()];
  const stored = new Map<string, FloatTensor>();
  const shardName = (i: number): string =>
    shards === 1 ? 'model.safetensors' : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    const chunks: Uint8Array[] = [];
    let offset = 0;
    names.forEach((name, i) => {
      if (i % shards !== s) return;
      const t = weights.get(name)!;
      const bytes = encode(t.data, dtype);
      header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
      chunks.push(bytes);
      offset += bytes.length;
      weightMap[name] = shardName(s);
      stored.set(name, { shape: t.shape, data: storedValues(t.data, dtype) });
    });
    const data = new Uint8Array(offset);
    chunks.reduce((at, c) => (data.set(c, at), at + c.length), 0);
    await writeRawSafetensors(join(dir, shardName(s)), header, data);
  }
  if (shards > 1) await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return stored;
}

/**
 * RoPE inverse frequencies and the cos/sin multiplier of `json` for a run whose positions reach
 * `contextLength` (longrope's short/long choice; HF decides per forward from the sequence length,
 * Genie once from the context length: the same while the context fits the original window).
 */
export function oracleRope(json: HfJson, contextLength: number): { invFreq: number[]; attentionFactor: number } {
  const { headDim } = dims(json);
  const base = num(json, 'rope_theta');
  let inv = Array.from({ length: headDim / 2 }, (_, j) => 1 / base ** ((2 * j) / headDim));
  const scaling = json.rope_scaling as Record<string, unknown> | null | undefined;
  const type = scaling?.rope_type ?? scaling?.type;
  let attentionFactor = 1;
  if (type === 'llama3') {
    const factor = scaling!.factor as number;
    const low = scaling!.low_freq_factor as number;
    const high = scaling!.high_freq_factor as number;
    const old = scaling!.original_max_position_embeddings as number;
    inv = inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < old / high) return f;
      if (wavelen > old / low) return f / factor;
      const smooth = (old / wavelen - low) / (high - low);
      return ((1 - smooth) * f) / factor + smooth * f;
    });
  } else if (type === 'longrope') {
    const original = num(json, 'original_max_position_embeddings');
    const ext = (contextLength > original ? scaling!.long_factor : scaling!.short_factor) as number[];
    inv = inv.map((f, j) => f / ext[j]);
    const factor = num(json, 'max_position_embeddings') / original;
    attentionFactor = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
  }
  return { invFreq: inv, attentionFactor };
}

type Matrix = number[][];

function rowsOf(t: FloatTensor, from = 0, count = t.shape[0]): Matrix {
  const cols = t.shape[1];
  return Array.from({ length: count }, (_, r) => Array.from(t.data.subarray((from + r) * cols, (from + r + 1) * cols)));
}

function project(w: Matrix, x: number[], b?: number[]): number[] {
  return w.map((row, o) => row.reduce((s, wi, i) => s + wi * x[i], b ? b[o] : 0));
}

function rmsNorm(x: number[], w: number[], eps: number): number[] {
  const inv = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, i) => w[i] * v * inv);
}

function rotary(x: number[], position: number, rope: { invFreq: number[]; attentionFactor: number }): number[] {
  const half = x.length / 2;
  const angle = [...rope.invFreq, ...rope.invFreq].map((f) => position * f);
  const cos = angle.map((a) => Math.cos(a) * rope.attentionFactor);
  const sin = angle.map((a) => Math.sin(a) * rope.attentionFactor);
  const rot = [...x.slice(half).map((v) => -v), ...x.slice(0, half)];
  return x.map((v, i) => v * cos[i] + rot[i] * sin[i]);
}

/** Logits of every position (float64), tokens at positions 0, 1, ... */
export function hfForward(json: HfJson, weights: Map<string, FloatTensor>, tokens: readonly number[], contextLength: number): number[][] {
  const family = familyOf(json);
  const w = (name: string): FloatTensor => weights.get(name)!;
  const vec = (name: string): number[] => Array.from(w(name).data);
  const { heads: nh, kvHeads: nkv, headDim: hd, inter, layers } = dims(json);
  const eps = num(json, 'rms_norm_eps');
  const rope = oracleRope(json, contextLength);
  const embed = rowsOf(w('model.embed_tokens.weight'));
  let xs = tokens.map((t) => [...embed[t]]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    let wq: Matrix, wk: Matrix, wv: Matrix, wg: Matrix, wu: Matrix;
    if (family === 'phi3') {
      const qkv = w(`${p}.self_attn.qkv_proj.weight`);
      [wq, wk, wv] = [rowsOf(qkv, 0, nh * hd), rowsOf(qkv, nh * hd, nkv * hd), rowsOf(qkv, (nh + nkv) * hd, nkv * hd)];
      const gateUp = w(`${p}.mlp.gate_up_proj.weight`);
      [wg, wu] = [rowsOf(gateUp, 0, inter), rowsOf(gateUp, inter, inter)];
    } else {
      [wq, wk, wv] = ['q', 'k', 'v'].map((c) => rowsOf(w(`${p}.self_attn.${c}_proj.weight`)));
      [wg, wu] = ['gate', 'up'].map((c) => rowsOf(w(`${p}.mlp.${c}_proj.weight`)));
    }
    const bias = (c: string): number[] | undefined => (family === 'qwen2' ? vec(`${p}.self_attn.${c}_proj.bias`) : undefined);
    const wo = rowsOf(w(`${p}.self_attn.o_proj.weight`));
    const wd = rowsOf(w(`${p}.mlp.down_proj.weight`));
    const split = (flat: number[], count: number): number[][] => Array.from({ length: count }, (_, i) => flat.slice(i * hd, (i + 1) * hd));
    const normed = xs.map((x) => rmsNorm(x, vec(`${p}.input_layernorm.weight`), eps));
    const qs = normed.map((x, t) => split(project(wq, x, bias('q')), nh).map((q) => rotary(q, t, rope)));
    const ks = normed.map((x, t) => split(project(wk, x, bias('k')), nkv).map((k) => rotary(k, t, rope)));
    const vs = normed.map((x) => split(project(wv, x, bias('v')), nkv));
    const group = nh / nkv;
    xs = xs.map((x, t) => {
      const out: number[] = [];
      for (let head = 0; head < nh; head++) {
        const kv = Math.floor(head / group);
        const scores = ks.slice(0, t + 1).map((k) => qs[t][head].reduce((a, q, d) => a + q * k[kv][d], 0) / Math.sqrt(hd));
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < hd; d++) out.push(e.reduce((a, pe, s) => a + (pe / z) * vs[s][kv][d], 0));
      }
      const o = project(wo, out);
      return x.map((v, i) => v + o[i]);
    });
    xs = xs.map((x) => {
      const hn = rmsNorm(x, vec(`${p}.post_attention_layernorm.weight`), eps);
      const gate = project(wg, hn);
      const up = project(wu, hn);
      const down = project(wd, gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]));
      return x.map((v, i) => v + down[i]);
    });
  }
  const head = json.tie_word_embeddings === true ? embed : rowsOf(w('lm_head.weight'));
  return xs.map((x) => project(head, rmsNorm(x, vec('model.norm.weight'), eps)));
}

export const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

/** Greedy continuation of `prompt` by `steps` tokens, and the logits row that chose each. */
export function oracleGreedy(json: HfJson, weights: Map<string, FloatTensor>, prompt: readonly number[], steps: number, contextLength: number) {
  const tokens = [...prompt];
  const rows: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const logits = hfForward(json, weights, tokens, contextLength);
    const row = logits[logits.length - 1];
    rows.push(row);
    tokens.push(argmax(row));
  }
  return { tokens: tokens.slice(prompt.length), rows };
}
