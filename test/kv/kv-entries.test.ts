/**
 * `KvCacheManager.readEntries` / `loadEntries` (a dialog's save and restore): the packed entries read
 * out are the dense model's, in the stored element type; loaded into another cache (on another AR
 * variant, with garbage in its buffers) they give a KV-in equal to the dense model's with every other
 * slot cleared; bad arguments throw before anything changes.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { KvCacheManager, type KvMode } from '../../src/kv/index.js';
import type { ElementArray } from '../../src/tensor/dtype.js';
import { DenseKv, diffKvIn, makeBuffers, makeRng, randInt, snapshot, writeConcatOutputs, type SlotShape } from './kv-model.js';

const CL = 64;
const SHAPES: SlotShape[] = [{ heads: 2, headDim: 4 }, { heads: 1, headDim: 3 }];
type Ctor = new (n: number) => ElementArray;
const DTYPES: { name: string; ctor: Ctor; clear: number }[] = [
  { name: 'uint8', ctor: Uint8Array, clear: 128 },
  { name: 'uint16', ctor: Uint16Array, clear: 32768 },
  { name: 'float32', ctor: Float32Array, clear: 0 },
];

describe.each(DTYPES)('$name: readEntries / loadEntries', ({ ctor, clear }) => {
  it.each(['concat', 'scatter'] as KvMode[])('%s: a round trip through packed entries reproduces the cache on another variant', (mode) => {
    const rng = makeRng(`entries-${mode}`);
    const ar = 8;
    const buffers = makeBuffers(ctor, SHAPES, CL, rng);
    const cache = new KvCacheManager({ contextLength: CL, ar, mode, clearValue: clear, slots: buffers });
    const model = new DenseKv(SHAPES);
    const past = mode === 'concat' ? CL - ar : CL;
    // Fill through concat updates (scatter: write KV-in directly through the same helper's values).
    for (let step = 0; step < 4; step++) {
      const nNew = randInt(rng, 1, ar);
      if (mode === 'concat') {
        const { kOut, vOut } = writeConcatOutputs(buffers, CL, ar, rng);
        cache.update(cache.nValid, nNew, 0);
        model.append(kOut, vOut, 0, nNew);
      } else {
        const n0 = cache.nValid;
        const kOut = SHAPES.map((s, i) => Array.from({ length: s.heads }, (_, h) => Array.from({ length: nNew }, (_, t) => Array.from({ length: s.headDim }, (_, d) => {
          const v = Math.floor(rng() * 100);
          buffers[i].key[(h * s.headDim + d) * CL + n0 + t] = v;
          return v;
        }))));
        const vOut = SHAPES.map((s, i) => Array.from({ length: s.heads }, (_, h) => Array.from({ length: nNew }, (_, t) => Array.from({ length: s.headDim }, (_, d) => {
          const v = Math.floor(rng() * 100);
          buffers[i].value[(h * CL + n0 + t) * s.headDim + d] = v;
          return v;
        }))));
        cache.update(n0, nNew, 0);
        model.append(kOut, vOut, 0, nNew);
      }
    }
    expect(diffKvIn(buffers, model, past, clear)).toBeNull();
    const n = cache.nValid;
    const entries = SHAPES.map((_, s) => cache.readEntries(s));
    entries.forEach(({ key, value }, s) => {
      const { heads, headDim } = SHAPES[s];
      expect(key.constructor).toBe(ctor);
      expect(key.length).toBe(heads * headDim * n);
      for (let h = 0; h < heads; h++) {
        for (let t = 0; t < n; t++) {
          for (let d = 0; d < headDim; d++) {
            expect(key[(h * headDim + d) * n + t]).toBe(model.k[s][h][t][d]);
            expect(value[(h * n + t) * headDim + d]).toBe(model.v[s][h][t][d]);
          }
        }
      }
    });

    const other = makeBuffers(ctor, SHAPES, CL, makeRng('garbage'));
    const restored = new KvCacheManager({ contextLength: CL, ar: 1, mode, clearValue: clear, slots: other });
    restored.loadEntries(CL, ar, n, entries);
    expect(restored.nValid).toBe(n);
    expect(restored.ar).toBe(ar);
    expect(diffKvIn(other, model, past, clear)).toBeNull();

    // Bad arguments change nothing.
    const before = snapshot(other);
    expect(() => restored.loadEntries(CL, ar, n + 1, entries)).toThrow(InvalidArgumentError);
    expect(() => restored.loadEntries(CL, ar, n, entries.slice(1))).toThrow(InvalidArgumentError);
    expect(() => restored.loadEntries(CL, ar, past + 1, entries)).toThrow(InvalidArgumentError);
    expect(() => restored.loadEntries(CL, 0, n, entries)).toThrow(InvalidArgumentError);
    expect(snapshot(other)).toEqual(before);
    expect(restored.nValid).toBe(n);
  });
});
