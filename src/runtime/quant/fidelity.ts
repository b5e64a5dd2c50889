/**
 * Teacher-forced fidelity of a candidate model (e.g. a quantized export) against a reference (the
 * float model of the same weights): both engines are fed the reference's greedy tokens, so one early
 * difference does not decide the rest, and every step's logits rows are compared.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { LogitsView } from '../../sampler/logits-view.js';
import type { Engine } from '../engine/engine.js';

/** One turn: its prompt, and how many logits rows it compares (the prompt's last row, then `steps - 1` decodes). */
export interface FidelityTurn {
  readonly prompt: readonly number[];
  readonly steps: number;
}

export interface FidelityReport {
  /** Rows compared. */
  readonly steps: number;
  /** Per-row SQNR `10 log10(sum ref^2 / sum (ref - candidate)^2)` in dB (Infinity for an exact row). */
  readonly sqnrDb: readonly number[];
  readonly minSqnrDb: number;
  /** Mean of the per-row dB figures. */
  readonly meanSqnrDb: number;
  /** Rows whose reference top-1 margin exceeds two logits quantization steps of the candidate. */
  readonly decisiveSteps: number;
  /** Decisive rows where the candidate's top-1 is the reference's. */
  readonly decisiveAgreements: number;
  /** Rows (decisive or not) where the top-1 tokens agree. */
  readonly agreements: number;
  /** `steps - decisiveSteps`: near-ties the candidate's logits resolution cannot be expected to keep. */
  readonly ties: number;
}

/**
 * The spacing of the candidate's logits codes near `magnitude`: the encoding's scale for fixed point,
 * the float16 / float32 ulp for float rows.
 */
export function logitsStep(view: LogitsView, magnitude: number): number {
  if (view.dtype === 'UFIXED_POINT_8' || view.dtype === 'UFIXED_POINT_16') return view.encoding.scale;
  const mantissaBits = view.dtype === 'FLOAT_16' ? 10 : 23;
  const minExponent = view.dtype === 'FLOAT_16' ? -14 : -126;
  const exponent = Math.max(minExponent, Math.floor(Math.log2(Math.abs(magnitude) || 2 ** minExponent)));
  return 2 ** (exponent - mantissaBits);
}

/** SQNR in dB of `candidate` against `reference` (Infinity when equal). */
export function sqnrDb(reference: ArrayLike<number>, candidate: ArrayLike<number>): number {
  if (reference.length !== candidate.length) {
    throw new InvalidArgumentError(`reference has ${reference.length} values but candidate has ${candidate.length}`);
  }
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i] * reference[i];
    const e = reference[i] - candidate[i];
    noise += e * e;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}

/** The largest value of `row` other than `row[top]`. */
function runnerUp(row: Float32Array, top: number): number {
  let best = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== top && row[i] > best) best = row[i];
  return best;
}

class Tally {
  readonly sqnr: number[] = [];
  decisiveSteps = 0;
  decisiveAgreements = 0;
  agreements = 0;

  constructor(readonly row: Float32Array) {}

  report(): FidelityReport {
    const sqnr = this.sqnr;
    return {
      steps: sqnr.length,
      sqnrDb: sqnr,
      minSqnrDb: Math.min(...sqnr),
      meanSqnrDb: sqnr.reduce((a, b) => a + b, 0) / sqnr.length,
      decisiveSteps: this.decisiveSteps,
      decisiveAgreements: this.decisiveAgreements,
      agreements: this.agreements,
      ties: sqnr.length - this.decisiveSteps,
    };
  }
}

/**
 * Runs `turns` on the reference and every candidate from an empty cache (each engine is reset
 * first) and compares each candidate's logits with the reference's; one report per candidate. Turn
 * k > 0 feeds, as Genie's dialog does, the previous turn's last (unfed) token, `eosToken`, then its
 * prompt. Every token fed after a prompt is the reference's greedy choice.
 * @throws InvalidArgumentError for no turns or candidates, an empty prompt, a step count below 1,
 * an engine given twice, or engines with different vocabularies.
 */
export async function teacherForcedFidelity(
  reference: Engine,
  candidates: readonly Engine[],
  turns: readonly FidelityTurn[],
  eosToken: number,
): Promise<FidelityReport[]> {
  if (turns.length === 0) throw new InvalidArgumentError('turns must not be empty');
  if (candidates.length === 0) throw new InvalidArgumentError('candidates must not be empty');
  turns.forEach((turn, i) => {
    if (turn.prompt.length === 0) throw new InvalidArgumentError(`turns[${i}].prompt is empty`);
    if (!Number.isSafeInteger(turn.steps) || turn.steps < 1) {
      throw new InvalidArgumentError(`turns[${i}].steps must be a positive integer, got ${turn.steps}`);
    }
  });
  candidates.forEach((candidate, i) => {
    if (candidate === reference || candidates.indexOf(candidate) !== i) {
      throw new InvalidArgumentError(`candidates[${i}] is an engine already compared (each side needs an engine of its own)`);
    }
    if (candidate.vocabSize !== reference.vocabSize) {
      throw new InvalidArgumentError(
        `candidates[${i}] has vocabulary ${candidate.vocabSize}, the reference ${reference.vocabSize}`,
      );
    }
  });
  const engines = [reference, ...candidates];
  for (const engine of engines) engine.reset();
  const refRow = new Float32Array(reference.vocabSize);
  const tallies = candidates.map((c) => new Tally(new Float32Array(c.vocabSize)));
  let pending: number | undefined;
  for (const turn of turns) {
    const input = pending === undefined ? [...turn.prompt] : [pending, eosToken, ...turn.prompt];
    let views = await Promise.all(engines.map(async (engine) => (await engine.prefill(input))!));
    for (let step = 0; ; step++) {
      const top = views[0].dequantizeInto(refRow);
      const margin = refRow[top] - runnerUp(refRow, top);
      tallies.forEach((tally, i) => {
        const view = views[i + 1];
        const agree = view.dequantizeInto(tally.row) === top;
        tally.sqnr.push(sqnrDb(refRow, tally.row));
        if (agree) tally.agreements++;
        if (margin > 2 * logitsStep(view, refRow[top])) {
          tally.decisiveSteps++;
          if (agree) tally.decisiveAgreements++;
        }
      });
      if (step === turn.steps - 1) {
        pending = top;
        break;
      }
      views = await Promise.all(engines.map((engine) => engine.decode(top)));
    }
  }
  return tallies.map((tally) => tally.report());
}
