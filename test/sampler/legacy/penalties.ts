import { InvalidArgumentError } from '../../../src/errors.js';
import type { TokenHistory } from '../../../src/sampler/token-history.js';

export interface PenaltyParams {
  readonly repetitionPenalty: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
}

/** True when the three penalties cannot change any logit, so the window need not be scanned. */
export function penaltiesAreNeutral(p: PenaltyParams): boolean {
  return p.repetitionPenalty === 1 && p.presencePenalty === 0 && p.frequencyPenalty === 0;
}

/**
 * Genie's token penalties (sampler-utils.hpp) on dequantized logits, in place, for each distinct token
 * among the last `window` tokens of `history`: `v <= 0 ? v * rp : v / rp`, then
 * `v -= count * fp + (count > 0) * pp`. `counts` is vocab-sized scratch, all zero on entry and on return.
 * Returns the new argmax (lowest index on ties) given `top`, the argmax before the penalties.
 * Every window token is checked against the vocabulary before anything is written.
 */
export function applyPenalties(
  values: Float32Array,
  top: number,
  history: TokenHistory,
  window: number,
  params: PenaltyParams,
  counts: Int32Array,
): number {
  const vocab = counts.length;
  for (let back = 0; back < window; back++) {
    const token = history.recent(back);
    if (token >= vocab) {
      throw new InvalidArgumentError(
        `history token ${token} (${back} before the newest) is outside the vocabulary [0, ${vocab})`,
      );
    }
  }
  for (let back = 0; back < window; back++) counts[history.recent(back)]++;

  const { repetitionPenalty: rp, presencePenalty: pp, frequencyPenalty: fp } = params;
  let topPenalized = false;
  let bestToken = -1;
  let bestValue = -Infinity;
  for (let back = 0; back < window; back++) {
    const token = history.recent(back);
    const count = counts[token];
    if (count === 0) continue;
    counts[token] = 0;
    const v = values[token];
    values[token] = (v <= 0 ? v * rp : v / rp) - (count * fp + pp);
    const penalized = values[token];
    if (token === top) topPenalized = true;
    if (penalized > bestValue || (penalized === bestValue && token < bestToken)) {
      bestValue = penalized;
      bestToken = token;
    }
  }

  if (topPenalized) return argmax(values, vocab);
  const topValue = values[top];
  return bestValue > topValue || (bestValue === topValue && bestToken < top) ? bestToken : top;
}

function argmax(values: Float32Array, n: number): number {
  let best = -Infinity;
  let top = 0;
  for (let i = 0; i < n; i++) {
    if (values[i] > best) {
      best = values[i];
      top = i;
    }
  }
  return top;
}
