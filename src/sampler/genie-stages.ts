import { InvalidArgumentError } from '../errors.js';
import type { Candidates } from './candidates.js';
import { penaltiesAreNeutral, type PenaltyParams } from './penalties.js';
import { PenaltyWindow } from './penalty-window.js';
import { ranksBefore } from './rank.js';
import type { SamplerStage, StageContext } from './stage.js';

/**
 * The stages of Genie's basic sampler (docs/genie-behaviour.md#sampler-chain), each reading its
 * parameter from the sampler params in force, so `configureSampler` retunes a built chain. A stage
 * whose parameter is neutral does nothing (and reads nothing).
 */

/** A built-in stage: `preservesArgmax` when it never changes which token is the best (a greedy draw skips it). */
export interface BuiltinStage extends SamplerStage {
  readonly preservesArgmax: boolean;
}

/** Repetition, presence and frequency penalties over the last `penalizeLastN` tokens of the history. */
export class PenaltiesStage implements BuiltinStage {
  readonly name = 'penalties';
  readonly preservesArgmax = false;
  private readonly window: PenaltyWindow;
  private candidates: Candidates | null = null;
  private readonly inSet = (token: number): boolean => (this.candidates as Candidates).has(token);

  constructor(vocab: number) {
    this.window = new PenaltyWindow(vocab);
  }

  apply(c: Candidates, { history, params }: StageContext): void {
    if (history === undefined || params.penalizeLastN === 0 || penaltiesAreNeutral(params)) return;
    if (this.window.sync(history, params.penalizeLastN) === 0) return;
    if (c.canEditUnread(this.window.size)) {
      this.applyUnread(c, params);
      return;
    }
    const values = c.logits;
    const top = c.best();
    this.candidates = c;
    const best = this.window.apply(values, top, params, this.inSet);
    if (best < 0) return;
    // The best was penalised: any token may lead now. Otherwise it stays unless a penalised one passed it.
    const winner = this.window.penalizedTop ? c.survivors.best(values) : ranksBefore(values, best, top) ? best : top;
    if (values[winner] === Infinity || values[winner] === -Infinity) throw infiniteWinner(winner, values[winner], params);
    c.edited(winner);
  }

  /**
   * The penalties as edits of the unread row (the set is then the whole vocabulary). Its unedited
   * tokens are finite, so the best token after them is infinite only when an edit made +Infinity:
   * the lowest such token, the same error `apply` gives.
   */
  private applyUnread(c: Candidates, params: PenaltyParams): void {
    const window = this.window;
    const edited = c.editValues;
    let infinite = -1;
    for (let j = 0; j < window.size; j++) {
      const token = window.tokenAt(j);
      const at = c.editSlot(token);
      window.penalizeAt(edited, at, token, params);
      if (edited[at] === Infinity && (infinite < 0 || token < infinite)) infinite = token;
    }
    if (infinite >= 0) throw infiniteWinner(infinite, Infinity, params);
  }
}

function infiniteWinner(token: number, logit: number, params: PenaltyParams): InvalidArgumentError {
  return new InvalidArgumentError(`penalties turned the logit of token ${token} into ${logit}; check repetitionPenalty ${params.repetitionPenalty}`);
}

/** Keeps the `topK` most likely tokens (0 = off). Ranks raw codes when it is the first to read the row. */
export class TopKStage implements BuiltinStage {
  readonly name = 'top-k';
  readonly preservesArgmax = true;

  apply(c: Candidates, { params }: StageContext): void {
    if (params.topK > 0) c.keepTopK(params.topK);
  }
}

/** Nucleus: the smallest prefix of the sampling order whose mass reaches `topP` (1 = off). */
export class TopPStage implements BuiltinStage {
  readonly name = 'top-p';
  readonly preservesArgmax = true;

  apply(c: Candidates, { params }: StageContext): void {
    if (params.topP < 1) c.keepTopP(params.topP);
  }
}

/** Min-p (a genie-ts extension): drops tokens below `minP` times the best probability (0 = off). */
export class MinPStage implements BuiltinStage {
  readonly name = 'min-p';
  readonly preservesArgmax = true;

  apply(c: Candidates, { params }: StageContext): void {
    if (params.minP <= 0) return;
    const values = c.logits;
    c.survivors.keepMinP(values, c.best(), params.minP, c.temperature);
  }
}

/** Sets the temperature the draw (and any later stage) takes probabilities at. */
export class TemperatureStage implements BuiltinStage {
  readonly name = 'temperature';
  readonly preservesArgmax = true;

  apply(c: Candidates, { params }: StageContext): void {
    c.temperature = params.temp;
  }
}
