import { InvalidArgumentError } from '../errors.js';
import type { SamplerCallback } from './callbacks.js';
import { Candidates } from './candidates.js';
import { buildChain, checkParamsHaveStages, GENIE_STAGES, type ChainEntry } from './chain.js';
import { SamplerCallbackError } from './errors.js';
import type { BuiltinStage } from './genie-stages.js';
import type { LogitsView } from './logits-view.js';
import type { SamplerParams } from './params.js';
import { resolveInitialParams, resolveUpdate, type SamplerUpdate } from './resolve-params.js';
import { SeededRng, type RngState } from './rng.js';
import type { SamplerStage, StageContext } from './stage.js';
import { ChainState, type SamplerStageState } from './stage-state.js';
import type { TokenHistory } from './token-history.js';
import type { TopLogprobs } from './top-logprobs.js';

/**
 * A sampler built from stages (llama.cpp's `llama_sampler` chain; docs/genie-behaviour.md#sampler-chain):
 * the default chain is Genie's basic sampler, penalties -> top-k -> top-p -> (min-p, an extension) ->
 * temperature, then one seeded uniform draw. Stages edit the candidates in place; the draw ends the
 * chain unless a stage selected a token. Greedy (`temp <= 0 || topK == 1`) skips the stages that keep
 * the best token and takes the argmax: of the raw codes when no stage read the row. Scratch is
 * allocated once per vocabulary; the engine's logits buffer is only read.
 */
export class Sampler {
  readonly vocabSize: number;
  private current: SamplerParams;
  private callback: SamplerCallback | undefined;
  private readonly rng: SeededRng;
  private readonly candidates: Candidates;
  private readonly stages: readonly SamplerStage[];
  /** Where the chain is named in errors (`sampler.stages` of the config, or the API option). */
  private readonly chainPath: string;
  /** The stages a greedy draw still runs: those that may change which token is the best. */
  private readonly greedyStages: readonly SamplerStage[];
  private readonly context: { step: number; history: TokenHistory | undefined; rng: SeededRng; params: SamplerParams };
  /** The custom callback's buffer. */
  private customValues: Float32Array | null = null;
  /** The stateful stages' state, journaled per sampled token for rewinds. */
  private readonly chainState: ChainState;

  /**
   * @param stages the chain (default: Genie's); built-in stage specs and stage objects of the caller's,
   * which belong to this sampler from now on (their `reset` runs with its `reset`).
   * @param chainPath names the chain in errors
   */
  constructor(params: SamplerParams, vocabSize: number, stages: readonly ChainEntry[] = GENIE_STAGES, chainPath = 'sampler.stages') {
    if (!Number.isSafeInteger(vocabSize) || vocabSize < 1 || vocabSize > 0x7fffffff) {
      throw new InvalidArgumentError(`vocabSize must be a positive integer below 2^31, got ${String(vocabSize)}`);
    }
    const resolved = resolveInitialParams(params);
    this.stages = buildChain(stages, vocabSize, chainPath);
    this.chainPath = chainPath;
    if (resolved.params.type === 'basic') checkParamsHaveStages(resolved.params, this.stages, chainPath);
    this.greedyStages = this.stages.filter((stage) => !(stage as Partial<BuiltinStage>).preservesArgmax);
    this.vocabSize = vocabSize;
    this.current = resolved.params;
    this.callback = resolved.callback;
    this.rng = new SeededRng(resolved.params.seed);
    this.candidates = new Candidates(vocabSize);
    this.context = { step: 0, history: undefined, rng: this.rng, params: this.current };
    this.chainState = new ChainState(this.stages);
  }

  /** The parameters in force, `greedy` derived. */
  get params(): SamplerParams {
    return this.current;
  }

  /** The chain's stage names, in order (the draw that ends it is not a stage). */
  get stageNames(): readonly string[] {
    return this.stages.map((stage) => stage.name);
  }

  /**
   * Live reconfiguration (Genie's setParam + applyConfig). The merged parameters are validated first;
   * an invalid update changes nothing. A `seed` key, even an unchanged one, restarts the random sequence.
   */
  configure(update: SamplerUpdate): void {
    const resolved = resolveUpdate(this.current, update);
    if (resolved.params.type === 'basic') checkParamsHaveStages(resolved.params, this.stages, this.chainPath);
    this.current = resolved.params;
    this.callback = resolved.callback;
    this.context.params = resolved.params;
    if (Object.prototype.hasOwnProperty.call(update, 'seed')) this.rng.reseed(resolved.params.seed);
  }

  reseed(seed: number): void {
    this.configure({ seed });
  }

  /** Forgets the stages' per-dialog state (a dialog's reset); parameters and RNG are kept. */
  reset(): void {
    this.context.step = 0;
    for (const stage of this.stages) stage.reset?.();
    this.chainState.restart();
  }

  /** The chain's per-dialog state (a copy): the step counter, the stateful stages' state and its journal. */
  getStageState(): SamplerStageState {
    return this.chainState.snapshot(this.context.step);
  }

  /**
   * Puts back a `getStageState` of a sampler with the same stateful stages (`path` names it in
   * errors); checked first, nothing changes on an error.
   */
  setStageState(state: SamplerStageState, path = 'stage state'): void {
    this.chainState.restore(state, path);
    this.context.step = state.step;
  }

  /** Checks a `getStageState` against this chain without applying it (a restore reads everything first). */
  checkStageState(state: SamplerStageState, path = 'stage state'): void {
    const current = this.chainState.snapshot(this.context.step);
    this.chainState.restore(state, path);
    this.chainState.restore(current, path);
  }

  /**
   * The history was cut to its first `length` tokens (a REWIND query, dropped stop-sequence tokens):
   * the stateful stages take the state they had when it was that long. The RNG and step run on.
   */
  rewindStages(length: number): void {
    if (!Number.isSafeInteger(length) || length < 0) throw new InvalidArgumentError(`rewindStages needs a history length >= 0, got ${String(length)}`);
    this.chainState.rewind(length);
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
   * window and the stages' context; without it penalties do not apply. Only a non-greedy draw (and a
   * stage that asks) consumes uniforms. `logprobs`, when given, receives the distribution drawn from.
   * A custom sampler gets the plain dequantized row: its callback owns the whole policy.
   */
  sample(view: LogitsView, history?: TokenHistory, logprobs?: TopLogprobs): number {
    this.checkView(view);
    const p = this.current;
    if (p.type === 'custom') return this.observeSelected(this.sampleCustom(view), logprobs);
    const c = this.candidates;
    const context = this.context;
    context.history = history;
    c.begin(view);
    let token: number;
    if (p.greedy) {
      this.runStages(this.greedyStages);
      token = c.selected >= 0 ? c.selected : c.isRead ? c.best() : view.argmax();
      if (logprobs !== undefined) this.observeSelected(token, logprobs);
    } else {
      this.runStages(this.stages);
      token = c.selected >= 0 ? c.selected : this.draw(logprobs);
    }
    for (let i = 0; i < this.stages.length; i++) this.stages[i].accept?.(token, context);
    if (history !== undefined) this.chainState.record(history.length + 1);
    context.step++;
    return token;
  }

  /**
   * Inspection: writes the tokens left after the chain into `out` in sampling order (most likely
   * first) and returns how many. Greedy keeps one token. The RNG is left as it was (a stage may draw
   * from it) and no stage hears `accept`. Sorts and allocates: for debugging and tests, not the
   * per-token path.
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
    const rng = this.rng.getState();
    const c = this.candidates;
    this.context.history = history;
    c.begin(view);
    try {
      if (p.greedy) {
        this.runStages(this.greedyStages);
        out[0] = c.selected >= 0 ? c.selected : c.best();
        return 1;
      }
      this.runStages(this.stages);
      if (c.selected >= 0) {
        out[0] = c.selected;
        return 1;
      }
      return c.survivors.sortedInto(c.logits, out);
    } finally {
      this.rng.setState(rng);
    }
  }

  private runStages(stages: readonly SamplerStage[]): void {
    const c = this.candidates;
    for (let i = 0; i < stages.length && c.selected < 0; i++) stages[i].apply(c, this.context);
  }

  /** The inverse-CDF draw over what the chain left, at its temperature; reports the distribution when asked. */
  private draw(logprobs: TopLogprobs | undefined): number {
    const c = this.candidates;
    const values = c.logits;
    const top = c.best();
    const survivors = c.survivors;
    survivors.temperature = c.temperature;
    if (logprobs === undefined) return survivors.draw(values, top, this.rng);
    const t = c.temperature;
    const max = values[top];
    const logZ = Math.log(c.survivors.massOf(values, top, t));
    const n = c.survivors.bestInto(values, logprobs.n, logprobs.tokens);
    for (let i = 0; i < n; i++) logprobs.logprobs[i] = (values[logprobs.tokens[i]] - max) / t - logZ;
    logprobs.count = n;
    const token = survivors.draw(values, top, this.rng);
    logprobs.token = token;
    logprobs.logprob = (values[token] - max) / t - logZ;
    return token;
  }

  /** A point mass on `token` (greedy, a custom callback's pick). */
  private observeSelected(token: number, logprobs: TopLogprobs | undefined): number {
    if (logprobs !== undefined) {
      logprobs.count = 1;
      logprobs.tokens[0] = token;
      logprobs.logprobs[0] = 0;
      logprobs.token = token;
      logprobs.logprob = 0;
    }
    return token;
  }

  private checkView(view: LogitsView): void {
    if (view.vocab !== this.vocabSize) {
      throw new InvalidArgumentError(`logits view vocab ${view.vocab} does not match the sampler's vocabSize ${this.vocabSize}`);
    }
  }

  private sampleCustom(view: LogitsView): number {
    const { vocabSize } = this;
    const values = (this.customValues ??= new Float32Array(vocabSize));
    view.dequantizeInto(values);
    let token: number;
    try {
      token = (this.callback as SamplerCallback)(values, vocabSize);
    } catch (error) {
      throw new SamplerCallbackError(
        `sampler callback "${this.current.callbackName}" threw: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (!Number.isInteger(token) || token < 0 || token >= vocabSize) {
      throw new SamplerCallbackError(
        `sampler callback "${this.current.callbackName}" returned ${String(token)}; expected an integer token in [0, ${vocabSize})`,
      );
    }
    return token;
  }
}
