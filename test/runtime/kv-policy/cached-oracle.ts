/**
 * Test oracle for KV policies: a float64 Qwen2 decoder that processes one token at a time against
 * an explicit KV cache (per layer, per entry: its K and V after RoPE at the entry's position), from
 * which entries can be dropped. Written from the Hugging Face modeling code, independent of src/.
 *
 * A recompute over only the kept tokens is no oracle for an evicted cache: a kept entry's K/V in
 * layers above the first were computed while it attended to entries that are gone since. This
 * oracle keeps what each entry was computed with, exactly as a cache does, so an engine that evicts
 * in place must match it; a policy that recomputes must match a fresh pass instead.
 */
import type { FloatTensor } from '../../../src/formats/index.js';
import type { Qwen2Config } from '../../../src/backends/reference/index.js';

interface Entry {
  readonly token: number;
  readonly position: number;
  /** [layer][kvHead] -> head_dim values. */
  readonly k: Float64Array[][];
  readonly v: Float64Array[][];
}

class Linear {
  readonly w: Float64Array;
  constructor(t: FloatTensor, readonly out: number, readonly inp: number, readonly bias?: Float64Array) {
    this.w = Float64Array.from(t.data);
  }
  apply(x: Float64Array): Float64Array {
    const y = new Float64Array(this.out);
    for (let o = 0; o < this.out; o++) {
      let s = this.bias ? this.bias[o] : 0;
      const base = o * this.inp;
      for (let i = 0; i < this.inp; i++) s += this.w[base + i] * x[i];
      y[o] = s;
    }
    return y;
  }
}

export class CachedOracle {
  private readonly entries: Entry[] = [];
  private readonly embed: Float64Array;
  private readonly layers: { ln1: Float64Array; ln2: Float64Array; q: Linear; k: Linear; v: Linear; o: Linear; gate: Linear; up: Linear; down: Linear }[];
  private readonly norm: Float64Array;
  private readonly head: Linear;

  constructor(private readonly config: Qwen2Config, weights: Map<string, FloatTensor>) {
    const w = (name: string): FloatTensor => {
      const t = weights.get(name);
      if (t === undefined) throw new Error(`oracle: no weight ${name}`);
      return t;
    };
    const vec = (name: string): Float64Array => Float64Array.from(w(name).data);
    const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hd, intermediateSize: inter } = config;
    this.embed = Float64Array.from(w('model.embed_tokens.weight').data);
    this.layers = Array.from({ length: config.numHiddenLayers }, (_, l) => {
      const p = `model.layers.${l}`;
      const bias = (c: string): Float64Array | undefined => (weights.has(`${p}.self_attn.${c}_proj.bias`) ? vec(`${p}.self_attn.${c}_proj.bias`) : undefined);
      return {
        ln1: vec(`${p}.input_layernorm.weight`),
        ln2: vec(`${p}.post_attention_layernorm.weight`),
        q: new Linear(w(`${p}.self_attn.q_proj.weight`), nh * hd, h, bias('q')),
        k: new Linear(w(`${p}.self_attn.k_proj.weight`), nkv * hd, h, bias('k')),
        v: new Linear(w(`${p}.self_attn.v_proj.weight`), nkv * hd, h, bias('v')),
        o: new Linear(w(`${p}.self_attn.o_proj.weight`), h, nh * hd),
        gate: new Linear(w(`${p}.mlp.gate_proj.weight`), inter, h),
        up: new Linear(w(`${p}.mlp.up_proj.weight`), inter, h),
        down: new Linear(w(`${p}.mlp.down_proj.weight`), h, inter),
      };
    });
    this.norm = vec('model.norm.weight');
    this.head = new Linear(config.tieWordEmbeddings ? w('model.embed_tokens.weight') : w('lm_head.weight'), config.vocabSize, h);
  }

  get length(): number {
    return this.entries.length;
  }

  /** The cached entries' tokens and positions, oldest first. */
  tokens(): number[] {
    return this.entries.map((e) => e.token);
  }

  positions(): number[] {
    return this.entries.map((e) => e.position);
  }

  /** Drops the entries at these indices (any order). */
  drop(indices: Iterable<number>): void {
    const gone = new Set(indices);
    const kept = this.entries.filter((_, i) => !gone.has(i));
    this.entries.length = 0;
    this.entries.push(...kept);
  }

  clear(): void {
    this.entries.length = 0;
  }

  /** Feeds `token` at `position` (default: after the last entry's), caches it, returns its logits. */
  feed(token: number, position = this.entries.length === 0 ? 0 : this.entries[this.entries.length - 1].position + 1): Float64Array {
    const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: hd, rmsNormEps: eps } = this.config;
    let x = this.embed.slice(token * h, (token + 1) * h);
    const entry: Entry = { token, position, k: [], v: [] };
    const rep = nh / nkv;
    this.layers.forEach((layer, l) => {
      const xn = rmsNorm(x, layer.ln1, eps);
      const q = layer.q.apply(xn);
      const k = layer.k.apply(xn);
      const v = layer.v.apply(xn);
      const ks: Float64Array[] = [];
      const vs: Float64Array[] = [];
      for (let g = 0; g < nkv; g++) {
        ks.push(rotate(k.subarray(g * hd, (g + 1) * hd), position, this.config.ropeTheta));
        vs.push(v.slice(g * hd, (g + 1) * hd));
      }
      entry.k.push(ks);
      entry.v.push(vs);
      const attn = new Float64Array(nh * hd);
      for (let head = 0; head < nh; head++) {
        const g = Math.floor(head / rep);
        const qh = rotate(q.subarray(head * hd, (head + 1) * hd), position, this.config.ropeTheta);
        const keys = [...this.entries.map((e) => e.k[l][g]), ks[g]];
        const values = [...this.entries.map((e) => e.v[l][g]), vs[g]];
        const scores = keys.map((kk) => dot(qh, kk) / Math.sqrt(hd));
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < hd; d++) {
          let s = 0;
          for (let j = 0; j < values.length; j++) s += (e[j] / z) * values[j][d];
          attn[head * hd + d] = s;
        }
      }
      const o = layer.o.apply(attn);
      x = x.map((val, i) => val + o[i]);
      const hn = rmsNorm(x, layer.ln2, eps);
      const gate = layer.gate.apply(hn);
      const up = layer.up.apply(hn);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
      const down = layer.down.apply(act);
      x = x.map((val, i) => val + down[i]);
    });
    this.entries.push(entry);
    return this.head.apply(rmsNorm(x, this.norm, eps));
  }
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ms = 0;
  for (let i = 0; i < x.length; i++) ms += x[i] * x[i];
  const inv = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => w[i] * v * inv);
}

/** HF rotate_half RoPE at `position`: frequencies over even indices, duplicated halves. */
function rotate(x: ArrayLike<number>, position: number, theta: number): Float64Array {
  const hd = x.length;
  const half = hd / 2;
  const out = new Float64Array(hd);
  for (let j = 0; j < half; j++) {
    const angle = position / theta ** ((2 * j) / hd);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    out[j] = x[j] * c - x[j + half] * s;
    out[j + half] = x[j + half] * c + x[j] * s;
  }
  return out;
}
