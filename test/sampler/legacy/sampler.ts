/**
 * The sampler as it was before it was built from stages (frozen at commit f36873a, its custom-callback
 * path left out): the oracle that the default chain still draws the same tokens. It uses today's
 * SurvivorSet (whose partition and draw did not change) through the old calls.
 */
import { InvalidArgumentError } from '../../../src/errors.js';
import type { LogitsView } from '../../../src/sampler/logits-view.js';
import type { SamplerParams } from '../../../src/sampler/params.js';
import { applyPenalties, penaltiesAreNeutral } from '../../../src/sampler/penalties.js';
import { resolveInitialParams, resolveUpdate, type SamplerUpdate } from '../../../src/sampler/resolve-params.js';
import { SeededRng, type RngState } from '../../../src/sampler/rng.js';
import { SurvivorSet } from '../../../src/sampler/survivors.js';
import type { TokenHistory } from '../../../src/sampler/token-history.js';

/**
 * Genie's basic sampler (docs/genie-behaviour.md#sampler-chain): penalties -> top-k -> top-p ->
 * (min-p, an extension) -> softmax(temp) -> one seeded uniform draw. Greedy
 * (`temp <= 0 || topK == 1`) is the argmax of the raw codes, or of the penalised values when
 * penalties are active. Scratch is allocated once per vocabulary; the engine's logits buffer is
 * only read.
 */
export class Sampler {
  readonly vocabSize: number;
  private current: SamplerParams;
  private readonly rng: SeededRng;
  /** Dequantized (then penalised) logits of the row being sampled; also the custom callback's buffer. */
  private readonly values: Float32Array;
  private readonly counts: Int32Array;
  private readonly survivors: SurvivorSet;

  constructor(params: SamplerParams, vocabSize: number) {
    if (!Number.isSafeInteger(vocabSize) || vocabSize < 1 || vocabSize > 0x7fffffff) {
      throw new InvalidArgumentError(`vocabSize must be a positive integer below 2^31, got ${String(vocabSize)}`);
    }
    const resolved = resolveInitialParams(params);
    this.vocabSize = vocabSize;
    this.current = resolved.params;
    this.rng = new SeededRng(resolved.params.seed);
    this.values = new Float32Array(vocabSize);
    this.counts = new Int32Array(vocabSize);
    this.survivors = new SurvivorSet(vocabSize);
  }

  /** The parameters in force, `greedy` derived. */
  get params(): SamplerParams {
    return this.current;
  }

  /**
   * Live reconfiguration (Genie's setParam + applyConfig). The merged parameters are validated first;
   * an invalid update changes nothing. A `seed` key, even an unchanged one, restarts the random sequence.
   */
  configure(update: SamplerUpdate): void {
    const resolved = resolveUpdate(this.current, update);
    this.current = resolved.params;
    if (Object.prototype.hasOwnProperty.call(update, 'seed')) this.rng.reseed(resolved.params.seed);
  }

  reseed(seed: number): void {
    this.configure({ seed });
  }

  /** The RNG state (a copy), for a dialog's save/restore. */
  getState(): RngState {
    return this.rng.getState();
  }

  setState(state: RngState): void {
    this.rng.setState(state);
  }

  /**
   * Picks the next token from the current row of `view`. `history` (prompt included) feeds the penalty
   * window; without it penalties do not apply. Only a basic, non-greedy draw consumes a uniform. A
   * custom sampler gets the plain dequantized row: no penalties, its callback owns the whole policy.
   */
  sample(view: LogitsView, history?: TokenHistory): number {
    this.checkView(view);
    const p = this.current;
    if (p.type === 'custom') throw new Error('the frozen copy compares the basic chain only');
    const window = this.penaltyWindow(history);
    if (p.greedy) return window === 0 ? view.argmax() : this.prepareValues(view, history, window);
    const top = this.filter(view, history, window);
    this.survivors.temperature = p.temp;
    return this.survivors.draw(this.values, top, this.rng);
  }

  /**
   * Inspection: writes the tokens that survive penalties, top-k, top-p and min-p into `out` in sampling
   * order (most likely first) and returns how many. Greedy keeps one token. Consumes no randomness.
   * Sorts the survivors and allocates; meant for debugging and tests, not the per-token path.
   */
  survivorsInto(view: LogitsView, out: Int32Array, history?: TokenHistory): number {
    this.checkView(view);
    const p = this.current;
    if (p.type === 'custom') {
      throw new InvalidArgumentError('survivorsInto does not apply to a custom sampler (its callback decides)');
    }
    if (out.length < this.vocabSize) {
      throw new InvalidArgumentError(`survivorsInto out has length ${out.length}, needs at least vocabSize ${this.vocabSize}`);
    }
    const window = this.penaltyWindow(history);
    if (p.greedy) {
      out[0] = this.prepareValues(view, history, window);
      return 1;
    }
    this.filter(view, history, window);
    return this.survivors.sortedInto(this.values, out);
  }

  private checkView(view: LogitsView): void {
    if (view.vocab !== this.vocabSize) {
      throw new InvalidArgumentError(`logits view vocab ${view.vocab} does not match the sampler's vocabSize ${this.vocabSize}`);
    }
  }

  /** Number of recent tokens to penalise; 0 when penalties are off, neutral, or there is no history. */
  private penaltyWindow(history: TokenHistory | undefined): number {
    const p = this.current;
    if (history === undefined || p.penalizeLastN === 0 || penaltiesAreNeutral(p)) return 0;
    // The window is the last min(n, length) tokens; a ring smaller than n is enough while it lost none of them.
    const window = Math.min(p.penalizeLastN, history.length);
    if (history.retained < window) {
      throw new InvalidArgumentError(
        `the penalty window needs the last ${window} tokens but the history holds ${history.retained} ` +
          `(capacity ${history.capacity}, penalizeLastN ${p.penalizeLastN}); call history.reserve(${p.penalizeLastN}) before pushing`,
      );
    }
    return window;
  }

  /** Dequantizes the row into `values`, applies the penalties, returns the argmax. */
  private prepareValues(view: LogitsView, history: TokenHistory | undefined, window: number): number {
    const { values } = this;
    let top = view.dequantizeInto(values);
    if (window > 0 && history !== undefined) {
      top = applyPenalties(values, top, history, window, this.current, this.counts);
      if (values[top] === Infinity || values[top] === -Infinity) {
        throw new InvalidArgumentError(
          `penalties turned the logit of token ${top} into ${values[top]}; check repetitionPenalty ${this.current.repetitionPenalty}`,
        );
      }
    }
    return top;
  }

  /**
   * Penalties, then top-k, top-p and min-p (the extension, last) into the survivor set; returns the best
   * token. Without penalties, top-k ranks the view's raw codes and dequantizes only the k winners.
   */
  private filter(view: LogitsView, history: TokenHistory | undefined, window: number): number {
    const p = this.current;
    const { values, survivors } = this;
    const topK = p.topK > 0 && p.topK < this.vocabSize;
    let top: number;
    if (topK && window === 0) {
      top = survivors.keepTopKOfView(view, p.topK, values);
    } else {
      top = this.prepareValues(view, history, window);
      // Today's keepTopK narrows the current set: start from the whole vocabulary, as the old one did.
      survivors.keepAll();
      if (topK) survivors.keepTopK(values, p.topK);
    }
    if (p.topP < 1) {
      survivors.topP = p.topP;
      survivors.temperature = 1;
      survivors.keepTopP(values, top);
    }
    if (p.minP > 0) survivors.keepMinP(values, top, p.minP, 1);
    return top;
  }
}
