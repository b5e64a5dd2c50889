import { describe, it, expect } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { fillCacheIndex, KvCacheManager, type KvMode } from '../../src/kv/index.js';
import type { ElementArray } from '../../src/tensor/dtype.js';
import {
  DenseKv, diffBeyondKvIn, diffKvIn, makeBuffers, makeRng, randInt, snapshot, writeConcatOutputs, writeScatterOutputs,
  type Buffers, type Rng, type SlotShape,
} from './kv-model.js';

/**
 * A cache sized for the largest CL and switched among several (CL, AR) variants, as a multi-CL
 * bundle needs (docs/genie-behaviour.md#inference-strategy,
 * docs/genie-behaviour.md#kv-cache-smart-mask), checked against the dense model after every
 * operation.
 */
const CLS = [64, 128, 256];
const ARS = [1, 16, 32];
const MAX_CL = 256;
const SHAPES: SlotShape[] = [{ heads: 2, headDim: 4 }, { heads: 1, headDim: 3 }, { heads: 1, headDim: 3 }];

type Ctor = new (n: number) => ElementArray;
const DTYPES: { name: string; ctor: Ctor; clear: number }[] = [
  { name: 'uint8 (clear 128)', ctor: Uint8Array, clear: 128 },
  { name: 'uint16 (clear 32768)', ctor: Uint16Array, clear: 32768 },
  { name: 'float32 (clear 0)', ctor: Float32Array, clear: 0 },
  { name: 'int8 (clear 0)', ctor: Int8Array, clear: 0 },
];

const pastOf = (mode: KvMode, cl: number, ar: number): number => (mode === 'concat' ? cl - ar : cl);

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[randInt(rng, 0, list.length - 1)];
}

function setup(ctor: Ctor, clear: number, mode: KvMode, cl: number, ar: number, rng: Rng, shapes = SHAPES) {
  const buffers = makeBuffers(ctor, shapes, MAX_CL, rng);
  const cache = new KvCacheManager({ contextLength: cl, maxContextLength: MAX_CL, ar, mode, clearValue: clear, slots: buffers });
  return { buffers, cache, model: new DenseKv(shapes) };
}

/**
 * The full invariant: nValid, the active shape, KV-in = the model's entries then clear slots, and
 * everything after the active `[in | out]` layout still clear (no graph writes there).
 */
function expectState(buffers: Buffers[], model: DenseKv, cache: KvCacheManager, mode: KvMode, cl: number, ar: number, clear: number) {
  expect(cache.nValid).toBe(model.nValid);
  expect(cache.contextLength).toBe(cl);
  expect(cache.ar).toBe(ar);
  expect(cache.pastDim).toBe(pastOf(mode, cl, ar));
  expect(diffKvIn(buffers, model, pastOf(mode, cl, ar), clear)).toBeNull();
  expect(diffBeyondKvIn(buffers, cl, clear)).toBeNull();
}

/** A random session over every (CL, AR) pair; returns how often each interesting path was taken. */
function runSession(mode: KvMode, ctor: Ctor, clear: number, seed: string, ops: number, shapes = SHAPES) {
  const rng = makeRng(seed);
  let cl = pick(rng, CLS);
  let ar = pick(rng, ARS);
  const { buffers, cache, model } = setup(ctor, clear, mode, cl, ar, rng, shapes);
  const seen = { clGrow: 0, clShrink: 0, arOnly: 0, refused: 0, updates: 0, maxValid: 0 };
  expectState(buffers, model, cache, mode, cl, ar, clear);
  expect(diffBeyondKvIn(buffers, 0, clear)).toBeNull();
  for (let op = 0; op < ops; op++) {
    const r = rng();
    if (r < 0.5) {
      const past = pastOf(mode, cl, ar);
      const nValid = rng() < 0.15 ? randInt(rng, 0, model.nValid) : model.nValid;
      if (mode === 'concat') {
        const nNew = randInt(rng, 0, Math.min(ar, past - nValid));
        const srcOffset = randInt(rng, 0, ar - nNew);
        const { kOut, vOut } = writeConcatOutputs(buffers, cl, ar, rng);
        cache.update(nValid, nNew, srcOffset);
        model.truncate(nValid);
        model.append(kOut, vOut, srcOffset, nNew);
      } else {
        if (nValid + ar > cl) continue; // the planner never runs a variant whose cache_index leaves KV-in
        const nNew = randInt(rng, 0, ar);
        const cacheIndex = new Int32Array(ar);
        fillCacheIndex(cacheIndex, nValid, cl);
        const { kOut, vOut } = writeScatterOutputs(buffers, cl, cacheIndex, rng);
        cache.update(nValid, nNew);
        model.truncate(nValid);
        model.append(kOut, vOut, 0, nNew);
      }
      seen.updates++;
    } else if (r < 0.8) {
      // Mostly CL and AR together; sometimes the same-CL setVariant.
      const sameCl = rng() < 0.2;
      const nextCl = sameCl ? cl : pick(rng, CLS);
      const nextAr = pick(rng, ARS);
      const nextPast = pastOf(mode, nextCl, nextAr);
      const switchTo = () => (sameCl ? cache.setVariant(nextAr) : cache.setShape(nextCl, nextAr));
      if (model.nValid > nextPast) {
        const before = snapshot(buffers);
        expect(switchTo).toThrow(InvalidArgumentError);
        expect(switchTo).toThrow(new RegExp(`^cl ${nextCl}, ar ${nextAr} cannot hold the cache: nValid ${model.nValid} > `));
        expect(snapshot(buffers)).toEqual(before);
        seen.refused++;
      } else {
        switchTo();
        if (model.nValid > 0) {
          if (nextCl > cl) seen.clGrow++;
          if (nextCl < cl) seen.clShrink++;
          if (nextCl === cl && nextAr !== ar) seen.arOnly++;
        }
        // A switch leaves the new KV-out and everything after it clear (switching to the active
        // shape is a no-op: KV-out keeps the last graph outputs).
        if (nextCl !== cl || nextAr !== ar) expect(diffBeyondKvIn(buffers, nextPast, clear)).toBeNull();
        cl = nextCl;
        ar = nextAr;
      }
    } else if (r < 0.97) {
      // Mostly short rewinds so the cache also gets near full at CL 256.
      const n = rng() < 0.8 ? model.nValid - randInt(rng, 0, Math.min(model.nValid, 24)) : randInt(rng, 0, model.nValid);
      cache.truncate(n);
      model.truncate(n);
    } else {
      cache.clear();
      model.truncate(0);
      expect(diffBeyondKvIn(buffers, 0, clear)).toBeNull();
    }
    expectState(buffers, model, cache, mode, cl, ar, clear);
    seen.maxValid = Math.max(seen.maxValid, model.nValid);
  }
  return seen;
}

describe('KvCacheManager across CLs {64, 128, 256} and ARs {1, 16, 32} against a dense model', () => {
  for (const mode of ['concat', 'scatter'] as const) {
    for (const { name, ctor, clear } of DTYPES) {
      it(`${mode}, ${name}: random update / setShape / setVariant / truncate / clear sequences`, () => {
        const seen = runSession(mode, ctor, clear, `multi-cl-${mode}-${name}`, 600);
        // The session must actually exercise every kind of switch with live entries.
        expect(seen.clGrow).toBeGreaterThan(10);
        expect(seen.clShrink).toBeGreaterThan(10);
        expect(seen.arOnly).toBeGreaterThan(3);
        expect(seen.refused).toBeGreaterThan(3);
        expect(seen.updates).toBeGreaterThan(200);
        expect(seen.maxValid).toBeGreaterThan(100);
      });
    }
  }

  it('works with head_dim 64 layer tensors (the Qwen2 shape)', () => {
    const seen = runSession('concat', Uint8Array, 128, 'multi-cl-hd64', 150, [{ heads: 2, headDim: 64 }, { heads: 2, headDim: 64 }]);
    expect(seen.clGrow + seen.clShrink).toBeGreaterThan(5);
  });

  it('a switch that keeps the past dim (CL 64 / AR 16 -> CL 80 / AR 32) moves nothing and clears the rest', () => {
    const rng = makeRng('same-past');
    const { buffers, cache, model } = setup(Float32Array, 0, 'concat', 64, 16, rng);
    const { kOut, vOut } = writeConcatOutputs(buffers, 64, 16, rng);
    cache.update(0, 16);
    model.append(kOut, vOut, 0, 16);
    writeConcatOutputs(buffers, 64, 16, rng); // fresh KV-out the switch must clear
    cache.setShape(80, 32);
    expectState(buffers, model, cache, 'concat', 80, 32, 0);
    expect(diffBeyondKvIn(buffers, 48, 0)).toBeNull();
  });

  it('setVariant is setShape at the current CL', () => {
    const rng = makeRng('same-cl');
    const { buffers, cache, model } = setup(Uint8Array, 128, 'concat', 128, 32, rng);
    const { kOut, vOut } = writeConcatOutputs(buffers, 128, 32, rng);
    cache.update(0, 30);
    model.append(kOut, vOut, 0, 30);
    cache.setVariant(1);
    expectState(buffers, model, cache, 'concat', 128, 1, 128);
    cache.setShape(128, 16);
    expectState(buffers, model, cache, 'concat', 128, 16, 128);
  });

  it('a single-CL cache defaults maxContextLength to its CL and refuses any larger CL', () => {
    const rng = makeRng('single');
    const buffers = makeBuffers(Uint8Array, SHAPES, 128, rng);
    const cache = new KvCacheManager({ contextLength: 128, ar: 16, mode: 'concat', clearValue: 128, slots: buffers });
    expect(cache.maxContextLength).toBe(128);
    expect(cache.contextLength).toBe(128);
    expect(() => cache.setShape(256, 16)).toThrow(InvalidArgumentError);
    expect(() => cache.setShape(256, 16)).toThrow(/^cl must be an integer in \[2, 128\], got 256$/);
    cache.setShape(64, 1);
    expect(cache.pastDim).toBe(63);
  });
});

describe('KvCacheManager.setShape rejects bad input before changing anything', () => {
  /** A concat cache at CL 256 / AR 1 holding 60 entries, or a scatter one holding 100. */
  function session(mode: KvMode) {
    const rng = makeRng(`bad-shape-${mode}`);
    const { buffers, cache, model } = setup(Uint16Array, 32768, mode, 256, 1, rng);
    const n = mode === 'concat' ? 60 : 100;
    for (let i = 0; i < n; i++) {
      if (mode === 'concat') {
        const { kOut, vOut } = writeConcatOutputs(buffers, 256, 1, rng);
        model.append(kOut, vOut, 0, 1);
      } else {
        const { kOut, vOut } = writeScatterOutputs(buffers, 256, Int32Array.of(i), rng);
        model.append(kOut, vOut, 0, 1);
      }
      cache.update(i, 1);
    }
    return { rng, buffers, cache, model };
  }

  const cases: { mode: KvMode; call: string; run: (c: KvCacheManager) => void; message: RegExp }[] = [
    { mode: 'concat', call: 'a CL above maxContextLength', run: (c) => c.setShape(257, 1), message: /^cl must be an integer in \[2, 256\], got 257$/ },
    { mode: 'concat', call: 'CL 1 (no room for a past)', run: (c) => c.setShape(1, 1), message: /^cl must be an integer in \[2, 256\], got 1$/ },
    { mode: 'concat', call: 'a fractional CL', run: (c) => c.setShape(64.5, 1), message: /^cl must be an integer in \[2, 256\], got 64.5$/ },
    { mode: 'concat', call: 'AR == CL', run: (c) => c.setShape(128, 128), message: /^ar must be an integer in \[1, 127\], got 128$/ },
    { mode: 'concat', call: 'AR NaN', run: (c) => c.setShape(128, Number.NaN), message: /^ar must be an integer in \[1, 127\], got NaN$/ },
    { mode: 'concat', call: 'a smaller CL whose past cannot hold the cache', run: (c) => c.setShape(64, 16), message: /^cl 64, ar 16 cannot hold the cache: nValid 60 > CL - AR = 64 - 16 = 48$/ },
    { mode: 'scatter', call: 'CL 0', run: (c) => c.setShape(0, 1), message: /^cl must be an integer in \[1, 256\], got 0$/ },
    { mode: 'scatter', call: 'AR above the CL', run: (c) => c.setShape(64, 65), message: /^ar must be an integer in \[1, 64\], got 65$/ },
    { mode: 'scatter', call: 'a smaller CL that cannot hold the cache', run: (c) => c.setShape(64, 1), message: /^cl 64, ar 1 cannot hold the cache: nValid 100 > CL = 64$/ },
  ];

  for (const { mode, call, run, message } of cases) {
    it(`${mode}, ${call}: InvalidArgumentError naming the value, state unchanged, still usable`, () => {
      const { rng, buffers, cache, model } = session(mode);
      const before = snapshot(buffers);
      let caught: unknown;
      try {
        run(cache);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as Error).message).toMatch(message);
      expect(snapshot(buffers)).toEqual(before);
      expectState(buffers, model, cache, mode, 256, 1, 32768);
      // Still usable: a legal switch down to CL 128 and one more step there.
      cache.setShape(128, 16);
      const n = model.nValid;
      if (mode === 'concat') {
        const { kOut, vOut } = writeConcatOutputs(buffers, 128, 16, rng);
        cache.update(n, 4, 2);
        model.append(kOut, vOut, 2, 4);
      } else {
        const cacheIndex = new Int32Array(16);
        fillCacheIndex(cacheIndex, n, 128);
        const { kOut, vOut } = writeScatterOutputs(buffers, 128, cacheIndex, rng);
        cache.update(n, 4);
        model.append(kOut, vOut, 0, 4);
      }
      expectState(buffers, model, cache, mode, 128, 16, 32768);
    });
  }
});

describe('KvCacheManager constructor with maxContextLength', () => {
  const slot = (cl: number) => ({ key: new Uint8Array(2 * 4 * cl).fill(7), value: new Uint8Array(2 * 4 * cl).fill(7), heads: 2, headDim: 4 });

  it('sizes the slots for maxContextLength, starts at contextLength and clears the whole region', () => {
    const s = slot(256);
    const cache = new KvCacheManager({ contextLength: 64, maxContextLength: 256, ar: 16, mode: 'concat', clearValue: 128, slots: [s] });
    expect(cache.contextLength).toBe(64);
    expect(cache.maxContextLength).toBe(256);
    expect(cache.pastDim).toBe(48);
    expect(s.key.every((x) => x === 128) && s.value.every((x) => x === 128)).toBe(true);
  });

  const cases: { what: string; options: () => ConstructorParameters<typeof KvCacheManager>[0]; message: RegExp }[] = [
    { what: 'a maxContextLength below contextLength', options: () => ({ contextLength: 128, maxContextLength: 64, ar: 1, mode: 'concat', clearValue: 128, slots: [slot(128)] }),
      message: /^maxContextLength must be an integer in \[128, 16777216\], got 64$/ },
    { what: 'a fractional maxContextLength', options: () => ({ contextLength: 64, maxContextLength: 200.5, ar: 1, mode: 'concat', clearValue: 128, slots: [slot(256)] }),
      message: /^maxContextLength must be an integer in \[64, 16777216\], got 200.5$/ },
    { what: 'slots sized for contextLength instead of maxContextLength', options: () => ({ contextLength: 64, maxContextLength: 256, ar: 1, mode: 'concat', clearValue: 128, slots: [slot(64)] }),
      message: /^slots\[0\]\.key has 512 elements, expected heads \* headDim \* maxContextLength = 2 \* 4 \* 256 = 2048$/ },
  ];

  for (const { what, options, message } of cases) {
    it(`refuses ${what} with InvalidArgumentError, without touching the buffers`, () => {
      const opts = options();
      expect(() => new KvCacheManager(opts)).toThrow(InvalidArgumentError);
      expect(() => new KvCacheManager(opts)).toThrow(message);
      expect(opts.slots.every((s) => s.key.every((x) => x === 7) && s.value.every((x) => x === 7))).toBe(true);
    });
  }
});
