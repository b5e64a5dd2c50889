import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import { codeRange, type DataTypeName, type ElementArray } from '../tensor/dtype.js';
import { float32ToFloat16 } from '../tensor/fp16.js';
import { checkInteger, checkStorable } from './checks.js';
import type { KvMode } from './kv-cache.js';

/** Stored values of an attention-mask element: `attend` lets the query see the key, `masked` hides it. */
export interface MaskValues {
  readonly attend: number;
  readonly masked: number;
}

export const DEFAULT_MASKED_VALUE = -1000;

/**
 * Mask element values for a mask tensor's dtype, as Genie writes them (docs/genie-behaviour.md#attention-mask-values):
 * - fixed point / integer: attend = max code, masked = min code (uint8/uint16: 255/65535 and 0);
 *   the exporter's encoding maps the max code to ~0.0 and 0 to its clip floor (AI Hub: -50);
 * - FLOAT_32: attend 0, masked `maskedValue`;
 * - FLOAT_16: attend 0 and masked fp16(`maskedValue`), both as uint16 bit patterns.
 * `maskedValue` is an additive bias: finite and negative (a padded row is fully masked, and an
 * all -Infinity row would turn softmax into NaN).
 */
export function maskValues(dtype: DataTypeName, maskedValue = DEFAULT_MASKED_VALUE): MaskValues {
  if (!Number.isFinite(maskedValue) || maskedValue >= 0) {
    throw new InvalidArgumentError(`maskedValue must be a finite negative number, got ${maskedValue}`);
  }
  switch (dtype) {
    case 'FLOAT_32':
      if (!Number.isFinite(Math.fround(maskedValue))) {
        throw new InvalidArgumentError(`maskedValue ${maskedValue} overflows float32`);
      }
      return { attend: 0, masked: maskedValue };
    case 'FLOAT_16':
      if (maskedValue < -65504) throw new InvalidArgumentError(`maskedValue ${maskedValue} overflows float16 (min -65504)`);
      return { attend: 0, masked: float32ToFloat16(maskedValue) };
    case 'BFLOAT_16':
      throw new NotSupportedError(`attention mask dtype ${dtype} is not supported (Genie writes u8/u16/u32, fp16 or fp32 masks)`);
    default: {
      const { min, max } = codeRange(dtype);
      return { attend: max, masked: min };
    }
  }
}

/** Everything `fillAttentionMask` needs. Keep one object per graph and update its fields per step. */
export interface AttentionMaskParams {
  /** The graph's AR (mask rows). */
  ar: number;
  /** The graph's CL (mask columns). */
  cl: number;
  /** Cached entries before this step. */
  nValid: number;
  /** Real (non-padded) rows this step; rows >= nNew are padding. */
  nNew: number;
  mode: KvMode;
  attendValue: number;
  maskedValue: number;
}

/**
 * Writes the `[AR, CL]` attention mask into `dst[0 .. AR*CL)` (elements past that are left alone, so
 * one buffer can serve every AR variant). Row i < nNew attends past columns [0, nValid) and the new
 * columns up to its own: concat `CL-AR .. CL-AR+i` (KV-out follows KV-in), scatter `nValid .. nValid+i`
 * (new entries are scattered at cache_index). Rows >= nNew are fully masked. Every element of the
 * mask is written exactly once, with range fills, so the result never depends on the previous step.
 */
export function fillAttentionMask(dst: ElementArray, params: AttentionMaskParams): void {
  const { ar, cl, nValid, nNew, mode, attendValue, maskedValue } = params;
  if (mode !== 'concat' && mode !== 'scatter') {
    throw new InvalidArgumentError(`mode must be "concat" or "scatter", got "${String(mode)}"`);
  }
  checkInteger('cl', cl, 1, 2 ** 24);
  checkInteger('ar', ar, 1, cl);
  checkInteger('nNew', nNew, 0, ar);
  if (mode === 'concat') checkInteger('nValid (concat: at most CL - AR)', nValid, 0, cl - ar);
  else checkInteger('nValid (scatter: at most CL - nNew)', nValid, 0, cl - nNew);
  if (dst.length < ar * cl) {
    throw new InvalidArgumentError(`dst has ${dst.length} elements, fewer than AR * CL = ${ar} * ${cl} = ${ar * cl}`);
  }
  checkStorable('attendValue', dst, attendValue);
  checkStorable('maskedValue', dst, maskedValue);

  // Columns a row attends besides the past: [newStart, newStart + i].
  const newStart = mode === 'concat' ? cl - ar : nValid;
  for (let i = 0, row = 0; i < nNew; i++, row += cl) {
    const ownEnd = row + newStart + i + 1;
    dst.fill(attendValue, row, row + nValid);
    dst.fill(maskedValue, row + nValid, row + newStart);
    dst.fill(attendValue, row + newStart, ownEnd);
    dst.fill(maskedValue, ownEnd, row + cl);
  }
  dst.fill(maskedValue, nNew * cl, ar * cl);
}

/**
 * Turns `dst`, which holds the mask `fillAttentionMask(dst, from)` wrote, into the one of `to`, when
 * `to` is `from`'s decode successor (the same mode, AR and CL, one new entry each, one more cached
 * entry, `to` valid): that flips one element, the column of the entry `from` added (concat) or of
 * `to`'s own new entry (scatter), from masked to attend. Returns false, writing nothing, for any
 * other pair: the caller then fills the whole mask. This is the per-token path: a decode step
 * writes one element instead of CL.
 */
export function advanceAttentionMask(dst: ElementArray, from: Readonly<AttentionMaskParams>, to: Readonly<AttentionMaskParams>): boolean {
  const { ar, cl, nValid, mode } = to;
  if (mode !== from.mode || ar !== from.ar || cl !== from.cl || to.nNew !== 1 || from.nNew !== 1 || nValid !== from.nValid + 1) return false;
  if (to.attendValue !== from.attendValue || to.maskedValue !== from.maskedValue) return false;
  // What fillAttentionMask accepts for `to` (it would throw on the rest).
  if (nValid > (mode === 'concat' ? cl - ar : cl - 1) || dst.length < ar * cl) return false;
  dst[mode === 'concat' ? from.nValid : nValid] = to.attendValue;
  return true;
}

