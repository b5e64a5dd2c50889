/**
 * Genie's inference strategy (docs/genie-behaviour.md#inference-strategy; kvmanager.cpp `prepareInferenceStrategy`):
 * which variant runs which chunk of a query's tokens.
 */
import { InvalidArgumentError } from '../errors.js';
import { ContextLimitError } from './errors.js';
import type { ModelLayout, Variant } from './layout.js';

/** One graph-variant execution over a chunk of the query's tokens (right-padded to the variant's AR). */
export interface PlanStep {
  readonly variant: Variant;
  /** Absolute position of the chunk's first token. */
  readonly nPast: number;
  /** KV entries valid before the step. */
  readonly nValid: number;
  /** Tokens of this chunk (<= variant.ar; the remaining rows are padding). */
  readonly nProcess: number;
  /** Index of the chunk's first token in the query's tokens. */
  readonly start: number;
}

/**
 * Rules, per step:
 * 1. Start at the smallest CL >= nValid; prefer the smallest AR >= the query's token count, else the
 *    largest AR, and keep that AR for the whole query (Genie avoids switches: they cost up to 100 ms).
 * 2. A step must leave its new KV room in KV-in (`nValid + nProcess <= pastDim`, pastDim = CL - AR for
 *    concat models, CL for scatter); if the preferred AR does not fit, move to the next larger CL
 *    (Genie's mid-query CL bump), and only when no CL fits fall back to the ARs that do (smallest AR
 *    >= tokens left, else the largest).
 * 3. The query's last token must run on a variant whose last part outputs logits; if the chosen one
 *    is prefill-only, its chunk stops one token short and that token gets a step of its own.
 * Genie tests the bump with `AR` where this uses `nProcess`; they differ only on a final partial
 * chunk, which then stays on the smaller CL when it fits.
 */
export class ExecutionPlanner {
  readonly maxContextLength: number;
  /** Distinct CLs, ascending. */
  private readonly contextLengths: readonly number[];
  /** Per CL (same index), its variants by ascending AR. */
  private readonly byCl: readonly (readonly Variant[])[];
  /** CL index of the variant `choose` returned last (avoids allocating a result pair). */
  private chosenCl = 0;

  constructor(layout: Pick<ModelLayout, 'variants'>) {
    if (layout.variants.length === 0) throw new InvalidArgumentError('layout.variants must list at least one variant, got none');
    this.contextLengths = [...new Set(layout.variants.map((v) => v.cl))].sort((a, b) => a - b);
    this.byCl = this.contextLengths.map((cl) => layout.variants.filter((v) => v.cl === cl).sort((a, b) => a.ar - b.ar));
    this.maxContextLength = this.contextLengths[this.contextLengths.length - 1];
  }

  /**
   * Steps that process `nTokens` new tokens after `nValid` cached entries, the first at absolute
   * position `nPast` (equal to nValid unless entries were evicted).
   * @throws InvalidArgumentError for non-integer or out-of-range counts.
   * @throws ContextLimitError when the tokens do not fit any variant's KV cache.
   */
  plan(nValid: number, nTokens: number, nPast = nValid): PlanStep[] {
    checkCount('nValid', nValid, 0);
    checkCount('nTokens', nTokens, 1);
    checkCount('nPast', nPast, 0);
    this.checkContext(nValid, nTokens);
    const steps: PlanStep[] = [];
    let ci = this.firstClIndex(nValid);
    let ar: number | undefined = preferredAr(this.byCl[ci], nTokens);
    let valid = nValid;
    let start = 0;
    while (start < nTokens) {
      const remaining = nTokens - start;
      let variant = this.choose(ci, valid, remaining, false, ar);
      ci = this.chosenCl;
      ar = variant.ar;
      let n = Math.min(remaining, variant.ar);
      if (n === remaining && !variant.hasLogits) {
        if (n > 1) {
          steps.push({ variant, nPast: nPast + start, nValid: valid, nProcess: n - 1, start });
          valid += n - 1;
          start += n - 1;
        }
        variant = this.choose(ci, valid, 1, true, undefined);
        ci = this.chosenCl;
        n = 1;
      }
      steps.push({ variant, nPast: nPast + start, nValid: valid, nProcess: n, start });
      valid += n;
      start += n;
    }
    return steps;
  }

  /**
   * The variant that processes one generated token after `nValid` cached entries: the variant of
   * `plan(nValid, 1)`'s only step, without allocating.
   * @throws InvalidArgumentError / ContextLimitError as `plan` does.
   */
  decodeVariant(nValid: number): Variant {
    checkCount('nValid', nValid, 0);
    this.checkContext(nValid, 1);
    const ci = this.firstClIndex(nValid);
    const variant = this.choose(ci, nValid, 1, false, this.byCl[ci][0].ar);
    return variant.hasLogits ? variant : this.choose(this.chosenCl, nValid, 1, true, undefined);
  }

  /** `decodeVariant`, or undefined where it throws (no variant takes one more token after `nValid`). */
  decodeVariantIfAny(nValid: number): Variant | undefined {
    if (!Number.isSafeInteger(nValid) || nValid < 0 || nValid + 1 > this.maxContextLength) return undefined;
    const ci = this.firstClIndex(nValid);
    const variant = this.find(ci, nValid, 1, false, this.byCl[ci][0].ar);
    return variant === undefined || variant.hasLogits ? variant : this.find(this.chosenCl, nValid, 1, true, undefined);
  }

  private checkContext(nValid: number, nTokens: number): void {
    if (nValid + nTokens > this.maxContextLength) {
      throw new ContextLimitError(
        `nValid + nTokens = ${nValid} + ${nTokens} = ${nValid + nTokens} exceeds the largest context length ` +
          `in the binaries (CL ${this.maxContextLength})`,
      );
    }
  }

  private firstClIndex(nValid: number): number {
    let ci = 0;
    while (this.contextLengths[ci] < nValid) ci++;
    return ci;
  }

  /** The variant for the next step; sets `chosenCl`. */
  private choose(ci: number, valid: number, remaining: number, needLogits: boolean, ar: number | undefined): Variant {
    const variant = this.find(ci, valid, remaining, needLogits, ar);
    if (variant !== undefined) return variant;
    throw new ContextLimitError(
      `no variant can take ${remaining} more token(s) after ${valid} cached entries: the KV input of every ` +
        `${needLogits ? 'logits-producing ' : ''}variant is too small (largest CL ${this.maxContextLength}; a step needs ` +
        'nValid + nProcess <= CL - AR for concat models, <= CL for scatter models)',
    );
  }

  /** `choose`'s variant, or undefined when none fits. */
  private find(ci: number, valid: number, remaining: number, needLogits: boolean, ar: number | undefined): Variant | undefined {
    if (ar !== undefined) {
      for (let c = ci; c < this.byCl.length; c++) {
        const variants = this.byCl[c];
        for (let i = 0; i < variants.length; i++) {
          const v = variants[i];
          if (v.ar === ar && (v.hasLogits || !needLogits) && fits(v, valid, remaining)) {
            this.chosenCl = c;
            return v;
          }
        }
      }
    }
    for (let c = ci; c < this.byCl.length; c++) {
      const variants = this.byCl[c];
      let largest: Variant | undefined;
      for (let i = 0; i < variants.length; i++) {
        const v = variants[i];
        if ((needLogits && !v.hasLogits) || !fits(v, valid, remaining)) continue;
        largest = v;
        if (v.ar >= remaining) break;
      }
      if (largest !== undefined) {
        this.chosenCl = c;
        return largest;
      }
    }
    return undefined;
  }
}

/** The smallest AR >= tokens, else the largest (variants sorted by AR). */
function preferredAr(variants: readonly Variant[], tokens: number): number {
  for (const v of variants) if (v.ar >= tokens) return v.ar;
  return variants[variants.length - 1].ar;
}

function fits(v: Variant, valid: number, remaining: number): boolean {
  return valid + Math.min(remaining, v.ar) <= v.pastDim;
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}
