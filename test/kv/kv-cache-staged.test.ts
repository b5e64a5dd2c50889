/**
 * The staged KV update (beginUpdate / updateSlots / endUpdate / abortUpdate), the engine's split-by-
 * split commit: for any grouping of the slots it leaves the buffers byte-identical to one `update`
 * (oracle: a second manager on a copy of the same buffers); an abort leaves them byte-identical to
 * before the update began; and nothing else may change the cache while an update is staged.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { fillCacheIndex, KvCacheManager, type KvMode } from '../../src/kv/index.js';
import { makeBuffers, makeRng, randInt, snapshot, writeConcatOutputs, writeScatterOutputs, type Buffers, type Rng } from './kv-model.js';

const CL = 64;
const SHAPES = [{ heads: 2, headDim: 4 }, { heads: 1, headDim: 3 }, { heads: 2, headDim: 2 }, { heads: 1, headDim: 5 }];

function copyBuffers(buffers: readonly Buffers[]): Buffers[] {
  return buffers.map((b) => ({ ...b, key: b.key.slice(), value: b.value.slice() }));
}

function manager(buffers: Buffers[], mode: KvMode, ar: number): KvCacheManager {
  return new KvCacheManager({ contextLength: CL, ar, mode, clearValue: 128, slots: buffers });
}

/** Writes a step's outputs (KV-out for concat, scattered KV-in for scatter) into both buffer sets alike. */
function writeStep(a: Buffers[], b: Buffers[], mode: KvMode, ar: number, nValid: number, rng: Rng): void {
  if (mode === 'concat') {
    writeConcatOutputs(a, CL, ar, rng);
  } else {
    const index = new Int32Array(ar);
    fillCacheIndex(index, nValid, CL);
    writeScatterOutputs(a, CL, index, rng);
  }
  a.forEach((slot, s) => {
    b[s].key.set(slot.key);
    b[s].value.set(slot.value);
  });
}

describe('KvCacheManager staged update', () => {
  for (const mode of ['concat', 'scatter'] as const) {
    it(`${mode}: any split of the slots into groups equals one update; the count changes only at endUpdate`, () => {
      const rng = makeRng(`staged-${mode}`);
      const ar = 4;
      const staged = makeBuffers(Uint8Array, SHAPES, CL, rng);
      const whole = copyBuffers(staged);
      const a = manager(staged, mode, ar);
      const b = manager(whole, mode, ar);
      for (let step = 0; step < 12; step++) {
        const nValid = a.nValid;
        const nNew = randInt(rng, 1, ar);
        writeStep(staged, whole, mode, ar, nValid, rng);
        b.update(nValid, nNew);
        a.beginUpdate(nValid, nNew);
        // A random subset of the slots in random groups; endUpdate does the rest.
        const order = [0, 1, 2, 3].sort(() => rng() - 0.5).slice(0, randInt(rng, 0, 4));
        for (let i = 0; i < order.length; i += 2) {
          a.updateSlots(order.slice(i, i + 2));
          a.updateSlots(order.slice(i, i + 1)); // a slot committed twice is copied once
          expect(a.nValid).toBe(nValid);
          expect(a.updating).toBe(true);
        }
        a.endUpdate();
        expect(a.updating).toBe(false);
        expect(a.nValid).toBe(nValid + nNew);
        expect(snapshot(staged)).toEqual(snapshot(whole));
      }
    });

    it(`${mode}: abortUpdate after some slots restores every byte of KV-in as before beginUpdate`, () => {
      const rng = makeRng(`abort-${mode}`);
      const ar = 4;
      const buffers = makeBuffers(Uint8Array, SHAPES, CL, rng);
      const cache = manager(buffers, mode, ar);
      const scratch = copyBuffers(buffers);
      for (let i = 0; i < 3; i++) {
        writeStep(buffers, scratch, mode, ar, cache.nValid, rng);
        cache.update(cache.nValid, ar);
      }
      const nValid = cache.nValid;
      writeStep(buffers, scratch, mode, ar, nValid, rng);
      // KV-in (the first pastDim entries of every row) as the graphs left it, minus what they scattered: the state to come back to.
      const past = cache.pastDim;
      const kvIn = (): number[][] =>
        buffers.map(({ key, value, heads, headDim }) => {
          const out: number[] = [];
          for (let r = 0; r < heads * headDim; r++) for (let j = 0; j < past; j++) out.push(j < nValid ? key[r * past + j] : -1);
          for (let h = 0; h < heads; h++) for (let j = 0; j < past * headDim; j++) out.push(j < nValid * headDim ? value[h * past * headDim + j] : -1);
          return out;
        });
      const before = kvIn();
      cache.beginUpdate(nValid, 3);
      cache.updateSlots([2, 0]);
      cache.abortUpdate();
      expect(cache.updating).toBe(false);
      expect(cache.nValid).toBe(nValid);
      expect(kvIn()).toEqual(before);
      // The committed slots hold the clear value from nValid on again (the free slots' invariant).
      for (const s of [0, 2]) {
        const { key, heads, headDim } = buffers[s];
        for (let r = 0; r < heads * headDim; r++) {
          for (let j = nValid; j < (mode === 'scatter' ? nValid + ar : nValid + 3); j++) expect(key[r * past + j]).toBe(128);
        }
      }
      // And the cache works on: the same step again, committed at once.
      cache.update(nValid, 3);
      expect(cache.nValid).toBe(nValid + 3);
    });
  }

  it('refuses every other change while an update is staged, and staged calls without one', () => {
    const rng = makeRng('staged-guards');
    const buffers = makeBuffers(Uint8Array, SHAPES, CL, rng);
    const cache = manager(buffers, 'concat', 4);
    expect(() => cache.updateSlots([0])).toThrow(new InvalidArgumentError('updateSlots: no update was begun (beginUpdate)'));
    expect(() => cache.endUpdate()).toThrow(new InvalidArgumentError('endUpdate: no update was begun (beginUpdate)'));
    cache.abortUpdate(); // no-op
    cache.beginUpdate(0, 2);
    const message = (what: string) =>
      new InvalidArgumentError(`${what}: a staged update (beginUpdate) is not finished; call endUpdate or abortUpdate first`);
    expect(() => cache.update(0, 1)).toThrow(message('update'));
    expect(() => cache.beginUpdate(0, 1)).toThrow(message('beginUpdate'));
    expect(() => cache.setShape(CL, 8)).toThrow(message('setShape'));
    expect(() => cache.truncate(0)).toThrow(message('truncate'));
    expect(() => cache.evict([])).toThrow(message('evict'));
    expect(() => cache.readEntries(0)).toThrow(message('readEntries'));
    expect(() => cache.updateSlots([4])).toThrow(new InvalidArgumentError('slots[0] must be an integer in [0, 3], got 4'));
    cache.endUpdate();
    expect(cache.nValid).toBe(2);
    cache.beginUpdate(2, 1);
    cache.clear(); // drops the staged update with everything else
    expect(cache.updating).toBe(false);
    expect(cache.nValid).toBe(0);
    expect(() => cache.beginUpdate(0, 5)).toThrow(InvalidArgumentError);
    expect(cache.updating).toBe(false);
  });
});
