import { InvalidArgumentError } from '../errors.js';

/** One sampled token with its log-probability and the most likely tokens of its distribution. */
export interface TokenLogprob {
  readonly token: number;
  readonly logprob: number;
  /** Most likely first (lower id on ties). */
  readonly top: readonly { readonly token: number; readonly logprob: number }[];
}

/**
 * Where `Sampler.sample` reports the distribution it drew from (after the whole chain): the `n` most
 * likely tokens with their natural-log probabilities, and the chosen token's. Preallocated; each
 * sample overwrites it. A greedy draw is a point mass: the chosen token alone, log-probability 0.
 */
export class TopLogprobs {
  readonly tokens: Int32Array;
  readonly logprobs: Float64Array;
  /** Entries filled by the last sample: `min(n, tokens left after the chain)`. */
  count = 0;
  /** The chosen token and its log-probability (-Infinity if a stage selected a token outside the draw's set). */
  token = -1;
  logprob = 0;

  constructor(readonly n: number) {
    if (!Number.isSafeInteger(n) || n < 1 || n > 0x10000) {
      throw new InvalidArgumentError(`topLogprobs must be an integer in [1, 65536], got ${String(n)}`);
    }
    this.tokens = new Int32Array(n);
    this.logprobs = new Float64Array(n);
  }

  /** The last sample's report as plain objects (allocates: only for callers that asked for it). */
  entry(): TokenLogprob {
    const top: { token: number; logprob: number }[] = [];
    for (let i = 0; i < this.count; i++) top.push({ token: this.tokens[i], logprob: this.logprobs[i] });
    return { token: this.token, logprob: this.logprob, top };
  }
}
