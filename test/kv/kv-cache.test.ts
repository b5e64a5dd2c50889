import { describe, it, expect } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { fillCacheIndex, KvCacheManager, type KvMode } from '../../src/kv/index.js';
import type { ElementArray } from '../../src/tensor/dtype.js';
import {
  DenseKv, diffKvIn, makeBuffers, makeRng, randInt, snapshot, writeConcatOutputs, writeScatterOutputs,
  type Buffers, type Rng, type SlotShape,
} from './kv-model.js';

const CL = 256;
const VARIANTS = [1, 32, 128];
/** A two-head layer tensor plus two per-head tensors with another head_dim. */
const SHAPES: SlotShape[] = [{ heads: 2, headDim: 4 }, { heads: 1, headDim: 3 }, { heads: 1, headDim: 3 }];

type Ctor = new (n: number) => ElementArray;
const DTYPES: { name: string; ctor: Ctor; clear: number }[] = [
  { name: 'uint8 (clear 128)', ctor: Uint8Array, clear: 128 },
  { name: 'uint16 (clear 32768)', ctor: Uint16Array, clear: 32768 },
  { name: 'float16 bits (clear 0)', ctor: Uint16Array, clear: 0 },
  { name: 'float32 (clear 0)', ctor: Float32Array, clear: 0 },
  { name: 'int8 (clear 0)', ctor: Int8Array, clear: 0 },
];

function setup(ctor: Ctor, clear: number, mode: KvMode, ar: number, rng: Rng, shapes = SHAPES) {
  const buffers = makeBuffers(ctor, shapes, CL, rng);
  const cache = new KvCacheManager({ contextLength: CL, ar, mode, clearValue: clear, slots: buffers });
  return { buffers, cache, model: new DenseKv(shapes) };
}

function expectMatches(buffers: Buffers[], model: DenseKv, cache: KvCacheManager, past: number, clear: number) {
  expect(cache.nValid).toBe(model.nValid);
  expect(cache.pastDim).toBe(past);
  expect(diffKvIn(buffers, model, past, clear)).toBeNull();
}

/** Runs a random concat session; returns how often each interesting path was taken. */
function runConcatSession(ctor: Ctor, clear: number, seed: string, ops: number, shapes = SHAPES) {
  const rng = makeRng(seed);
  let ar = VARIANTS[randInt(rng, 0, 2)];
  const { buffers, cache, model } = setup(ctor, clear, 'concat', ar, rng, shapes);
  const seen = { grow: 0, shrink: 0, refused: 0, rewindUpdate: 0, truncate: 0, maxValid: 0 };
  expectMatches(buffers, model, cache, CL - ar, clear);
  for (let op = 0; op < ops; op++) {
    const r = rng();
    if (r < 0.55) {
      const past = CL - ar;
      const nValid = rng() < 0.15 ? randInt(rng, 0, model.nValid) : model.nValid;
      if (nValid < model.nValid) seen.rewindUpdate++;
      const nNew = randInt(rng, 0, Math.min(ar, past - nValid));
      const srcOffset = randInt(rng, 0, ar - nNew);
      const { kOut, vOut } = writeConcatOutputs(buffers, CL, ar, rng);
      cache.update(nValid, nNew, srcOffset);
      model.truncate(nValid);
      model.append(kOut, vOut, srcOffset, nNew);
    } else if (r < 0.82) {
      const next = VARIANTS[randInt(rng, 0, 2)];
      if (model.nValid > CL - next) {
        const before = snapshot(buffers);
        expect(() => cache.setVariant(next)).toThrow(InvalidArgumentError);
        expect(snapshot(buffers)).toEqual(before);
        seen.refused++;
      } else {
        cache.setVariant(next);
        if (model.nValid > 0 && next < ar) seen.grow++;
        if (model.nValid > 0 && next > ar) seen.shrink++;
        ar = next;
      }
    } else if (r < 0.98) {
      // Mostly short rewinds (stop sequences, rejected drafts) so the cache also gets near full.
      const n = rng() < 0.8 ? model.nValid - randInt(rng, 0, Math.min(model.nValid, 24)) : randInt(rng, 0, model.nValid);
      cache.truncate(n);
      model.truncate(n);
      seen.truncate++;
    } else {
      cache.clear();
      model.truncate(0);
    }
    expect(cache.ar).toBe(ar);
    expectMatches(buffers, model, cache, CL - ar, clear);
    seen.maxValid = Math.max(seen.maxValid, model.nValid);
  }
  return seen;
}

describe('KvCacheManager, concat (SMART_MASK) against a dense model', () => {
  for (const { name, ctor, clear } of DTYPES) {
    it(`keeps the logical cache and the clear slots through random update/switch/truncate, ${name}`, () => {
      const seen = runConcatSession(ctor, clear, `concat-${name}`, 500);
      // The session must actually exercise the interesting paths.
      expect(seen.grow).toBeGreaterThan(5);
      expect(seen.shrink).toBeGreaterThan(5);
      expect(seen.refused).toBeGreaterThan(0);
      expect(seen.rewindUpdate).toBeGreaterThan(5);
      expect(seen.maxValid).toBeGreaterThan(CL - 128);
    });
  }

  it('works with head_dim 64 layer tensors (the Qwen2 shape)', () => {
    const seen = runConcatSession(Uint8Array, 128, 'concat-hd64', 120, [{ heads: 2, headDim: 64 }, { heads: 2, headDim: 64 }]);
    expect(seen.grow + seen.shrink).toBeGreaterThan(5);
  });

  it('clears every element on construction and on clear(), KV-out included', () => {
    const rng = makeRng('clear');
    const { buffers, cache } = setup(Uint8Array, 128, 'concat', 32, rng);
    const allClear = () => buffers.every((b) => b.key.every((x) => x === 128) && b.value.every((x) => x === 128));
    expect(allClear()).toBe(true);
    writeConcatOutputs(buffers, CL, 32, rng);
    cache.update(0, 20);
    expect(allClear()).toBe(false);
    cache.clear();
    expect(cache.nValid).toBe(0);
    expect(allClear()).toBe(true);
  });

  it('fills a whole K-in row and V-in block when the cache is exactly full', () => {
    const rng = makeRng('full');
    const { buffers, cache, model } = setup(Float32Array, 0, 'concat', 128, rng);
    // Two AR-128 chunks would overflow CL - AR = 128: one fills it, a 2nd must be refused.
    const { kOut, vOut } = writeConcatOutputs(buffers, CL, 128, rng);
    cache.update(0, 128);
    model.append(kOut, vOut, 0, 128);
    expectMatches(buffers, model, cache, 128, 0);
    expect(() => cache.update(128, 1)).toThrow(/nValid \+ nNew = 128 \+ 1 = 129 exceeds the KV-in capacity 128 \(CL - AR = 256 - 128\)/);
    cache.setVariant(1);
    expectMatches(buffers, model, cache, 255, 0);
  });
});

describe('KvCacheManager, scatter (KV-in past dim = CL)', () => {
  for (const { name, ctor, clear } of DTYPES) {
    it(`keeps the logical cache and the clear slots with cache_index scatters, ${name}`, () => {
      const rng = makeRng(`scatter-${name}`);
      let ar = 32;
      const { buffers, cache, model } = setup(ctor, clear, 'scatter', ar, rng);
      let steps = 0;
      for (let op = 0; op < 300; op++) {
        const r = rng();
        if (r < 0.6) {
          const nValid = rng() < 0.15 ? randInt(rng, 0, model.nValid) : model.nValid;
          if (nValid + ar > CL) continue; // the planner never runs a variant whose cache_index leaves KV-in
          const nNew = randInt(rng, 0, ar);
          const cacheIndex = new Int32Array(ar);
          fillCacheIndex(cacheIndex, nValid, CL);
          const { kOut, vOut } = writeScatterOutputs(buffers, CL, cacheIndex, rng);
          cache.update(nValid, nNew);
          model.truncate(nValid);
          model.append(kOut, vOut, 0, nNew);
          steps++;
        } else if (r < 0.8) {
          const before = snapshot(buffers);
          ar = VARIANTS[randInt(rng, 0, 2)];
          cache.setVariant(ar); // no repack at the same CL
          expect(snapshot(buffers)).toEqual(before);
        } else if (r < 0.97) {
          const n = randInt(rng, 0, model.nValid);
          cache.truncate(n);
          model.truncate(n);
        } else {
          cache.clear();
          model.truncate(0);
        }
        expectMatches(buffers, model, cache, CL, clear);
      }
      expect(steps).toBeGreaterThan(100);
    });
  }

  it('accepts ar == CL (no concat past needed)', () => {
    const { cache } = setup(Uint8Array, 128, 'scatter', CL, makeRng('arcl'));
    expect(cache.pastDim).toBe(CL);
  });
});

describe('KvCacheManager rejects bad input before changing anything', () => {
  function usableSession() {
    const rng = makeRng('bad-input');
    const { buffers, cache, model } = setup(Uint8Array, 128, 'concat', 32, rng);
    const { kOut, vOut } = writeConcatOutputs(buffers, CL, 32, rng);
    cache.update(0, 30, 2);
    model.append(kOut, vOut, 2, 30);
    return { rng, buffers, cache, model };
  }

  const cases: { call: string; prepare?: (c: KvCacheManager) => void; run: (c: KvCacheManager) => void; message: RegExp }[] = [
    { call: 'update with nValid above the count', run: (c) => c.update(31, 1), message: /^nValid must be an integer in \[0, 30\], got 31$/ },
    { call: 'update with negative nValid', run: (c) => c.update(-1, 1), message: /^nValid must be an integer in \[0, 30\], got -1$/ },
    { call: 'update with nNew > AR', run: (c) => c.update(30, 33), message: /^nNew must be an integer in \[0, 32\], got 33$/ },
    { call: 'update with fractional nNew', run: (c) => c.update(30, 1.5), message: /^nNew must be an integer in \[0, 32\], got 1.5$/ },
    { call: 'update with srcOffset + nNew > AR', run: (c) => c.update(30, 10, 23), message: /^srcOffset must be an integer in \[0, 22\], got 23$/ },
    { call: 'update past the KV-in capacity', prepare: (c) => { for (let n = 30; n < 222; n += 32) c.update(n, 32); }, run: (c) => c.update(222, 3), message: /^nValid \+ nNew = 222 \+ 3 = 225 exceeds the KV-in capacity 224 \(CL - AR = 256 - 32\)$/ },
    { call: 'setVariant(0)', run: (c) => c.setVariant(0), message: /^ar must be an integer in \[1, 255\], got 0$/ },
    { call: 'setVariant(CL) on a concat cache', run: (c) => c.setVariant(256), message: /^ar must be an integer in \[1, 255\], got 256$/ },
    { call: 'setVariant(NaN)', run: (c) => c.setVariant(Number.NaN), message: /^ar must be an integer in \[1, 255\], got NaN$/ },
    { call: 'truncate above the count', run: (c) => c.truncate(31), message: /^n must be an integer in \[0, 30\], got 31$/ },
    { call: 'truncate(-1)', run: (c) => c.truncate(-1), message: /^n must be an integer in \[0, 30\], got -1$/ },
  ];

  for (const { call, prepare, run, message } of cases) {
    it(`${call}: throws InvalidArgumentError naming the value, leaves the cache usable`, () => {
      const { rng, buffers, cache, model } = usableSession();
      prepare?.(cache);
      const before = snapshot(buffers);
      const nValidBefore = cache.nValid;
      let caught: unknown;
      try {
        run(cache);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as Error).message).toMatch(message);
      expect(snapshot(buffers)).toEqual(before);
      expect(cache.nValid).toBe(nValidBefore);
      expect(cache.ar).toBe(32);
      // Still usable: rewind past whatever `prepare` added, then a valid step.
      model.truncate(0);
      cache.truncate(0);
      const { kOut, vOut } = writeConcatOutputs(buffers, CL, 32, rng);
      cache.update(0, 5, 1);
      model.append(kOut, vOut, 1, 5);
      expectMatches(buffers, model, cache, CL - 32, 128);
    });
  }

  it('setVariant to an AR whose past cannot hold the cache is refused', () => {
    const rng = makeRng('refuse');
    const { buffers, cache, model } = setup(Uint16Array, 32768, 'concat', 1, rng);
    for (let i = 0; i < 200; i++) {
      const { kOut, vOut } = writeConcatOutputs(buffers, CL, 1, rng);
      cache.update(i, 1);
      model.append(kOut, vOut, 0, 1);
    }
    const before = snapshot(buffers);
    expect(() => cache.setVariant(128)).toThrow(InvalidArgumentError);
    expect(() => cache.setVariant(128)).toThrow(/^cl 256, ar 128 cannot hold the cache: nValid 200 > CL - AR = 256 - 128 = 128$/);
    expect(snapshot(buffers)).toEqual(before);
    expect(cache.ar).toBe(1);
    cache.setVariant(32);
    expectMatches(buffers, model, cache, CL - 32, 32768);
  });

  it('scatter update refuses a non-zero srcOffset', () => {
    const { buffers, cache } = setup(Uint8Array, 128, 'scatter', 32, makeRng('scatter-bad'));
    const before = snapshot(buffers);
    expect(() => cache.update(0, 1, 3)).toThrow(InvalidArgumentError);
    expect(() => cache.update(0, 1, 3)).toThrow(/^srcOffset \(scatter mode\) must be an integer in \[0, 0\], got 3$/);
    expect(snapshot(buffers)).toEqual(before);
    expect(cache.nValid).toBe(0);
    cache.update(0, 1);
    expect(cache.nValid).toBe(1);
  });
});

describe('KvCacheManager constructor validation', () => {
  const good = () => {
    const make = () => new Uint8Array(2 * 4 * CL).fill(7);
    return { key: make(), value: make(), heads: 2, headDim: 4 };
  };

  const cases: { what: string; options: () => ConstructorParameters<typeof KvCacheManager>[0]; message: RegExp }[] = [
    { what: 'a key of the wrong length', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [good(), { ...good(), key: new Uint8Array(2 * 4 * (CL - 1)) }] }),
      message: /^slots\[1\]\.key has 2040 elements, expected heads \* headDim \* maxContextLength = 2 \* 4 \* 256 = 2048$/ },
    { what: 'a value of another element type', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [{ ...good(), value: new Uint16Array(2 * 4 * CL) }] }),
      message: /^slots\[0\]\.value is a Uint16Array but slots\[0\]\.key is a Uint8Array; all KV buffers must share one element type$/ },
    { what: 'a clear value the element type cannot hold', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 32768, slots: [good()] }),
      message: /^clearValue 32768 cannot be stored in a Uint8Array$/ },
    { what: 'a fractional clear value', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 0.5, slots: [good()] }),
      message: /^clearValue 0.5 cannot be stored in a Uint8Array$/ },
    { what: 'AR == CL in concat mode', options: () => ({ contextLength: CL, ar: CL, mode: 'concat', clearValue: 128, slots: [good()] }),
      message: /^ar must be an integer in \[1, 255\], got 256$/ },
    { what: 'an unknown mode', options: () => ({ contextLength: CL, ar: 1, mode: 'shift' as KvMode, clearValue: 128, slots: [good()] }),
      message: /^mode must be "concat" or "scatter", got "shift"$/ },
    { what: 'zero heads', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [{ ...good(), heads: 0 }] }),
      message: /^slots\[0\]\.heads must be an integer in \[1, 65536\], got 0$/ },
    { what: 'a fractional head_dim', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [{ ...good(), headDim: 4.5 }] }),
      message: /^slots\[0\]\.headDim must be an integer in \[1, 65536\], got 4.5$/ },
    { what: 'no slots', options: () => ({ contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [] }),
      message: /^slots must list at least one KV slot, got none$/ },
    { what: 'K and V sharing one array', options: () => { const s = good(); return { contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [{ ...s, value: s.key }] }; },
      message: /^slots\[0\]\.value overlaps slots\[0\]\.key; every KV buffer needs its own memory$/ },
    { what: 'overlapping views of one buffer', options: () => {
      const region = new Uint8Array(2 * 4 * CL * 3);
      const a = good();
      return { contextLength: CL, ar: 1, mode: 'concat', clearValue: 128, slots: [
        { ...a, key: region.subarray(0, 2048), value: region.subarray(2048, 4096) },
        { ...a, key: region.subarray(4095, 6143), value: a.value },
      ] };
    }, message: /^slots\[1\]\.key overlaps slots\[0\]\.value; every KV buffer needs its own memory$/ },
  ];

  for (const { what, options, message } of cases) {
    it(`refuses ${what} with InvalidArgumentError, without touching the buffers`, () => {
      const opts = options();
      const before = opts.slots.map((s) => [s.key.slice(), s.value.slice()]);
      expect(() => new KvCacheManager(opts)).toThrow(InvalidArgumentError);
      expect(() => new KvCacheManager(opts)).toThrow(message);
      expect(opts.slots.map((s) => [s.key.slice(), s.value.slice()])).toEqual(before);
    });
  }

  it('accepts adjacent (non-overlapping) views of one buffer', () => {
    const region = new Uint8Array(2 * 4 * CL * 2);
    const cache = new KvCacheManager({
      contextLength: CL, ar: 1, mode: 'concat', clearValue: 128,
      slots: [{ heads: 2, headDim: 4, key: region.subarray(0, 2048), value: region.subarray(2048) }],
    });
    expect(cache.nValid).toBe(0);
    expect(region.every((x) => x === 128)).toBe(true);
  });
});
