/**
 * A minimal Genie-style loop for tests: one buffer per tensor name, SMART_MASK masks, cos/sin from
 * the RoPE formula, KV kept in its own store and copied out -> in after each step. Unused KV-in
 * slots are filled with garbage so any leak through the mask shows.
 */
import type { GraphBackend } from '../../../src/backends/backend.js';
import type { Qwen2Config } from '../../../src/backends/reference/index.js';
import { byteSize } from '../../../src/tensor/dtype.js';

const GRAPH_NAME = /ar(\d+)_cl(\d+)_(\d+)_of_(\d+)$/;
const PAST_KEY_IN = /^past_key_(\d+)_in$/;

export interface DriverOptions {
  /** Additive value of masked mask entries (Genie float: -1000; AI Hub clips to -50). */
  readonly maskValue?: number;
  /** When the first graph takes `input_embeds`: the `[vocab, hidden]` table to look rows up in. */
  readonly embedTable?: Float32Array;
  /** RoPE frequencies (and the cos/sin multiplier, longrope) other than plain `ropeTheta` RoPE. */
  readonly rope?: { readonly invFreq: ArrayLike<number>; readonly attentionFactor: number };
}

export class KvLoopDriver {
  private readonly chains = new Map<number, string[]>();
  private readonly views = new Map<string, Uint8Array>();
  private readonly keys: Float32Array[] = [];
  private readonly values: Float32Array[] = [];
  private nValid = 0;
  readonly cl: number;

  constructor(
    private readonly backend: GraphBackend,
    private readonly config: Qwen2Config,
    private readonly options: DriverOptions = {},
  ) {
    const sizes = new Map<string, number>();
    let cl = 0;
    const parts = new Map<number, Array<[number, string]>>();
    for (const graph of backend.graphs) {
      const m = GRAPH_NAME.exec(graph.name);
      if (m === null) throw new Error(`driver: unexpected graph name ${graph.name}`);
      const [ar, graphCl, part] = [Number(m[1]), Number(m[2]), Number(m[3])];
      cl = graphCl;
      parts.set(ar, [...(parts.get(ar) ?? []), [part, graph.name]]);
      for (const t of [...graph.inputs, ...graph.outputs]) {
        const bytes = t.shape.reduce((a, b) => a * b, 1) * byteSize(t.dtype);
        sizes.set(t.name, Math.max(sizes.get(t.name) ?? 0, bytes));
      }
    }
    this.cl = cl;
    for (const [ar, list] of parts) this.chains.set(ar, list.sort((a, b) => a[0] - b[0]).map(([, name]) => name));
    for (const [name, bytes] of sizes) this.views.set(name, backend.allocate(bytes));
    for (const graph of backend.graphs) backend.bind(graph.name, this.views);
    const { numKeyValueHeads: kvh, headDim: hd } = config;
    for (let l = 0; l < config.numHiddenLayers; l++) {
      this.keys.push(new Float32Array(kvh * hd * cl));
      this.values.push(new Float32Array(kvh * cl * hd));
    }
  }

  get past(): number {
    return this.nValid;
  }

  bytes(name: string): Uint8Array {
    return this.views.get(name)!;
  }

  f32(name: string): Float32Array {
    const v = this.views.get(name)!;
    return new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4);
  }

  /** Runs `tokens` (at most `ar`) through the AR-`ar` graphs; returns one logits row per token. */
  async step(tokens: readonly number[], ar: number): Promise<Float32Array[]> {
    const chain = this.chains.get(ar)!;
    const { hiddenSize: hidden, headDim: hd, numKeyValueHeads: kvh, vocabSize: vocab, ropeTheta } = this.config;
    const { cl } = this;
    const n = tokens.length;
    const past = cl - ar;
    const first = this.backend.graphs.find((g) => g.name === chain[0])!;
    if (first.inputs.some((t) => t.name === 'input_ids')) {
      const idsView = this.views.get('input_ids')!;
      const ids = new Int32Array(idsView.buffer, idsView.byteOffset, ar);
      ids.fill(0);
      ids.set(tokens);
    } else {
      const embeds = this.f32('input_embeds');
      embeds.fill(0);
      tokens.forEach((t, i) => embeds.set(this.options.embedTable!.subarray(t * hidden, (t + 1) * hidden), i * hidden));
    }
    const mask = this.f32('attention_mask');
    mask.fill(this.options.maskValue ?? -1000, 0, ar * cl);
    for (let i = 0; i < n; i++) {
      mask.fill(0, i * cl, i * cl + this.nValid);
      mask.fill(0, i * cl + past, i * cl + past + i + 1);
    }
    const cos = this.f32('position_ids_cos');
    const sin = this.f32('position_ids_sin');
    for (let i = 0; i < ar; i++) {
      const pos = i < n ? this.nValid + i : 0;
      const rope = this.options.rope;
      for (let j = 0; j < hd / 2; j++) {
        const angle = pos * (rope === undefined ? 1 / ropeTheta ** ((2 * j) / hd) : rope.invFreq[j]);
        const factor = rope?.attentionFactor ?? 1;
        cos[i * (hd / 2) + j] = Math.cos(angle) * factor;
        sin[i * (hd / 2) + j] = Math.sin(angle) * factor;
      }
    }
    const layers = new Set<number>();
    for (const name of chain) {
      for (const t of this.backend.graphs.find((g) => g.name === name)!.inputs) {
        const m = PAST_KEY_IN.exec(t.name);
        if (m !== null) layers.add(Number(m[1]));
      }
    }
    for (const l of layers) {
      const kIn = this.f32(`past_key_${l}_in`);
      const vIn = this.f32(`past_value_${l}_in`);
      for (let h = 0; h < kvh; h++) {
        for (let c = 0; c < past; c++) {
          for (let d = 0; d < hd; d++) {
            const valid = c < this.nValid;
            kIn[(h * hd + d) * past + c] = valid ? this.keys[l][(h * hd + d) * cl + c] : 3 + ((c * 7 + d) % 5);
            vIn[(h * past + c) * hd + d] = valid ? this.values[l][(h * cl + c) * hd + d] : -4 - ((c + d) % 3);
          }
        }
      }
    }
    for (const name of chain) await this.backend.execute(name);
    const logits = this.f32('logits');
    const rows = tokens.map((_, i) => logits.slice(i * vocab, (i + 1) * vocab));
    for (const l of layers) {
      const kOut = this.f32(`past_key_${l}_out`);
      const vOut = this.f32(`past_value_${l}_out`);
      for (let h = 0; h < kvh; h++) {
        for (let j = 0; j < n; j++) {
          for (let d = 0; d < hd; d++) {
            this.keys[l][(h * hd + d) * cl + this.nValid + j] = kOut[(h * hd + d) * ar + j];
            this.values[l][(h * cl + this.nValid + j) * hd + d] = vOut[(h * ar + j) * hd + d];
          }
        }
      }
    }
    this.nValid += n;
    return rows;
  }

  /** Prefill `prompt` in AR-`promptAr` chunks, then feed `continuation` one token at a time on AR-`decodeAr`. */
  /** Prefill `prompt` on AR-`promptAr`, then `steps` greedy tokens on AR-1: the tokens and the row choosing each. */
  async greedy(prompt: readonly number[], steps: number, promptAr: number): Promise<{ tokens: number[]; rows: Float32Array[] }> {
    let last: Float32Array | undefined;
    for (let i = 0; i < prompt.length; i += promptAr) last = (await this.step(prompt.slice(i, i + promptAr), promptAr)).at(-1);
    const tokens: number[] = [];
    const rows: Float32Array[] = [];
    for (let s = 0; s < steps; s++) {
      rows.push(last!);
      let best = 0;
      for (let v = 1; v < last!.length; v++) if (last![v] > last![best]) best = v;
      tokens.push(best);
      if (s + 1 < steps) last = (await this.step([best], 1))[0];
    }
    return { tokens, rows };
  }

  async run(prompt: readonly number[], continuation: readonly number[], promptAr: number, decodeAr: number): Promise<Float32Array[]> {
    const rows: Float32Array[] = [];
    for (let i = 0; i < prompt.length; i += promptAr) rows.push(...(await this.step(prompt.slice(i, i + promptAr), promptAr)));
    for (const t of continuation) rows.push(...(await this.step([t], decodeAr)));
    return rows;
  }
}
