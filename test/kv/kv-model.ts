/**
 * Test oracle: a dense logical KV cache `K[slot][head][pos][d]` / `V[slot][head][pos][d]` plus
 * readers/writers that address the manager's buffers through the documented layouts, written
 * independently of src/kv:
 *   K in  (heads, head_dim, past)  -> key[(h*hd + d)*past + pos]
 *   K out (heads, head_dim, AR)    -> key[heads*hd*past + (h*hd + d)*AR + t]
 *   V in  (heads, past, head_dim)  -> value[(h*past + pos)*hd + d]
 *   V out (heads, AR, head_dim)    -> value[heads*past*hd + (h*AR + t)*hd + d]
 */
import seedrandom from 'seedrandom';
import type { ElementArray } from '../../src/tensor/dtype.js';

export interface SlotShape {
  heads: number;
  headDim: number;
}

export interface Buffers {
  key: ElementArray;
  value: ElementArray;
  heads: number;
  headDim: number;
}

export type Rng = () => number;

export function makeRng(seed: string): Rng {
  return seedrandom(seed);
}

export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** A random value that the array stores exactly. */
export function randomElement(array: ElementArray, rng: Rng): number {
  if (array instanceof Float32Array) return Math.fround(rng() * 8 - 4);
  const bits = array.BYTES_PER_ELEMENT * 8;
  const signed = array instanceof Int8Array || array instanceof Int16Array || array instanceof Int32Array;
  const v = Math.floor(rng() * 2 ** bits);
  return signed ? v - 2 ** (bits - 1) : v;
}

/** Entries [t][d] for one head. */
type HeadEntries = number[][];

export class DenseKv {
  /** K[slot][head] = list of entries, each `headDim` numbers. */
  readonly k: HeadEntries[][];
  readonly v: HeadEntries[][];

  constructor(readonly shapes: readonly SlotShape[]) {
    this.k = shapes.map((s) => Array.from({ length: s.heads }, () => []));
    this.v = shapes.map((s) => Array.from({ length: s.heads }, () => []));
  }

  get nValid(): number {
    return this.k[0][0].length;
  }

  /** Keep the first n entries of every head. */
  truncate(n: number): void {
    for (const slot of [...this.k, ...this.v]) for (const head of slot) head.length = n;
  }

  /** Remove the entries at `slots` (any order) from every head. */
  evict(slots: readonly number[]): void {
    const drop = new Set(slots);
    for (const slot of [...this.k, ...this.v]) {
      for (let h = 0; h < slot.length; h++) slot[h] = slot[h].filter((_, t) => !drop.has(t));
    }
  }

  /** Append rows `[from, from + n)` of a graph output (`out[slot][head][t][d]`). */
  append(kOut: HeadEntries[][], vOut: HeadEntries[][], from: number, n: number): void {
    this.k.forEach((slot, s) => slot.forEach((head, h) => head.push(...kOut[s][h].slice(from, from + n))));
    this.v.forEach((slot, s) => slot.forEach((head, h) => head.push(...vOut[s][h].slice(from, from + n))));
  }
}

/** A simulated concat graph: writes random KV-out for all AR rows, returns what it wrote. */
export function writeConcatOutputs(
  buffers: readonly Buffers[], cl: number, ar: number, rng: Rng,
): { kOut: HeadEntries[][]; vOut: HeadEntries[][] } {
  const past = cl - ar;
  const kOut: HeadEntries[][] = [];
  const vOut: HeadEntries[][] = [];
  for (const { key, value, heads, headDim: hd } of buffers) {
    const ks: HeadEntries[] = [];
    const vs: HeadEntries[] = [];
    for (let h = 0; h < heads; h++) {
      const kh: number[][] = [];
      const vh: number[][] = [];
      for (let t = 0; t < ar; t++) {
        const kr: number[] = [];
        const vr: number[] = [];
        for (let d = 0; d < hd; d++) {
          const kv = randomElement(key, rng);
          const vv = randomElement(value, rng);
          key[heads * hd * past + (h * hd + d) * ar + t] = kv;
          value[heads * past * hd + (h * ar + t) * hd + d] = vv;
          kr.push(kv);
          vr.push(vv);
        }
        kh.push(kr);
        vh.push(vr);
      }
      ks.push(kh);
      vs.push(vh);
    }
    kOut.push(ks);
    vOut.push(vs);
  }
  return { kOut, vOut };
}

/** A simulated scatter graph: row t's new entry goes to KV-in position cacheIndex[t] (past = CL). */
export function writeScatterOutputs(
  buffers: readonly Buffers[], cl: number, cacheIndex: Int32Array, rng: Rng,
): { kOut: HeadEntries[][]; vOut: HeadEntries[][] } {
  const kOut: HeadEntries[][] = [];
  const vOut: HeadEntries[][] = [];
  for (const { key, value, heads, headDim: hd } of buffers) {
    const ks: HeadEntries[] = [];
    const vs: HeadEntries[] = [];
    for (let h = 0; h < heads; h++) {
      const kh: number[][] = [];
      const vh: number[][] = [];
      for (let t = 0; t < cacheIndex.length; t++) {
        const pos = cacheIndex[t];
        const kr: number[] = [];
        const vr: number[] = [];
        for (let d = 0; d < hd; d++) {
          const kv = randomElement(key, rng);
          const vv = randomElement(value, rng);
          key[(h * hd + d) * cl + pos] = kv;
          value[(h * cl + pos) * hd + d] = vv;
          kr.push(kv);
          vr.push(vv);
        }
        kh.push(kr);
        vh.push(vr);
      }
      ks.push(kh);
      vs.push(vh);
    }
    kOut.push(ks);
    vOut.push(vs);
  }
  return { kOut, vOut };
}

/**
 * Compares the KV-in of every buffer with the model: positions < nValid hold the model's entries,
 * positions in [nValid, past) hold `clear`. Returns the first mismatch as text, or null.
 */
export function diffKvIn(buffers: readonly Buffers[], model: DenseKv, past: number, clear: number): string | null {
  const n = model.nValid;
  for (let s = 0; s < buffers.length; s++) {
    const { key, value, heads, headDim: hd } = buffers[s];
    for (let h = 0; h < heads; h++) {
      for (let pos = 0; pos < past; pos++) {
        for (let d = 0; d < hd; d++) {
          const k = key[(h * hd + d) * past + pos];
          const v = value[(h * past + pos) * hd + d];
          const ek = pos < n ? model.k[s][h][pos][d] : clear;
          const ev = pos < n ? model.v[s][h][pos][d] : clear;
          if (k !== ek) return `K slot ${s} head ${h} pos ${pos} d ${d}: got ${k}, expected ${ek} (nValid ${n})`;
          if (v !== ev) return `V slot ${s} head ${h} pos ${pos} d ${d}: got ${v}, expected ${ev} (nValid ${n})`;
        }
      }
    }
  }
  return null;
}

export function makeBuffers(
  ctor: new (n: number) => ElementArray, shapes: readonly SlotShape[], cl: number, rng: Rng,
): Buffers[] {
  return shapes.map(({ heads, headDim }) => {
    const key = new ctor(heads * headDim * cl);
    const value = new ctor(heads * headDim * cl);
    // Garbage first: the manager must clear on construction.
    for (let i = 0; i < key.length; i++) {
      key[i] = randomElement(key, rng);
      value[i] = randomElement(value, rng);
    }
    return { key, value, heads, headDim };
  });
}

export function snapshot(buffers: readonly Buffers[]): ElementArray[] {
  return buffers.flatMap((b) => [b.key.slice(), b.value.slice()]);
}

/**
 * Checks that every element of every buffer from `heads * headDim * positions` on holds `clear`:
 * with `positions` = the past dim, everything after KV-in; with `positions` = CL, everything after
 * the `[in | out]` layout of that CL. Returns the first mismatch as text, or null.
 */
export function diffBeyondKvIn(buffers: readonly Buffers[], positions: number, clear: number): string | null {
  for (let s = 0; s < buffers.length; s++) {
    const { key, value, heads, headDim: hd } = buffers[s];
    for (const [name, array] of [['K', key], ['V', value]] as const) {
      for (let i = heads * hd * positions; i < array.length; i++) {
        if (array[i] !== clear) return `${name} slot ${s} element ${i} (checked from ${heads * hd * positions}): got ${array[i]}, expected ${clear}`;
      }
    }
  }
  return null;
}
