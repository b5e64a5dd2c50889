import { describe, it, expect } from 'vitest';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import { advanceAttentionMask, DEFAULT_MASKED_VALUE, fillAttentionMask, maskValues, type AttentionMaskParams, type KvMode } from '../../src/kv/index.js';
import type { ElementArray } from '../../src/tensor/dtype.js';
import { float16ToFloat32 } from '../../src/tensor/fp16.js';
import { makeRng, randInt } from './kv-model.js';

/** The SMART_MASK rule, cell by cell (docs/genie-behaviour.md#kv-cache-smart-mask). */
function attends(mode: KvMode, ar: number, cl: number, nValid: number, nNew: number, i: number, j: number): boolean {
  if (i >= nNew) return false;
  if (j < nValid) return true;
  const ownColumn = mode === 'concat' ? cl - ar + i : nValid + i;
  const firstNew = mode === 'concat' ? cl - ar : nValid;
  return j >= firstNew && j <= ownColumn;
}

/** Checks the AR*CL mask cells against the rule and that every later element still equals `before`. */
function expectMask(dst: ElementArray, p: AttentionMaskParams, before: (k: number) => number): void {
  for (let i = 0; i < p.ar; i++) {
    for (let j = 0; j < p.cl; j++) {
      const want = attends(p.mode, p.ar, p.cl, p.nValid, p.nNew, i, j) ? p.attendValue : p.maskedValue;
      const got = dst[i * p.cl + j];
      if (got !== want) throw new Error(`mask[${i}][${j}] = ${got}, expected ${want} for ${JSON.stringify(p)}`);
    }
  }
  for (let k = p.ar * p.cl; k < dst.length; k++) {
    if (dst[k] !== before(k)) throw new Error(`element ${k} past AR*CL was written`);
  }
}

describe('maskValues', () => {
  it('quantized masks attend with the max code and mask with 0 (unsigned) / the min code (signed)', () => {
    expect(maskValues('UFIXED_POINT_16')).toEqual({ attend: 2 ** 16 - 1, masked: 0 });
    expect(maskValues('UFIXED_POINT_8')).toEqual({ attend: 2 ** 8 - 1, masked: 0 });
    expect(maskValues('UINT_16')).toEqual({ attend: 2 ** 16 - 1, masked: 0 });
    expect(maskValues('UFIXED_POINT_32')).toEqual({ attend: 2 ** 32 - 1, masked: 0 });
    expect(maskValues('SFIXED_POINT_16')).toEqual({ attend: 2 ** 15 - 1, masked: -(2 ** 15) });
  });

  it('float32 masks are additive: 0 and the masked value (default -1000)', () => {
    expect(DEFAULT_MASKED_VALUE).toBe(-1000);
    expect(maskValues('FLOAT_32')).toEqual({ attend: 0, masked: -1000 });
    expect(maskValues('FLOAT_32', -50)).toEqual({ attend: 0, masked: -50 });
  });

  it('float16 masks are bit patterns that decode to 0 and the masked value', () => {
    const { attend, masked } = maskValues('FLOAT_16');
    expect(float16ToFloat32(attend)).toBe(0);
    expect(Object.is(float16ToFloat32(attend), 0)).toBe(true);
    expect(float16ToFloat32(masked)).toBe(-1000);
    expect(float16ToFloat32(maskValues('FLOAT_16', -65504).masked)).toBe(-65504);
  });

  it('rejects unusable masked values and dtypes with typed errors', () => {
    expect(() => maskValues('FLOAT_32', 0)).toThrow(InvalidArgumentError);
    expect(() => maskValues('FLOAT_32', 0)).toThrow(/^maskedValue must be a finite negative number, got 0$/);
    expect(() => maskValues('FLOAT_32', -Infinity)).toThrow(/^maskedValue must be a finite negative number, got -Infinity$/);
    expect(() => maskValues('FLOAT_32', Number.NaN)).toThrow(/got NaN$/);
    expect(() => maskValues('FLOAT_32', -1e39)).toThrow(/^maskedValue -1e\+39 overflows float32$/);
    expect(() => maskValues('FLOAT_16', -70000)).toThrow(InvalidArgumentError);
    expect(() => maskValues('FLOAT_16', -70000)).toThrow(/^maskedValue -70000 overflows float16 \(min -65504\)$/);
    expect(() => maskValues('BFLOAT_16')).toThrow(NotSupportedError);
    expect(() => maskValues('BFLOAT_16')).toThrow(/attention mask dtype BFLOAT_16 is not supported/);
  });
});

function sameElements(a: Uint16Array, b: Uint16Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('fillAttentionMask against the cell-by-cell rule', () => {
  const kinds: { name: string; make: (n: number) => ElementArray; values: { attend: number; masked: number }; sentinel: number }[] = [
    { name: 'uint16', make: (n) => new Uint16Array(n), values: maskValues('UFIXED_POINT_16'), sentinel: 12345 },
    { name: 'uint8', make: (n) => new Uint8Array(n), values: maskValues('UFIXED_POINT_8'), sentinel: 77 },
    { name: 'float16 bits', make: (n) => new Uint16Array(n), values: maskValues('FLOAT_16'), sentinel: 999 },
    { name: 'float32', make: (n) => new Float32Array(n), values: maskValues('FLOAT_32'), sentinel: 3.5 },
  ];

  for (const { name, make, values, sentinel } of kinds) {
    for (const mode of ['concat', 'scatter'] as const) {
      it(`${mode}, ${name}: random (AR, CL, nValid, nNew), the buffer reused across steps`, () => {
        const rng = makeRng(`mask-${mode}-${name}`);
        // One buffer for every variant (sized for the largest AR), as the engine shares it.
        const dst = make(64 * 160 + 5);
        // Leftovers of earlier steps: a pattern of both mask values and a third value.
        const garbage = (k: number) => [values.attend, values.masked, sentinel][k % 3];
        const p: AttentionMaskParams = { ar: 1, cl: 1, nValid: 0, nNew: 0, mode, attendValue: values.attend, maskedValue: values.masked };
        for (let step = 0; step < 150; step++) {
          p.cl = [16, 96, 160][randInt(rng, 0, 2)];
          p.ar = Math.min([1, 4, 32, 64][randInt(rng, 0, 3)], mode === 'concat' ? p.cl - 1 : p.cl);
          p.nNew = randInt(rng, 0, p.ar);
          const maxValid = mode === 'concat' ? p.cl - p.ar : p.cl - p.nNew;
          // Hit the edges (empty past, past exactly full) as often as the middle.
          const edge = rng();
          p.nValid = edge < 0.2 ? 0 : edge < 0.4 ? maxValid : randInt(rng, 0, maxValid);
          for (let k = 0; k < dst.length; k++) dst[k] = garbage(k);
          fillAttentionMask(dst, p);
          expectMask(dst, p, garbage);
        }
      });
    }
  }

  for (const mode of ['concat', 'scatter'] as const) {
    it(`${mode}: advanceAttentionMask turns a written mask into its decode successor's, and refuses anything else untouched`, () => {
      const rng = makeRng(`advance-${mode}`);
      const values = maskValues('UFIXED_POINT_16');
      const dst = new Uint16Array(64 * 160);
      const oracle = new Uint16Array(dst.length);
      const written: AttentionMaskParams = { ar: 1, cl: 16, nValid: 0, nNew: 1, mode, attendValue: values.attend, maskedValue: values.masked };
      fillAttentionMask(dst, written);
      let advanced = 0;
      for (let step = 0; step < 400; step++) {
        const next = { ...written };
        if (rng() < 0.8) {
          next.nValid++; // a decode step (sometimes past what the graph holds: refused, then the fill throws)
        } else {
          next.cl = [16, 96, 160][randInt(rng, 0, 2)];
          next.ar = Math.min([1, 4, 64][randInt(rng, 0, 2)], mode === 'concat' ? next.cl - 1 : next.cl);
          next.nNew = rng() < 0.7 ? 1 : randInt(rng, 0, next.ar);
          next.nValid = randInt(rng, 0, mode === 'concat' ? next.cl - next.ar : next.cl - next.nNew);
        }
        const before = dst.slice();
        if (advanceAttentionMask(dst, written, next)) {
          advanced++;
        } else {
          expect(sameElements(dst, before), 'refused: nothing written').toBe(true);
          try {
            fillAttentionMask(dst, next);
          } catch {
            // Not a valid step (the past is full): start again from an empty cache.
            next.nValid = 0;
            fillAttentionMask(dst, next);
          }
        }
        oracle.fill(7);
        fillAttentionMask(oracle, next);
        expect(sameElements(dst.subarray(0, next.ar * next.cl), oracle.subarray(0, next.ar * next.cl)), `step ${step}`).toBe(true);
        Object.assign(written, next);
      }
      expect(advanced).toBeGreaterThan(200);
    });
  }

  it('concat with a full past merges the two spans into a causal block', () => {
    const cl = 8;
    const ar = 3;
    const dst = new Uint16Array(ar * cl);
    fillAttentionMask(dst, { ar, cl, nValid: cl - ar, nNew: 2, mode: 'concat', attendValue: 65535, maskedValue: 0 });
    const rows = Array.from({ length: ar }, (_, i) => Array.from(dst.subarray(i * cl, (i + 1) * cl), (x) => (x ? 1 : 0)).join(''));
    // Written from the rule by hand: row 0 sees 5 past + itself, row 1 one more, row 2 is padding.
    expect(rows).toEqual(['11111100', '11111110', '00000000']);
  });

  describe('bad input', () => {
    const base = (): AttentionMaskParams => ({ ar: 4, cl: 16, nValid: 3, nNew: 2, mode: 'concat', attendValue: 65535, maskedValue: 0 });
    const cases: { what: string; change: Partial<AttentionMaskParams>; length?: number; message: RegExp }[] = [
      { what: 'nNew > AR', change: { nNew: 5 }, message: /^nNew must be an integer in \[0, 4\], got 5$/ },
      { what: 'concat nValid > CL - AR', change: { nValid: 13 }, message: /^nValid \(concat: at most CL - AR\) must be an integer in \[0, 12\], got 13$/ },
      { what: 'scatter nValid + nNew > CL', change: { mode: 'scatter', nValid: 15 }, message: /^nValid \(scatter: at most CL - nNew\) must be an integer in \[0, 14\], got 15$/ },
      { what: 'AR > CL', change: { ar: 17 }, message: /^ar must be an integer in \[1, 16\], got 17$/ },
      { what: 'fractional CL', change: { cl: 15.5 }, message: /^cl must be an integer in \[1, 16777216\], got 15.5$/ },
      { what: 'an unknown mode', change: { mode: 'smart' as KvMode }, message: /^mode must be "concat" or "scatter", got "smart"$/ },
      { what: 'a short buffer', change: {}, length: 63, message: /^dst has 63 elements, fewer than AR \* CL = 4 \* 16 = 64$/ },
      { what: 'an attend value the buffer cannot hold', change: { attendValue: 65536 }, message: /^attendValue 65536 cannot be stored in a Uint16Array$/ },
      { what: 'a fractional masked value', change: { maskedValue: -0.5 }, message: /^maskedValue -0.5 cannot be stored in a Uint16Array$/ },
    ];
    for (const { what, change, length, message } of cases) {
      it(`${what}: InvalidArgumentError, dst untouched`, () => {
        const dst = new Uint16Array(length ?? 64).fill(4321);
        const p = { ...base(), ...change };
        expect(() => fillAttentionMask(dst, p)).toThrow(InvalidArgumentError);
        expect(() => fillAttentionMask(dst, p)).toThrow(message);
        expect(dst.every((x) => x === 4321)).toBe(true);
        // The same buffer still takes a valid mask.
        if (dst.length >= 64) {
          fillAttentionMask(dst, base());
          expectMask(dst, base(), () => 4321);
        }
      });
    }
  });
});
