/**
 * KvCacheManager.evict against the dense model (test/kv/kv-model.ts, which removes entries by
 * filtering lists): random sessions of updates, evictions (one slot, runs, scattered sets, the
 * whole cache), variant switches and rewinds, in concat and scatter layouts, for every KV dtype;
 * KV-in must hold exactly the model's entries, left-aligned, and the clear value after them.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { fillCacheIndex, KvCacheManager, type KvMode } from '../../src/kv/index.js';
import type { ElementArray } from '../../src/tensor/dtype.js';
import {
  DenseKv, diffKvIn, makeBuffers, makeRng, randInt, snapshot, writeConcatOutputs, writeScatterOutputs, type Rng, type SlotShape,
} from './kv-model.js';

const CL = 128;
const ARS = [1, 16];
const SHAPES: SlotShape[] = [{ heads: 2, headDim: 4 }, { heads: 1, headDim: 3 }];
type Ctor = new (n: number) => ElementArray;
const DTYPES: { name: string; ctor: Ctor; clear: number }[] = [
  { name: 'uint8', ctor: Uint8Array, clear: 128 },
  { name: 'uint16', ctor: Uint16Array, clear: 32768 },
  { name: 'float32', ctor: Float32Array, clear: 0 },
];

/** A random strictly ascending subset of [0, n): a single slot, a run, or a scattered set. */
function randomSlots(rng: Rng, n: number): number[] {
  const kind = rng();
  if (kind < 0.3) return [randInt(rng, 0, n - 1)];
  if (kind < 0.6) {
    const start = randInt(rng, 0, n - 1);
    const end = randInt(rng, start, n - 1);
    return Array.from({ length: end - start + 1 }, (_, i) => start + i);
  }
  if (kind < 0.95) return Array.from({ length: n }, (_, i) => i).filter(() => rng() < 0.3);
  return Array.from({ length: n }, (_, i) => i);
}

function session(ctor: Ctor, clear: number, mode: KvMode, seed: string): { evictions: number; maxValid: number } {
  const rng = makeRng(seed);
  let ar = ARS[1];
  const buffers = makeBuffers(ctor, SHAPES, CL, rng);
  const cache = new KvCacheManager({ contextLength: CL, ar, mode, clearValue: clear, slots: buffers });
  const model = new DenseKv(SHAPES);
  const seen = { evictions: 0, maxValid: 0 };
  for (let op = 0; op < 400; op++) {
    const r = rng();
    const past = mode === 'concat' ? CL - ar : CL;
    if (r < 0.55) {
      const nNew = randInt(rng, 0, Math.min(ar, past - model.nValid));
      if (mode === 'concat') {
        const { kOut, vOut } = writeConcatOutputs(buffers, CL, ar, rng);
        cache.update(model.nValid, nNew);
        model.append(kOut, vOut, 0, nNew);
      } else {
        if (model.nValid + ar > CL) continue;
        const cacheIndex = new Int32Array(ar);
        fillCacheIndex(cacheIndex, model.nValid, CL);
        const { kOut, vOut } = writeScatterOutputs(buffers, CL, cacheIndex, rng);
        cache.update(model.nValid, nNew);
        model.append(kOut, vOut, 0, nNew);
      }
    } else if (r < 0.85) {
      if (model.nValid === 0) continue;
      const slots = randomSlots(rng, model.nValid);
      cache.evict(slots);
      model.evict(slots);
      seen.evictions++;
    } else if (r < 0.95) {
      const next = ARS[randInt(rng, 0, 1)];
      if (mode === 'concat' && model.nValid > CL - next) continue;
      cache.setVariant(next);
      ar = next;
    } else {
      const n = randInt(rng, 0, model.nValid);
      cache.truncate(n);
      model.truncate(n);
    }
    expect(cache.nValid).toBe(model.nValid);
    expect(diffKvIn(buffers, model, mode === 'concat' ? CL - ar : CL, clear)).toBeNull();
    seen.maxValid = Math.max(seen.maxValid, model.nValid);
  }
  return seen;
}

describe('KvCacheManager.evict against the dense model', () => {
  for (const mode of ['concat', 'scatter'] as const) {
    for (const { name, ctor, clear } of DTYPES) {
      it(`${mode}, ${name}: random updates, evictions, switches and rewinds`, () => {
        const seen = session(ctor, clear, mode, `evict-${mode}-${name}`);
        expect(seen.evictions).toBeGreaterThan(50);
        expect(seen.maxValid).toBeGreaterThan(60);
      });
    }
  }

  /** A uint8 concat cache holding 10 random entries. */
  function tenEntries(seed: string): { cache: KvCacheManager; before: ElementArray[]; buffers: ReturnType<typeof makeBuffers> } {
    const rng = makeRng(seed);
    const buffers = makeBuffers(Uint8Array, SHAPES, CL, rng);
    const cache = new KvCacheManager({ contextLength: CL, ar: 16, mode: 'concat', clearValue: 128, slots: buffers });
    writeConcatOutputs(buffers, CL, 16, rng);
    cache.update(0, 10);
    return { cache, buffers, before: snapshot(buffers) };
  }

  it('an empty list changes nothing', () => {
    const { cache, buffers, before } = tenEntries('evict-empty');
    cache.evict([]);
    expect(cache.nValid).toBe(10);
    expect(snapshot(buffers)).toEqual(before);
  });

  it.each([
    [[10], 'slots[0] = 10 is not a cached slot in [0, 10)'],
    [[-1], 'slots[0] = -1 is not a cached slot in [0, 10)'],
    [[1.5], 'slots[0] = 1.5 is not a cached slot in [0, 10)'],
    [[3, 3], 'slots must be strictly ascending: slots[1] = 3 follows 3'],
    [[4, 2], 'slots must be strictly ascending: slots[1] = 2 follows 4'],
  ])('evict(%j) throws InvalidArgumentError and changes nothing', (slots, message) => {
    const { cache, buffers, before } = tenEntries('evict-bad');
    expect(() => cache.evict(slots)).toThrow(InvalidArgumentError);
    expect(() => cache.evict(slots)).toThrow(message);
    expect(cache.nValid).toBe(10);
    expect(snapshot(buffers)).toEqual(before);
  });
});
